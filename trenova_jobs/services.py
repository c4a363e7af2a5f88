"""The job service: the one place that enqueues, and the only writer of JobRecord state.

Other apps call ``enqueue``; the worker calls the ``record_*`` transitions. Enqueueing is transactional
(an outbox): the record is written in the caller's transaction and pushed to Redis after commit, so a
rollback leaves no job and a Redis outage leaves a ``pending`` record for the dispatcher to push later.
"""

from __future__ import annotations

import calendar
import contextlib
import copy
import json
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from redis.client import Pipeline
from redis.exceptions import RedisError, WatchError
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus as RqStatus
from rq.registry import ScheduledJobRegistry
from rq.results import Result

from trenova_jobs.conf import setting_int
from trenova_jobs.errors import JobError, JobStateError
from trenova_jobs.models import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    WAITING_STATUSES,
    JobRecord,
    JobStatus,
    job_id_new,
)
from trenova_jobs.payloads import JobPayload, payload_parse, payload_to_json
from trenova_jobs.queues import backoff_intervals, push_connection, queue_get, redis_connection, rq_due_time
from trenova_jobs.registry import registry_get
from trenova_jobs.rq_compat import RUN_FUNCTION, job_enqueue_in
from trenova_jobs.signals import job_failed, job_succeeded
from trenova_jobs.stats import outcome_count

logger = logging.getLogger("trenova_jobs")

# The statuses an attempt's outcome is written over, unless a caller says otherwise.
RUNNING_ONLY = (JobStatus.RUNNING,)
# ...and where the attempt may never have been marked started (the database was down as it began).
UNMARKED_ATTEMPT = (JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.RETRYING)


def _log(event: str, record: JobRecord, level: int = logging.INFO, **fields: Any) -> None:
    """One structured line per job event: ``event=... job_id=... job_type=... queue=... attempt=...``."""
    parts = {
        "event": event,
        "job_id": record.id,
        "job_type": record.job_type,
        "queue": record.queue,
        "attempt": record.attempts,
        **fields,
    }
    logger.log(level, " ".join(f"{k}={v}" for k, v in parts.items()), extra={"job": parts})


# --- Enqueue ---------------------------------------------------------------------------------------


def enqueue(
    job_type: str,
    payload: dict[str, Any] | JobPayload | None = None,
    *,
    delay: timedelta | float | None = None,
    at: datetime | None = None,
    unique_key: str | None = None,
    unique_ttl: int | None = None,
    queue: str | None = None,
    max_retries: int | None = None,
    timeout: int | None = None,
    user: AbstractBaseUser | int | None = None,
    organization_id: int | None = None,
    business_unit_id: int | None = None,
) -> JobRecord:
    """Record a job and push it to Redis once the surrounding transaction commits.

    Returns the new record, or — when ``unique_key`` is held by an active job — that job's record with
    ``deduplicated=True`` (nothing new is written or enqueued). Raises ``UnknownJobTypeError`` or
    ``PayloadValidationError`` (before writing anything) and ``ValueError`` for bad options.
    """
    spec = registry_get(job_type)
    parsed = payload_parse(job_type, spec.payload, payload)
    now = timezone.now()
    scheduled_for = _due_time(now, delay=delay, at=at)
    queue_name = queue or spec.queue
    queue_get(queue_name)  # validates the name
    retries = spec.max_retries if max_retries is None else max_retries
    retries_limit = setting_int("TRENOVA_JOBS_MAX_RETRIES_LIMIT")
    if not isinstance(retries, int) or not 0 <= retries <= retries_limit:
        raise ValueError(f"max_retries must be an integer between 0 and {retries_limit}; got {retries!r}.")
    job_timeout = spec.timeout if timeout is None else timeout
    if not isinstance(job_timeout, int) or job_timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds; got {job_timeout!r}.")
    if unique_key is not None and not (isinstance(unique_key, str) and 0 < len(unique_key) <= 255):
        raise ValueError("unique_key must be a non-empty string of at most 255 characters.")
    ttl = spec.unique_ttl if unique_ttl is None else unique_ttl
    if not isinstance(ttl, int) or ttl <= 0:
        raise ValueError(f"unique_ttl must be a positive number of seconds; got {ttl!r}.")

    # Written as queued (or scheduled) already, so that the push after commit costs no second database
    # write: only a failed push touches the row again (back to pending). See _push_committed().
    paused = _push_pause.active()
    record = JobRecord(
        id=job_id_new(),
        job_type=job_type,
        queue=queue_name,
        # While pushes are paused (Redis failed a moment ago) the record goes straight to the outbox.
        status=JobStatus.PENDING if paused else JobStatus.SCHEDULED if scheduled_for else JobStatus.QUEUED,
        enqueued_at=now,
        payload=payload_to_json(parsed),
        max_retries=retries,
        timeout=job_timeout,
        unique_key=unique_key or "",
        unique_lock=unique_key,
        unique_until=now + timedelta(seconds=ttl) if unique_key else None,
        scheduled_for=scheduled_for,
        organization_id=organization_id,
        business_unit_id=business_unit_id,
        user_id=user if isinstance(user, int) or user is None else user.pk,
    )
    if unique_key:
        held = _delayed_holds.get(unique_key, now)
        if held is not None:
            return held
    existing = _insert(record, now=now)
    if existing is not None:
        transaction.on_commit(lambda: _delayed_holds.remember(existing))
        existing.deduplicated = True
        _log("deduplicated", existing, unique_key=unique_key)
        return existing
    _log("recorded", record, unique_key=unique_key or "-")
    if paused:
        return record  # the dispatcher (every worker's sweep) pushes it
    # In autocommit mode this runs at once; inside atomic() it runs after the outermost commit.
    # robust: an unexpected error here must not break the caller's other on-commit hooks (the record is
    # committed either way, and the lost-record sweep pushes it).
    transaction.on_commit(lambda: _push_committed(record), robust=True)
    return record


class _DelayedHolds:
    """Unique keys held by committed, delayed jobs, remembered by this process until just before they are due.

    A delayed job cannot start, and so cannot release its key, before it is due; only cancelling it can.
    So a burst of triggers for one key (200 shipment saves, one delayed analysis) is answered from memory
    after the first, with no database round trip on the save's hot path. Entries are added only after
    commit (a rolled-back job is never remembered) and dropped when this process cancels the job.
    """

    MARGIN = timedelta(seconds=1)
    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._holds: dict[str, tuple[JobRecord, datetime]] = {}

    def get(self, key: str, now: datetime) -> JobRecord | None:
        entry = self._holds.get(key)
        if entry is None:
            return None
        record, until = entry
        if now >= until:
            self._holds.pop(key, None)
            return None
        held = copy.copy(record)
        held.deduplicated = True
        return held

    def remember(self, record: JobRecord) -> None:
        if not (record.unique_lock and record.scheduled_for and record.status == JobStatus.SCHEDULED):
            return
        until = min(record.scheduled_for, record.unique_until or record.scheduled_for) - self.MARGIN
        if len(self._holds) >= self.MAX_ENTRIES:
            now = timezone.now()
            self._holds = {k: v for k, v in self._holds.items() if v[1] > now}
            if len(self._holds) >= self.MAX_ENTRIES:
                return
        self._holds[record.unique_lock] = (copy.copy(record), until)

    def forget(self, key: str) -> None:
        self._holds.pop(key, None)


_delayed_holds = _DelayedHolds()


def delayed_holds_clear() -> None:
    """Forget the remembered holds of this process (tests, and after deleting job records by hand)."""
    _delayed_holds.__init__()


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


def push_pause_clear() -> None:
    """Forget a push back-off (tests)."""
    _push_pause.clear()


def _to_pending(record: JobRecord) -> None:
    JobRecord.objects.filter(pk=record.pk, status=record.status).update(status=JobStatus.PENDING, enqueued_at=None)
    record.status, record.enqueued_at = JobStatus.PENDING, None


def _push_committed(record: JobRecord) -> None:
    """Push a just-committed record; if Redis is unreachable (or was a moment ago), leave it to the outbox."""
    scheduled = record.status == JobStatus.SCHEDULED
    if _push_pause.active():
        _to_pending(record)
        _log("push_deferred", record, reason="push_backoff")
        return
    try:
        connection = push_connection(record.queue)
        if timezone.now() - record.enqueued_at < _UNCONTESTED_PUSH:
            _rq_enqueue(record, scheduled=scheduled, connection=connection)
        elif not _rq_push_once(record, scheduled=scheduled, connection=connection):
            _log("push_skipped", record, reason="pushed_by_dispatcher")
            return
    except RedisError as exc:
        _push_pause.start()
        _to_pending(record)
        _log("push_failed", record, logging.WARNING, error=type(exc).__name__, detail=str(exc)[:200])
        return
    _delayed_holds.remember(record)
    _log("enqueued", record, scheduled_for=record.scheduled_for.isoformat() if record.scheduled_for else "-")


def _due_time(now: datetime, *, delay: timedelta | float | None, at: datetime | None) -> datetime | None:
    if delay is not None and at is not None:
        raise ValueError("Pass either delay or at, not both.")
    if delay is not None:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else delay
        if not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError(f"delay must be a non-negative number of seconds or a timedelta; got {delay!r}.")
        return now + timedelta(seconds=seconds) if seconds > 0 else None
    if at is not None:
        if not isinstance(at, datetime) or timezone.is_naive(at):
            raise ValueError("at must be a timezone-aware datetime.")
        return at if at > now else None
    return None


def _insert(record: JobRecord, *, now: datetime) -> JobRecord | None:
    """Insert ``record``; if its unique key is held by an active job, return that job instead.

    The hold is the unique ``unique_lock`` column: PostgreSQL makes a concurrent insert of the same key
    wait for the holder's transaction, so exactly one wins even across processes, a rolled-back holder
    frees the key, and it works while Redis is down.
    """
    if not record.unique_lock:
        record.save(force_insert=True)
        return None
    # Bursts mostly hit a held key: one read answers them without a failed insert and a savepoint rollback.
    holder = JobRecord.objects.filter(unique_lock=record.unique_lock, unique_until__gt=now).first()
    if holder is not None:
        return holder
    for _ in range(3):
        try:
            with transaction.atomic():
                record.save(force_insert=True)
            return None
        except IntegrityError:
            holder = JobRecord.objects.filter(unique_lock=record.unique_lock).first()
            if holder is None:
                continue  # the holder finished between our insert and this read: try again
            if holder.unique_until is not None and holder.unique_until <= now:
                # The hold outlived its TTL (a stuck job): release it and take the key.
                JobRecord.objects.filter(pk=holder.pk, unique_lock=record.unique_lock).update(unique_lock=None)
                continue
            return holder
    raise JobError(f"Could not acquire unique key {record.unique_lock!r}; try again.")


def record_push(record: JobRecord) -> bool:
    """Push a pending record to Redis. Safe to call twice: only the caller that claims it pushes.

    Returns True when the record is now queued or scheduled in Redis (pushed by this call, or found there
    already); False when another caller claimed it, or (leaving it pending for the dispatcher) when Redis
    cannot be reached.
    """
    return _record_push(record) in (_PUSHED, _ALREADY_LIVE)


_PUSHED, _ALREADY_LIVE, _NOT_CLAIMED, _REDIS_DOWN = "pushed", "already_live", "not_claimed", "redis_down"
# rq states in which a job will still run: pushing it again would run it twice.
_RQ_LIVE_STATES = {"queued", "scheduled", "started", "deferred"}


def _rq_live(state: bytes | None) -> bool:
    return state is not None and state.decode() in _RQ_LIVE_STATES


def _record_push(record: JobRecord) -> str:
    now = timezone.now()
    target = JobStatus.SCHEDULED if record.scheduled_for and record.scheduled_for > now else JobStatus.QUEUED
    claimed = JobRecord.objects.filter(pk=record.pk, status=JobStatus.PENDING).update(status=target, enqueued_at=now)
    if not claimed:
        return _NOT_CLAIMED
    try:
        pushed = _rq_push_once(record, scheduled=target == JobStatus.SCHEDULED)
    except RedisError as exc:
        JobRecord.objects.filter(pk=record.pk, status=target).update(status=JobStatus.PENDING, enqueued_at=None)
        record.status = JobStatus.PENDING
        _log("push_failed", record, logging.WARNING, error=type(exc).__name__, detail=str(exc)[:200])
        return _REDIS_DOWN
    record.status, record.enqueued_at = target, now
    if not pushed:
        # Pushed already: a slow commit's own push that the lost-record sweep did not see in time.
        _log("push_skipped", record, reason="rq_job_live")
        return _ALREADY_LIVE
    _log("enqueued", record, scheduled_for=record.scheduled_for.isoformat() if record.scheduled_for else "-")
    return _PUSHED


def _rq_push_once(record: JobRecord, *, scheduled: bool, connection: Any = None) -> bool:
    """Push the record's job unless rq holds it live already; False when it does (or a racer pushed it).

    Check and push are one Redis transaction (WATCH on the job key), so of two racing pushers exactly one
    pushes. A finished or failed rq job of the same id (an earlier run, before job_retry) is replaced.
    """
    queue = queue_get(record.queue, connection=connection)
    key = Job.key_for(record.id)
    with queue.connection.pipeline() as pipe:
        try:
            pipe.watch(key)
            state = pipe.hget(key, "status")
            if _rq_live(state):
                return False
            old = _rq_job_fetch(record) if state is not None else None
            pipe.multi()
            if old is not None:
                _rq_job_delete_in(pipe, old, queue)
            _rq_enqueue(record, scheduled=scheduled, pipeline=pipe, connection=connection)
            pipe.execute()
        except WatchError:
            # A racer pushed it, or (redis-py says WatchError for this too) the connection dropped while
            # watching: only a job that is live now counts as pushed.
            if _rq_live(queue.connection.hget(key, "status")):
                return False
            raise RedisError(f"Push of {record.id} was interrupted; it stays pending.") from None
    return True


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
    due = rq_due_time(record.scheduled_for.timestamp()) if scheduled else None
    if scheduled and pipeline is not None:
        # What schedule_job() does, but inside the caller's transaction: rq 1.16's registry.schedule()
        # ignores the pipeline it is given and writes at once.
        pipeline.sadd(queue.redis_queues_keys, queue.key)
        job.save(pipeline=pipeline)
        registry = ScheduledJobRegistry(queue.name, connection=queue.connection, serializer=queue.serializer)
        pipeline.zadd(registry.key, {job.id: calendar.timegm(due.utctimetuple())})
        return job
    if scheduled:
        return queue.schedule_job(job, due)
    if pipeline is not None:
        # Inside the caller's transaction: enqueue_job() would call MULTI a second time (its dependency
        # set-up does); our jobs have no dependencies, so go straight to what it calls next.
        return job_enqueue_in(queue, job, pipeline)
    return queue.enqueue_job(job)


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
    logger.error("event=push_refused job_id=%s queue=%s error=%s", record.id, record.queue, sanitize_text(error)[:200])
    return True


# Where the lost-job sweep has got to, shared by every worker: it walks all waiting records, oldest first.
LOST_SWEEP_CURSOR_KEY = "trenova:lost_sweep:cursor"
_WAITING = WAITING_STATUSES


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
    rows = JobRecord.objects.filter(status__in=_WAITING, id__gt=cursor).order_by("id")
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
    reset = JobRecord.objects.filter(pk__in=lost, status__in=_WAITING).update(
        status=JobStatus.PENDING, enqueued_at=None
    )
    if reset:
        logger.warning("event=lost_records_reset count=%s", reset)
    return reset


# --- Worker-side transitions -------------------------------------------------------------------------


def record_attempt_started(*, record_id: str) -> JobRecord | None:
    """Mark an attempt as running; None when the job is finished or cancelled (a re-delivery)."""
    now = timezone.now()
    updated = (
        JobRecord.objects.filter(pk=record_id)
        .exclude(status__in=FINISHED_STATUSES)
        .update(status=JobStatus.RUNNING, attempts=F("attempts") + 1, started_at=now, scheduled_for=None)
    )
    if not updated:
        return None
    record = JobRecord.objects.get(pk=record_id)
    _log("started", record)
    return record


def record_attempt_unstarted(*, record_id: str, attempt: int) -> bool:
    """Undo ``record_attempt_started`` for an attempt whose handler never began (its worker died first).

    The job goes back to its queue without using up a retry: ``running`` → ``queued``, attempts - 1.
    """
    updated = JobRecord.objects.filter(pk=record_id, status=JobStatus.RUNNING, attempts=attempt).update(
        status=JobStatus.QUEUED, attempts=F("attempts") - 1, started_at=None
    )
    if updated:
        record = JobRecord.objects.get(pk=record_id)
        _log("requeued_unstarted", record, logging.WARNING)
    return bool(updated)


def _settleable(record_id: str, attempt: int | None, statuses: Collection[str]) -> Any:
    rows = JobRecord.objects.filter(pk=record_id, status__in=statuses)
    return rows if attempt is None else rows.filter(attempts=attempt)


def sanitize_text(text: str) -> str:
    """Text PostgreSQL can store: NUL characters and unpaired surrogates are written as escapes."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


# Connection-level errors: the caller reconnects and tries again. Any other database error refuses this
# outcome for good (a value PostgreSQL cannot store), and the record is failed with that explanation.
_TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


def _write_outcome(rows: Any, **fields: Any) -> int:
    guard = transaction.atomic() if db_connection.in_atomic_block else contextlib.nullcontext()
    with guard:
        return int(rows.update(**fields))


def _outcome_unstorable(record_id: str, attempt: int | None, statuses: Collection[str], exc: Exception) -> bool:
    """The outcome could not be written: fail the record with why, so it is never left running."""
    error = sanitize_text(f"The job's outcome could not be stored: {type(exc).__name__}: {exc}")[:2000]
    updated = _write_outcome(
        _settleable(record_id, attempt, statuses),
        status=JobStatus.FAILED,
        result=None,
        error=error,
        traceback="",
        finished_at=timezone.now(),
        unique_lock=None,
    )
    if not updated:
        return False
    record = JobRecord.objects.get(pk=record_id)
    _log("failed", record, logging.ERROR, error=error[:200])
    outcome_count(record.job_type, "failed")
    _announce(job_failed, record)
    return True


def record_succeeded(
    *,
    record: JobRecord,
    result: Any,
    duration: float,
    attempt: int | None = None,
    statuses: Collection[str] = RUNNING_ONLY,
) -> bool:
    """Final success: store the result, release the unique key, send ``job_succeeded`` once.

    With ``attempt``, only that attempt may succeed (not a newer one that started meanwhile). A result
    PostgreSQL refuses fails the job instead, with the reason.
    """
    now = timezone.now()
    rows = _settleable(record.pk, attempt, statuses)
    try:
        updated = _write_outcome(
            rows, status=JobStatus.SUCCEEDED, result=result, error="", traceback="", finished_at=now, unique_lock=None
        )
    except _TRANSIENT_DB_ERRORS:
        raise
    except DatabaseError as exc:
        return _outcome_unstorable(record.pk, attempt, statuses, exc)
    if not updated:
        return False
    if attempt is None:
        record.refresh_from_db()
    else:
        # The update matched this attempt's row, so the record is as it was but for the fields written.
        record.status, record.result, record.error, record.traceback = JobStatus.SUCCEEDED, result, "", ""
        record.finished_at, record.unique_lock = now, None
    _log("succeeded", record, duration_ms=round(duration * 1000, 1))
    outcome_count(record.job_type, "succeeded", duration=duration)
    _announce(job_succeeded, record)
    return True


def record_attempt_failed(
    *,
    record_id: str,
    error: str,
    traceback: str = "",
    will_retry: bool,
    retry_in: float = 0,
    attempt: int | None = None,
    statuses: Collection[str] = RUNNING_ONLY,
) -> JobRecord | None:
    """An attempt failed: either ``retrying`` (another attempt is scheduled) or finally ``failed``.

    Only a ``running`` record changes (and with ``attempt``, only while that attempt is the current one):
    an attempt settled already, by the supervisor, the reaper or the reconciler, whichever came first, is
    never written twice or over a newer attempt. ``statuses`` widens that for the paths where the attempt
    could not be marked started (the database was down). On final failure the unique key is released and
    ``job_failed`` is sent exactly once. Error text is made storable first.
    """
    now = timezone.now()
    base = _settleable(record_id, attempt, statuses)
    fields = {"error": sanitize_text(error)[:2000], "traceback": sanitize_text(traceback[-20000:])}
    try:
        if will_retry:
            updated = _write_outcome(
                base, status=JobStatus.RETRYING, scheduled_for=now + timedelta(seconds=retry_in), **fields
            )
        else:
            updated = _write_outcome(base, status=JobStatus.FAILED, finished_at=now, unique_lock=None, **fields)
    except _TRANSIENT_DB_ERRORS:
        raise
    except DatabaseError as exc:
        _outcome_unstorable(record_id, attempt, statuses, exc)
        return JobRecord.objects.filter(pk=record_id).first()
    if not updated:
        return None
    record = JobRecord.objects.get(pk=record_id)
    if will_retry:
        _log("retrying", record, logging.WARNING, retry_in_s=retry_in, error=fields["error"][:200])
        outcome_count(record.job_type, "retried")
    else:
        _log("failed", record, logging.ERROR, error=fields["error"][:200])
        outcome_count(record.job_type, "failed")
        _announce(job_failed, record)
    return record


def _announce(signal: Signal, record: JobRecord) -> None:
    """Send an outcome signal to every receiver; one failing receiver must not silence the others."""
    for receiver, response in signal.send_robust(sender=JobRecord, record=record):
        if isinstance(response, Exception):
            logger.error(
                "event=receiver_failed job_id=%s receiver=%s error=%r",
                record.id,
                getattr(receiver, "__qualname__", receiver),
                response,
                exc_info=response,
            )


class ResultNotJSONError(ValueError):
    """A handler returned something that is not storable as strict JSON."""


def result_to_json(value: Any) -> Any:
    """A handler's return value as strict JSON (dates, decimals and UUIDs become strings).

    Raises ``ResultNotJSONError`` for values JSON or PostgreSQL cannot hold: NaN and infinities, NUL
    characters, objects with no JSON form.
    """
    try:
        text = json.dumps(value, cls=DjangoJSONEncoder, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ResultNotJSONError(f"The job's result is not JSON: {exc}") from exc
    parsed = json.loads(text)
    if "\\u0000" in text and _has_nul(parsed):
        raise ResultNotJSONError("The job's result contains a NUL character, which PostgreSQL cannot store.")
    return parsed


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


# --- Operator actions ------------------------------------------------------------------------------


def job_cancel(*, record: JobRecord) -> JobRecord:
    """Cancel a job that has not started running; its rq job is removed so it will not run."""
    cancellable = [s for s in ACTIVE_STATUSES if s != JobStatus.RUNNING]
    updated = JobRecord.objects.filter(pk=record.pk, status__in=cancellable).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), unique_lock=None
    )
    if not updated:
        record.refresh_from_db()
        raise JobStateError(f"Job {record.id} is {record.status}; only jobs not yet running can be cancelled.")
    if record.unique_key:
        _delayed_holds.forget(record.unique_key)
    try:
        _rq_job_delete(record)
    except RedisError:
        # The record says cancelled, and run() skips cancelled records, so a stale rq job is harmless.
        logger.warning("event=cancel_redis_unreachable job_id=%s", record.id)
    record.refresh_from_db()
    _log("cancelled", record)
    outcome_count(record.job_type, "cancelled")
    return record


def job_retry(*, record: JobRecord) -> JobRecord:
    """Run a failed or cancelled job again from scratch: attempts reset, same id, pushed after commit."""
    if record.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise JobStateError(f"Job {record.id} is {record.status}; only failed or cancelled jobs can be retried.")
    spec_ttl = registry_get(record.job_type).unique_ttl
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                updated = JobRecord.objects.filter(
                    pk=record.pk, status__in=(JobStatus.FAILED, JobStatus.CANCELLED)
                ).update(
                    status=JobStatus.PENDING,
                    attempts=0,
                    error="",
                    traceback="",
                    result=None,
                    started_at=None,
                    finished_at=None,
                    enqueued_at=None,
                    scheduled_for=None,
                    unique_lock=record.unique_key or None,
                    unique_until=now + timedelta(seconds=spec_ttl) if record.unique_key else None,
                )
        except IntegrityError:
            raise JobStateError(
                f"Another active job holds unique key {record.unique_key!r}; retry once it has finished."
            ) from None
        if not updated:
            record.refresh_from_db()
            raise JobStateError(f"Job {record.id} is {record.status}; it can no longer be retried.")
        record.refresh_from_db()
        _log("manual_retry", record)
        # record_push() replaces the finished rq job of the same id (and skips one that is still live).
        transaction.on_commit(lambda: record_push(record), robust=True)
    return record


def _rq_job_fetch(record: JobRecord) -> Job | None:
    queue = queue_get(record.queue)
    try:
        return Job.fetch(record.id, connection=queue.connection, serializer=queue.serializer)
    except NoSuchJobError:
        return None


def _rq_job_delete(record: JobRecord) -> None:
    """Remove the record's rq job from its queue, every registry and its results, if it exists."""
    job = _rq_job_fetch(record)
    if job is None:
        return
    queue = queue_get(record.queue)
    with queue.connection.pipeline() as pipe:
        _rq_job_delete_in(pipe, job, queue)
        pipe.execute()


def _rq_job_delete_in(pipe: Pipeline, job: Job, queue: Any) -> None:
    # job.delete() cleans the registry its status names; a scheduled retry may say otherwise.
    ScheduledJobRegistry(queue.name, connection=queue.connection, serializer=queue.serializer).remove(
        job, pipeline=pipe
    )
    job.delete(pipeline=pipe)
    pipe.delete(Result.get_key(job.id))  # so the next run's latest_result() is its own


def redis_ping() -> bool:
    try:
        return bool(redis_connection().ping())
    except RedisError:
        return False
