"""Job-service settings with their defaults and allowed ranges, checked when read."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# name: (default, minimum, maximum)
_INT_SETTINGS: dict[str, tuple[int, int, int]] = {
    # Longest wait between two attempts, whatever 2^n says.
    "TRENOVA_JOBS_RETRY_BACKOFF_CAP": (3600, 1, 7 * 24 * 3600),
    # How often each worker pushes outbox records, sweeps for lost jobs and settles stuck records.
    "TRENOVA_JOBS_MAINTENANCE_INTERVAL": (10, 1, 600),
    # How often each worker looks for dead workers' jobs (one cheap Redis call; idle or busy alike).
    "TRENOVA_JOBS_RECOVERY_INTERVAL": (2, 1, 60),
    # A worker (or work horse) is presumed dead this long after its last liveness beat (beats: TTL/4).
    "TRENOVA_JOBS_WORKER_LIVENESS_TTL": (10, 3, 300),
    # How often an idle worker serving several queues looks at them again (one atomic Redis script).
    "TRENOVA_JOBS_IDLE_POLL_MS": (50, 5, 2000),
    # rq's own registry clean-up (its maintenance), in seconds; trenova's sweeps run on their own clocks.
    "TRENOVA_JOBS_RQ_MAINTENANCE_INTERVAL": (300, 10, 3600),
    # The push after commit, on a request's hot path, gives up after this long...
    "TRENOVA_JOBS_PUSH_TIMEOUT_MS": (250, 20, 5000),
    # ...and after a failed push, request processes leave new records to the outbox for this long.
    "TRENOVA_JOBS_PUSH_BACKOFF": (5, 0, 300),
    # The lost-job sweep leaves records pushed in the last this many seconds to their own push.
    "TRENOVA_JOBS_LOST_SWEEP_MIN_AGE": (60, 1, 3600),
    # Records checked against Redis per maintenance pass by the lost-job sweep (it walks them all).
    "TRENOVA_JOBS_LOST_SWEEP_BATCH": (2000, 10, 100_000),
    # rq's worker TTL; its idle dequeue blocks for (this - 15) s, which bounds the maintenance delay.
    "TRENOVA_JOBS_WORKER_TTL": (30, 16, 600),
    # How long rq keeps successful results and failed jobs (the JobRecord keeps them for good). At least a
    # quarter of an hour: the outcome is read back from Redis to be recorded, by the worker as soon as its
    # work horse exits, or by the reconciler 30 s (plus a maintenance interval) later.
    "TRENOVA_JOBS_RESULT_TTL": (3600, 900, 30 * 24 * 3600),
    "TRENOVA_JOBS_FAILURE_TTL": (7 * 24 * 3600, 900, 365 * 24 * 3600),
    "TRENOVA_JOBS_MAX_RETRIES_LIMIT": (25, 0, 100),
    # How often each worker's schedule ticker looks for due fire times.
    "TRENOVA_JOBS_SCHEDULE_TICK": (5, 1, 60),
    # A fire time counts as on time this long after it (the late flag, and catch-up "none"); a schedule whose
    # due fire has not been claimed by then is late.
    "TRENOVA_JOBS_SCHEDULE_GRACE": (60, 5, 3600),
    # Most older fires recorded as missed after downtime, per schedule and tick (the rest are counted).
    "TRENOVA_JOBS_SCHEDULE_MISSED_LIMIT": (50, 1, 10_000),
    "TRENOVA_JOBS_DISPATCH_BATCH": (500, 1, 100_000),
    # system:cleanup_temp_files deletes regular files under TRENOVA_TEMP_DIR last modified longer ago than this.
    "TRENOVA_TEMP_MAX_AGE_HOURS": (24, 1, 365 * 24),
    # system:prune_job_records deletes finished job records whose finished_at is older than this.
    "TRENOVA_JOBS_RECORD_RETENTION_DAYS": (30, 1, 3650),
}
DEQUEUE_STRATEGIES = ("weighted", "strict")


def setting_int(name: str) -> int:
    default, minimum, maximum = _INT_SETTINGS[name]
    value = getattr(settings, name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise ImproperlyConfigured(f"{name} must be an integer between {minimum} and {maximum}; got {value!r}.")
    return value


def dequeue_strategy() -> str:
    value = getattr(settings, "TRENOVA_JOBS_DEQUEUE_STRATEGY", "weighted")
    if value not in DEQUEUE_STRATEGIES:
        raise ImproperlyConfigured(
            f"TRENOVA_JOBS_DEQUEUE_STRATEGY must be one of {', '.join(DEQUEUE_STRATEGIES)}; got {value!r}."
        )
    return value


def queue_weights() -> dict[str, int]:
    weights = getattr(settings, "TRENOVA_JOBS_QUEUE_WEIGHTS", None)
    if not isinstance(weights, dict) or not weights:
        raise ImproperlyConfigured("TRENOVA_JOBS_QUEUE_WEIGHTS must be a non-empty dict of queue name -> weight.")
    for name, weight in weights.items():
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
            raise ImproperlyConfigured(f"TRENOVA_JOBS_QUEUE_WEIGHTS[{name!r}] must be a positive integer.")
    missing = [name for name in weights if name not in settings.RQ_QUEUES]
    if missing:
        raise ImproperlyConfigured(f"Queues {missing} are weighted but missing from RQ_QUEUES.")
    return dict(weights)


def temp_dir() -> str:
    """``TRENOVA_TEMP_DIR``, the directory system:cleanup_temp_files sweeps; default ``<BASE_DIR>/var/tmp``.

    Only its type is checked here; the cleanup itself refuses a relative path or the filesystem root.
    """
    value = getattr(settings, "TRENOVA_TEMP_DIR", None)
    if value is None:
        base = getattr(settings, "BASE_DIR", None)
        if base is None:
            raise ImproperlyConfigured("TRENOVA_TEMP_DIR is not set, and there is no BASE_DIR to default to.")
        return os.path.join(os.fspath(base), "var", "tmp")
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise ImproperlyConfigured(f"TRENOVA_TEMP_DIR must be a non-empty path string; got {value!r}.")
    return str(os.fspath(value))
