"""Read-only views of the job system: queue depths, live workers, health."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.utils import Error as DatabaseError
from redis.exceptions import RedisError

from trenova_jobs.conf import queue_weights
from trenova_jobs.queues import queue_get, redis_connection
from trenova_jobs.recovery import live_worker_names


@dataclass(frozen=True)
class QueueStats:
    name: str
    weight: int
    queued: int
    started: int
    scheduled: int
    failed: int


def queue_stats_list() -> list[QueueStats]:
    """Depth of every configured queue and its registries (raises RedisError when Redis is down)."""
    stats = []
    for name, weight in queue_weights().items():
        queue = queue_get(name)
        stats.append(
            QueueStats(
                name=name,
                weight=weight,
                queued=queue.count,
                started=queue.started_job_registry.count,
                scheduled=queue.scheduled_job_registry.count,
                failed=queue.failed_job_registry.count,
            )
        )
    return stats


def workers_alive() -> list[str]:
    return live_worker_names(redis_connection())


@dataclass(frozen=True)
class Health:
    database: bool
    redis: bool
    workers: int
    errors: dict[str, str]

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
    redis_ok, workers = True, 0
    try:
        redis_connection().ping()
        workers = len(workers_alive())
        if workers == 0:
            errors["workers"] = "no live worker (start one with: manage.py rqworker)"
    except RedisError as exc:
        redis_ok = False
        errors["redis"] = str(exc)[:200]
    return Health(database=database, redis=redis_ok, workers=workers, errors=errors)
