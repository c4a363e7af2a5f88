"""Read-only views of the job system: queue depths, live workers, health."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import connection
from django.db.utils import Error as DatabaseError
from redis.exceptions import RedisError

from trenova_jobs.conf import queue_weights, setting_int
from trenova_jobs.liveness import live_worker_names
from trenova_jobs.logs import log_event
from trenova_jobs.queues import queue_get, redis_connection


@dataclass(frozen=True)
class QueueStats:
    name: str
    weight: int
    queued: int
    started: int
    scheduled: int
    failed: int


def queue_stats_list() -> list[QueueStats]:
    """Depth of every configured queue and its registries (raises RedisError when Redis is down).

    Plain LLEN/ZCARD in one round trip: rq's ``registry.count`` would first run its clean-up, which moves
    jobs without telling their records (and fires failure callbacks).
    """
    weights = queue_weights()
    queues = [queue_get(name) for name in weights]
    with redis_connection().pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.llen(queue.key)
            pipe.zcard(queue.started_job_registry.key)
            pipe.zcard(queue.scheduled_job_registry.key)
            pipe.zcard(queue.failed_job_registry.key)
        counts = pipe.execute()
    return [
        QueueStats(name=q.name, weight=weights[q.name], queued=c[0], started=c[1], scheduled=c[2], failed=c[3])
        for q, c in zip(queues, (counts[i : i + 4] for i in range(0, len(counts), 4)), strict=True)
    ]


def workers_alive() -> list[str]:
    """Names of the workers whose liveness beat is fresh (one ZRANGEBYSCORE, no keyspace scan)."""
    return live_worker_names(redis_connection(), setting_int("TRENOVA_JOBS_WORKER_LIVENESS_TTL"))


@dataclass(frozen=True)
class Health:
    database: bool
    redis: bool
    workers: int
    errors: dict[str, str]
    late_schedules: list[str] = field(default_factory=list)  # reported, but not a reason to answer 503

    @property
    def ok(self) -> bool:
        return self.database and self.redis and self.workers > 0


def health_check() -> Health:
    errors: dict[str, str] = {}
    database = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        database = False
        errors["database"] = str(exc)[:200]
        log_event("health_database_down", logging.WARNING, error=errors["database"])
    redis_ok, workers = True, 0
    try:
        redis_connection().ping()
        workers = len(workers_alive())
        if workers == 0:
            errors["workers"] = "no live worker (start one with: manage.py rqworker)"
    except RedisError as exc:
        redis_ok = False
        errors["redis"] = str(exc)[:200]
        log_event("health_redis_down", logging.WARNING, error=errors["redis"])
    late: list[str] = []
    if database:
        from trenova_jobs.schedules import schedule_states  # the schedules import the enqueue path

        try:
            late = [state.schedule.name for state in schedule_states() if state.late]
        except DatabaseError as exc:
            errors["schedules"] = str(exc)[:200]
    return Health(database=database, redis=redis_ok, workers=workers, errors=errors, late_schedules=late)
