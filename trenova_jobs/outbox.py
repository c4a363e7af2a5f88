"""The outbox: records pushed to Redis after commit, pending ones pushed by the dispatcher, lost ones found.

- ``push_after_commit``: the push a committed ``enqueue()`` makes, with a short timeout of its own and a
  back-off after a failure (request processes then leave new records to the dispatcher).
- ``dispatch_pending``: every worker's sweep (and ``manage.py dispatch_jobs``) pushes pending records.
- ``lost_records_reset``: waiting records whose rq job Redis lacks go back to pending.
Pushes are idempotent: a record is claimed before it is pushed, and a job rq holds live is never pushed
again (see docs/decisions.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus as RqStatus

from trenova_jobs.conf import setting_int
from trenova_jobs.holds import delayed_holds
from trenova_jobs.logs import log_event, log_job
from trenova_jobs.models import WAITING_STATUSES, JobRecord, JobStatus
from trenova_jobs.queues import backoff_intervals, push_connection, queue_get, redis_connection, rq_due_time
from trenova_jobs.rq_compat import (
    RUN_FUNCTION,
    job_delete_in,
    job_enqueue_in,
    job_push_unless_live,
    job_schedule_in,
)
from trenova_jobs.transitions import (
    record_attempt_failed,
    record_claim_for_push,
    record_to_outbox,
    record_unclaim,
    records_to_outbox,
    sanitize_text,
)

# A push this soon after enqueue() cannot race the lost-record sweep, which waits a minute (with margin for
# clocks and slow pushes); a later one, after a long transaction, must check that nobody pushed it meanwhile.
_UNCONTESTED_PUSH = timedelta(seconds=30)


class _PushPause:
    """After a failed push, request processes skip pushing for a while (the records wait in the outbox).

    A hung or unreachable Redis then costs one short timeout (``TRENOVA_JOBS_PUSH_TIMEOUT_MS``) per
    ``TRENOVA_JOBS_PUSH_BACKOFF`` seconds, not one per save.
    """

    def __init__(self) -> None:
        self._until = 0.0

    def active(self) -> bool:
        return time.monotonic() < self._until

    def start(self) -> None:
        self._until = time.monotonic() + setting_int("TRENOVA_JOBS_PUSH_BACKOFF")

    def clear(self) -> None:
        self._until = 0.0


_push_pause = _PushPause()


def push_paused() -> bool:
    """True while request processes leave new records to the dispatcher (a push failed a moment ago)."""
    return _push_pause.active()


def push_pause_clear() -> None:
    """Forget a push back-off (tests)."""
    _push_pause.clear()


def push_after_commit(record: JobRecord) -> None:
    """Push a just-committed record; if Redis is unreachable (or was a moment ago), leave it to the outbox."""
    scheduled = record.status == JobStatus.SCHEDULED
    if _push_pause.active():
        record_to_outbox(record=record, reason="push_backoff")
        return
    try:
        connection = push_connection(record.queue)
        if record.enqueued_at is not None and timezone.now() - record.enqueued_at < _UNCONTESTED_PUSH:
            _rq_enqueue(record, scheduled=scheduled, connection=connection)
        elif not _rq_push_once(record, scheduled=scheduled, connection=connection):
            log_job("push_skipped", record, reason="pushed_by_dispatcher")
            return
    except RedisError as exc:
        _push_pause.start()
        record_to_outbox(record=record, reason=f"push_failed error={type(exc).__name__} detail={str(exc)[:200]}")
        return
    delayed_holds.remember(record)
    log_job("enqueued", record, scheduled_for=record.scheduled_for.isoformat() if record.scheduled_for else "-")


def record_push(record: JobRecord) -> bool:
    """Push a pending record to Redis. Safe to call twice: only the caller that claims it pushes.

    Returns True when the record is now queued or scheduled in Redis (pushed by this call, or found there
    already); False when another caller claimed it, or (leaving it pending for the dispatcher) when Redis
    cannot be reached.
    """
    return _record_push(record) in (_PUSHED, _ALREADY_LIVE)


_PUSHED, _ALREADY_LIVE, _NOT_CLAIMED, _REDIS_DOWN = "pushed", "already_live", "not_claimed", "redis_down"


def _record_push(record: JobRecord) -> str:
    target = record_claim_for_push(record=record, now=timezone.now())
    if target is None:
        return _NOT_CLAIMED
    try:
        pushed = _rq_push_once(record, scheduled=target == JobStatus.SCHEDULED)
    except RedisError as exc:
        record_unclaim(record=record)
        log_job("push_failed", record, logging.WARNING, error=type(exc).__name__, detail=str(exc)[:200])
        return _REDIS_DOWN
    if not pushed:
        # Pushed already: a slow commit's own push that the lost-record sweep did not see in time.
        log_job("push_skipped", record, reason="rq_job_live")
        return _ALREADY_LIVE
    log_job("enqueued", record, scheduled_for=record.scheduled_for.isoformat() if record.scheduled_for else "-")
    return _PUSHED


def _rq_push_once(record: JobRecord, *, scheduled: bool, connection: Any = None) -> bool:
    """Push the record's job unless rq holds it live already; False when it does (or a racer pushed it).

    Check and push are one Redis transaction (``rq_compat.job_push_unless_live``), so of two racing pushers
    exactly one pushes. A finished or failed rq job of the same id (an earlier run, before job_retry) is
    replaced.
    """
    queue = queue_get(record.queue, connection=connection)
    return job_push_unless_live(
        queue,
        record.id,
        old_job=lambda: rq_job_fetch(record),
        push=lambda pipe: _rq_enqueue(record, scheduled=scheduled, pipeline=pipe, connection=connection),
    )


def _rq_enqueue(record: JobRecord, *, scheduled: bool, pipeline: Pipeline | None = None, connection: Any = None) -> Job:
    queue = queue_get(record.queue, connection=connection)
    cap = setting_int("TRENOVA_JOBS_RETRY_BACKOFF_CAP")
    job = queue.create_job(
        RUN_FUNCTION,
        args=(record.id,),
        job_id=record.id,
        timeout=record.timeout,
        result_ttl=setting_int("TRENOVA_JOBS_RESULT_TTL"),
        failure_ttl=setting_int("TRENOVA_JOBS_FAILURE_TTL"),
        description=f"{record.job_type} {record.id}",
        retry=Retry(max=record.max_retries, interval=backoff_intervals(record.max_retries, cap))
        if record.max_retries
        else None,
        meta={"job_type": record.job_type},
        status=RqStatus.SCHEDULED if scheduled else RqStatus.QUEUED,
    )
    if scheduled:
        if record.scheduled_for is None:
            raise ValueError(f"Job {record.id} is to be scheduled but has no due time.")
        due = rq_due_time(record.scheduled_for.timestamp())
        if pipeline is not None:
            return job_schedule_in(queue, job, due, pipeline)
        return queue.schedule_job(job, due)
    # Not enqueue_job(): inside the caller's transaction it would call MULTI a second time (its dependency
    # set-up does). Our jobs have no dependencies; job_enqueue_in() also wakes an idle worker, in the same
    # one round trip as enqueue_job's own.
    if pipeline is not None:
        return job_enqueue_in(queue, job, pipeline)
    with queue.connection.pipeline() as pipe:
        job_enqueue_in(queue, job, pipe)
        pipe.execute()
    return job


@dataclass(frozen=True)
class DispatchResult:
    pushed: int
    still_pending: int
    failed: int = 0


def dispatch_pending(*, limit: int | None = None, min_age_seconds: float = 2.0) -> DispatchResult:
    """Push pending records whose after-commit push did not happen (Redis was down, process died).

    Records younger than ``min_age_seconds`` are left to their own on-commit push. Oldest first, at most
    ``limit`` (``TRENOVA_JOBS_DISPATCH_BATCH``) per call. Stops at the first Redis failure: the rest stay
    pending for the next pass. A record that cannot be pushed for a reason of its own (its queue is no
    longer configured, say) is failed with that reason, and the pass goes on. A record another
    dispatcher claimed first is skipped.
    """
    batch = limit or setting_int("TRENOVA_JOBS_DISPATCH_BATCH")
    cutoff = timezone.now() - timedelta(seconds=min_age_seconds)
    pending = JobRecord.objects.filter(status=JobStatus.PENDING, created_at__lte=cutoff).order_by("created_at")
    pushed = failed = 0
    for record in pending[:batch]:
        try:
            outcome = _record_push(record)
        except Exception as exc:
            if record_unpushable(record=record, error=f"{type(exc).__name__}: {exc}"):
                failed += 1
            continue
        if outcome == _PUSHED:
            pushed += 1
        elif outcome == _REDIS_DOWN:
            break
    remaining = JobRecord.objects.filter(status=JobStatus.PENDING).count()
    return DispatchResult(pushed=pushed, still_pending=remaining, failed=failed)


def record_unpushable(*, record: JobRecord, error: str) -> bool:
    """Fail a pending (or just claimed) record that can never be pushed; True if this call failed it."""
    message = f"The job could not be queued: {error}"
    written = record_attempt_failed(
        record_id=record.id,
        error=message,
        will_retry=False,
        statuses=(JobStatus.PENDING, JobStatus.QUEUED, JobStatus.SCHEDULED),
    )
    if written is None:
        return False
    log_job("push_refused", record, logging.ERROR, error=sanitize_text(error)[:200])
    return True


# Where the lost-job sweep has got to, shared by every worker: it walks all waiting records, oldest first.
LOST_SWEEP_CURSOR_KEY = "trenova:lost_sweep:cursor"


def lost_records_reset(*, min_age_seconds: int | None = None, limit: int | None = None) -> int:
    """Mark pending again the waiting records (queued, scheduled, retrying) whose rq job Redis lacks.

    That happens when a process dies between its commit and its push, and when Redis loses its data
    (a restart without persistence): every such record is found, however old and however many. Each call
    checks the next ``limit`` records after a cursor kept in Redis (so the workers share the walk), in id
    order, i.e. oldest first, and starts again from the oldest when it reaches the end; records pushed in
    the last minute are left to their own push. Returns how many records were reset.
    """
    batch = limit or setting_int("TRENOVA_JOBS_LOST_SWEEP_BATCH")
    if min_age_seconds is None:
        min_age_seconds = setting_int("TRENOVA_JOBS_LOST_SWEEP_MIN_AGE")
    connection = redis_connection()
    cursor = (connection.get(LOST_SWEEP_CURSOR_KEY) or b"").decode()
    young = timezone.now() - timedelta(seconds=min_age_seconds)
    rows = JobRecord.objects.filter(status__in=WAITING_STATUSES, id__gt=cursor).order_by("id")
    candidates = list(rows.values_list("id", "queue", "enqueued_at")[:batch])
    if len(candidates) < batch:
        connection.delete(LOST_SWEEP_CURSOR_KEY)  # the end: the next pass starts from the oldest again
    else:
        connection.set(LOST_SWEEP_CURSOR_KEY, candidates[-1][0], ex=24 * 3600)
    checked = [(job_id, queue) for job_id, queue, enqueued in candidates if enqueued is None or enqueued <= young]
    if not checked:
        return 0
    lost: list[str] = []
    for queue_name in {queue for _, queue in checked}:
        ids = [job_id for job_id, queue in checked if queue == queue_name]
        if queue_name not in settings.RQ_QUEUES:
            lost += ids  # pending again, the dispatcher fails them with a clear error
            continue
        with redis_connection(queue_name).pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.exists(Job.key_for(job_id))
            lost += [job_id for job_id, exists in zip(ids, pipe.execute(), strict=True) if not exists]
    if not lost:
        return 0
    reset = records_to_outbox(record_ids=lost)
    if reset:
        log_event("lost_records_reset", logging.WARNING, count=reset)
    return reset


def rq_job_fetch(record: JobRecord) -> Job | None:
    queue = queue_get(record.queue)
    try:
        return Job.fetch(record.id, connection=queue.connection, serializer=queue.serializer)
    except NoSuchJobError:
        return None


def rq_job_delete(record: JobRecord) -> None:
    """Remove the record's rq job from its queue, every registry and its results, if it exists."""
    job = rq_job_fetch(record)
    if job is None:
        return
    queue = queue_get(record.queue)
    with queue.connection.pipeline() as pipe:
        job_delete_in(pipe, job, queue)
        pipe.execute()


def redis_ping() -> bool:
    try:
        return bool(redis_connection().ping())
    except RedisError:
        return False
