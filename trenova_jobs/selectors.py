"""Read-only views of the job system: queue depths, live workers, health, and the operator's overview."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Count, Min
from django.db.models.functions import TruncMinute
from django.db.utils import Error as DatabaseError
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Worker

from trenova_jobs.conf import queue_weights, setting_int
from trenova_jobs.liveness import live_worker_names
from trenova_jobs.logs import log_event
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.progress import Progress, jobs_progress
from trenova_jobs.queues import queue_get, redis_connection

if TYPE_CHECKING:
    from trenova_jobs.schedules import ScheduleState


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


def queue_workers(*, alive: list[str] | None = None) -> dict[str, list[str]]:
    """The live workers serving each configured queue (raises RedisError when Redis is down).

    rq registers every worker under each queue it listens on; a killed worker's registration lingers
    until rq cleans it up, so only the names whose liveness beat is fresh (``alive``) count.
    """
    live = set(workers_alive() if alive is None else alive)
    serving: dict[str, list[str]] = {}
    for name in queue_weights():
        queue = queue_get(name)
        keys = Worker.all_keys(connection=queue.connection, queue=queue)
        names = {key.removeprefix(Worker.redis_worker_namespace_prefix) for key in keys}
        serving[name] = sorted(names & live)
    return serving


# --- The operator's overview --------------------------------------------------------------------------

THROUGHPUT_OUTCOMES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class Throughput:
    """Jobs that reached a final status in each minute of a window, by status."""

    minutes: list[datetime]  # the start of each minute, oldest first; the last is the current minute
    counts: dict[str, list[int]]  # final status -> one count per minute, in ``minutes`` order

    @property
    def totals(self) -> dict[str, int]:
        return {status: sum(values) for status, values in self.counts.items()}


def job_throughput(*, minutes: int = 60, now: datetime | None = None) -> Throughput:
    """Jobs finished per minute over the last ``minutes`` minutes (the current one included), by outcome.

    One query: ``date_trunc('minute', finished_at)`` grouped with the status.
    """
    end = (now or timezone.now()).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes)
    rows = (
        JobRecord.objects.filter(status__in=THROUGHPUT_OUTCOMES, finished_at__gte=start, finished_at__lt=end)
        .annotate(minute=TruncMinute("finished_at"))
        .order_by()
        .values("minute", "status")
        .annotate(n=Count("id"))
    )
    counts = {str(status): [0] * minutes for status in THROUGHPUT_OUTCOMES}
    for row in rows:
        # Bucket by offset from the start: the same whichever time zone the database truncated in.
        index = int((row["minute"] - start).total_seconds() // 60)
        if 0 <= index < minutes:
            counts[row["status"]][index] += row["n"]
    return Throughput(minutes=[start + timedelta(minutes=i) for i in range(minutes)], counts=counts)


@dataclass(frozen=True)
class RunningJob:
    id: str
    job_type: str
    queue: str
    attempts: int
    started_at: datetime | None
    progress: Progress | None  # as its handler last reported (None: it reports none)


def jobs_running(*, limit: int) -> list[RunningJob]:
    """The longest-running jobs (one query) with their progress (one Redis round trip; none if Redis is down)."""
    rows = list(
        JobRecord.objects.filter(status=JobStatus.RUNNING)
        .order_by("started_at")
        .values_list("id", "job_type", "queue", "attempts", "started_at")[:limit]
    )
    progress = jobs_progress([row[0] for row in rows])
    return [RunningJob(*row, progress=progress.get(row[0])) for row in rows]


@dataclass(frozen=True)
class JobFailure:
    id: str
    job_type: str
    queue: str
    error: str  # the first line of the last error, shortened
    attempts: int
    finished_at: datetime | None


ERROR_SUMMARY_LENGTH = 160


def error_summary(error: str) -> str:
    """The first non-empty line of an error, at most ``ERROR_SUMMARY_LENGTH`` characters."""
    line = next((line.strip() for line in error.splitlines() if line.strip()), "")
    return line if len(line) <= ERROR_SUMMARY_LENGTH else line[: ERROR_SUMMARY_LENGTH - 1] + "…"


def job_failures_recent(*, limit: int = 10) -> list[JobFailure]:
    """The latest failed jobs, last to fail first (read in order from ``job_record_finished_idx``)."""
    rows = (
        JobRecord.objects.filter(status=JobStatus.FAILED, finished_at__isnull=False)  # the index's condition
        .order_by("-finished_at", "-created_at")
        .values("id", "job_type", "queue", "error", "attempts", "finished_at")[:limit]
    )
    return [
        JobFailure(
            id=row["id"],
            job_type=row["job_type"],
            queue=row["queue"],
            error=error_summary(row["error"]),
            attempts=row["attempts"],
            finished_at=row["finished_at"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class OutboxBacklog:
    """Records written but not yet pushed to Redis (the outbox), and when the oldest was written."""

    pending: int
    oldest_created_at: datetime | None

    def oldest_age(self, now: datetime) -> timedelta | None:
        return now - self.oldest_created_at if self.oldest_created_at else None


def outbox_backlog() -> OutboxBacklog:
    """One aggregate over the (status, created_at) index."""
    row = JobRecord.objects.filter(status=JobStatus.PENDING).aggregate(n=Count("id"), oldest=Min("created_at"))
    return OutboxBacklog(pending=row["n"], oldest_created_at=row["oldest"])


@dataclass(frozen=True)
class OperationsOverview:
    """What the operator dashboard shows of the job system, read in a bounded number of queries.

    With Redis down, ``redis_error`` says why and the Redis parts are empty (``queues``, ``workers``,
    ``queue_workers``); the database parts are read all the same.
    """

    now: datetime
    queues: list[QueueStats]
    workers: list[str]  # live workers (fresh liveness beat)
    queue_workers: dict[str, list[str]]  # queue -> the live workers serving it
    redis_error: str
    throughput: Throughput
    failures: list[JobFailure]
    outbox: OutboxBacklog
    schedules: list[ScheduleState]
    running: list[RunningJob]

    @property
    def redis_ok(self) -> bool:
        return not self.redis_error

    @property
    def no_worker_alive(self) -> bool:
        """Redis answered and no worker beats (unknown, so False, while Redis is down)."""
        return self.redis_ok and not self.workers

    @property
    def late_schedules(self) -> list[ScheduleState]:
        return [state for state in self.schedules if state.late]


def operations_overview(
    *, failures: int = 10, running: int = 10, minutes: int = 60, now: datetime | None = None
) -> OperationsOverview:
    """Queues and workers (Redis), throughput, recent failures, the outbox, the schedules (database) and the
    running jobs with their progress."""
    from trenova_jobs.schedules import schedule_states  # the schedules import the enqueue path

    moment = now or timezone.now()
    queues: list[QueueStats] = []
    workers: list[str] = []
    serving: dict[str, list[str]] = {}
    redis_error = ""
    try:
        queues = queue_stats_list()
        workers = workers_alive()
        serving = queue_workers(alive=workers)
    except RedisError as exc:
        queues, workers, serving = [], [], {}
        redis_error = str(exc)[:200] or type(exc).__name__
        log_event("overview_redis_down", logging.WARNING, error=redis_error)
    return OperationsOverview(
        now=moment,
        queues=queues,
        workers=workers,
        queue_workers=serving,
        redis_error=redis_error,
        throughput=job_throughput(minutes=minutes, now=moment),
        failures=job_failures_recent(limit=failures),
        outbox=outbox_backlog(),
        schedules=schedule_states(now=moment),
        running=jobs_running(limit=running),
    )
