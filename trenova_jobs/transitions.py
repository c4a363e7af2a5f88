"""The only code that changes ``JobRecord.status``: every allowed change, each in one place.

Each transition is one conditional UPDATE: the row must still be in one of the transition's "from"
statuses (and, for an attempt's outcome, at that attempt), so that of several writers racing for the same
change — the supervisor, recovery, the reconciler, two dispatchers — exactly one writes it, and the
outcome signals (``job_succeeded``, ``job_failed``) are sent once. The table below is the state machine;
docs/architecture.md draws it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta
from typing import Any, TypedDict

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from trenova_jobs.logs import log_job
from trenova_jobs.models import ACTIVE_STATUSES, FINISHED_STATUSES, WAITING_STATUSES, JobRecord, JobStatus
from trenova_jobs.signals import job_failed, job_succeeded
from trenova_jobs.stats import outcome_count

# The statuses an attempt's outcome is written over, unless a caller says otherwise.
RUNNING_ONLY = (JobStatus.RUNNING,)
# ...and where the attempt may never have been marked started (the database was down as it began).
UNMARKED_ATTEMPT = (JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.RETRYING)
CANCELLABLE = tuple(s for s in ACTIVE_STATUSES if s != JobStatus.RUNNING)
RETRYABLE = (JobStatus.FAILED, JobStatus.CANCELLED)

# name: (from statuses, to status). The functions below are the only writers; each names its row here.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "to_outbox": ((JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.RETRYING, JobStatus.RUNNING), JobStatus.PENDING),
    "claimed_queued": ((JobStatus.PENDING,), JobStatus.QUEUED),
    "claimed_scheduled": ((JobStatus.PENDING,), JobStatus.SCHEDULED),
    "started": (ACTIVE_STATUSES, JobStatus.RUNNING),
    "unstarted": ((JobStatus.RUNNING,), JobStatus.QUEUED),
    "retrying": (UNMARKED_ATTEMPT, JobStatus.RETRYING),
    "succeeded": (UNMARKED_ATTEMPT, JobStatus.SUCCEEDED),
    "failed": ((*UNMARKED_ATTEMPT, JobStatus.PENDING, JobStatus.SCHEDULED), JobStatus.FAILED),
    "cancelled": (CANCELLABLE, JobStatus.CANCELLED),
    "retried": (RETRYABLE, JobStatus.PENDING),
}


class AttemptScope(TypedDict):
    """Which attempt an outcome is written for: ``attempt`` (None: the current one), while the record is in
    one of ``statuses``. Passed on as keyword arguments of ``record_succeeded``/``record_attempt_failed``."""

    attempt: int | None
    statuses: Collection[str]


# Earlier runs kept on a record retried by hand (the newest ones).
HISTORY_KEPT = 20

# Going back to the outbox clears what the push set: one set of fields, wherever it happens.
_TO_OUTBOX_FIELDS = {"status": JobStatus.PENDING, "enqueued_at": None}


def _allowed(name: str, statuses: Collection[str]) -> tuple[str, ...]:
    sources, _target = TRANSITIONS[name]
    narrowed = tuple(s for s in statuses if s in sources)
    if not narrowed:
        raise ValueError(f"Transition {name!r} does not start from {sorted(statuses)}.")
    return narrowed


def initial_status(*, scheduled: bool, paused: bool) -> str:
    """A new record's status: the outbox while pushes are paused, else what the push will make it."""
    if paused:
        return JobStatus.PENDING
    return JobStatus.SCHEDULED if scheduled else JobStatus.QUEUED


# --- The outbox ---------------------------------------------------------------------------------------


def record_to_outbox(*, record: JobRecord, reason: str, attempt_must_match: bool = False) -> bool:
    """Back to ``pending``, to be pushed again: the push failed, or Redis lost the job."""
    rows = JobRecord.objects.filter(pk=record.pk, status__in=_allowed("to_outbox", (record.status,)))
    if attempt_must_match:
        rows = rows.filter(attempts=record.attempts)
    changed = rows.update(**_TO_OUTBOX_FIELDS)
    if changed:
        record.status, record.enqueued_at = JobStatus.PENDING, None
        log_job("to_outbox", record, logging.WARNING, reason=reason)
    return bool(changed)


def records_to_outbox(*, record_ids: Iterable[str]) -> int:
    """The lost-job sweep's bulk form: waiting records whose rq job Redis lacks."""
    return JobRecord.objects.filter(pk__in=list(record_ids), status__in=WAITING_STATUSES).update(**_TO_OUTBOX_FIELDS)


def record_claim_for_push(*, record: JobRecord, now: datetime) -> str | None:
    """Claim a pending record for this pusher; returns the status it now has, None if another claimed it."""
    scheduled = bool(record.scheduled_for and record.scheduled_for > now)
    target = JobStatus.SCHEDULED if scheduled else JobStatus.QUEUED
    claimed = JobRecord.objects.filter(pk=record.pk, status=JobStatus.PENDING).update(status=target, enqueued_at=now)
    if not claimed:
        return None
    record.status, record.enqueued_at = target, now
    return target


def record_unclaim(*, record: JobRecord) -> None:
    """The claimed push failed: back to pending for the next pass."""
    JobRecord.objects.filter(pk=record.pk, status=record.status).update(**_TO_OUTBOX_FIELDS)
    record.status, record.enqueued_at = JobStatus.PENDING, None


# --- Attempts -----------------------------------------------------------------------------------------


def record_attempt_started(*, record_id: str) -> JobRecord | None:
    """Mark an attempt as running; None when the job is finished or cancelled (a re-delivery)."""
    # One statement (UPDATE … RETURNING), not an UPDATE and a SELECT: this runs before every attempt.
    rows = list(JobRecord.objects.raw(_start_sql(), [JobStatus.RUNNING, timezone.now(), record_id, *FINISHED_STATUSES]))
    if not rows:
        return None
    record = rows[0]
    log_job("started", record)
    return record


@functools.cache
def _start_sql() -> str:
    meta = JobRecord._meta
    columns = ", ".join(db_connection.ops.quote_name(f.column) for f in meta.concrete_fields)
    finished = ", ".join(["%s"] * len(FINISHED_STATUSES))
    return (
        f"UPDATE {db_connection.ops.quote_name(meta.db_table)} "  # names from the model; values bound
        "SET status = %s, attempts = attempts + 1, started_at = %s, scheduled_for = NULL "
        f"WHERE id = %s AND status NOT IN ({finished}) RETURNING {columns}"
    )


def record_attempt_unstarted(*, record_id: str, attempt: int) -> bool:
    """Undo ``record_attempt_started`` for an attempt whose handler never began (its worker died first).

    The job goes back to its queue without using up a retry: ``running`` → ``queued``, attempts - 1.
    """
    updated = JobRecord.objects.filter(pk=record_id, status=JobStatus.RUNNING, attempts=attempt).update(
        status=JobStatus.QUEUED, attempts=F("attempts") - 1, started_at=None
    )
    if updated:
        record = JobRecord.objects.get(pk=record_id)
        log_job("requeued_unstarted", record, logging.WARNING)
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


def _write_outcome(
    rows: Any, *, announce: Signal | None = None, record: Callable[[], JobRecord] | None = None, **fields: Any
) -> int:
    """One conditional UPDATE; for a final outcome, its signal is sent in the same transaction.

    Receivers (notifications, webhook events) thus commit with the outcome or not at all: a worker that
    dies between the two leaves the job to be settled again, signal included. ``record`` builds the
    announced record once the row is known to be written.
    """
    if announce is None or not announce.has_listeners(JobRecord):
        guard = transaction.atomic() if db_connection.in_atomic_block else contextlib.nullcontext()
        with guard:
            return int(rows.update(**fields))
    with transaction.atomic():
        updated = int(rows.update(**fields))
        if updated and record is not None:
            _announce(announce, record())
    return updated


def _outcome_unstorable(record_id: str, attempt: int | None, statuses: Collection[str], exc: Exception) -> bool:
    """The outcome could not be written: fail the record with why, so it is never left running."""
    error = sanitize_text(f"The job's outcome could not be stored: {type(exc).__name__}: {exc}")[:2000]
    written: list[JobRecord] = []

    def announced() -> JobRecord:
        written.append(JobRecord.objects.get(pk=record_id))
        return written[0]

    updated = _write_outcome(
        _settleable(record_id, attempt, statuses),
        announce=job_failed,
        record=announced,
        status=JobStatus.FAILED,
        result=None,
        error=error,
        traceback="",
        finished_at=timezone.now(),
        unique_lock=None,
    )
    if not updated:
        return False
    record = written[0] if written else JobRecord.objects.get(pk=record_id)
    log_job("failed", record, logging.ERROR, error=error[:200])
    outcome_count(record.job_type, "failed")
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
    refreshed = False

    def announced() -> JobRecord:
        nonlocal refreshed
        if attempt is None:
            record.refresh_from_db()
        else:
            # The update matched this attempt's row, so the record is as it was but for the fields written.
            record.status, record.result, record.error, record.traceback = JobStatus.SUCCEEDED, result, "", ""
            record.finished_at, record.unique_lock = now, None
        refreshed = True
        return record

    try:
        updated = _write_outcome(
            rows,
            announce=job_succeeded,
            record=announced,
            status=JobStatus.SUCCEEDED,
            result=result,
            error="",
            traceback="",
            finished_at=now,
            unique_lock=None,
        )
    except _TRANSIENT_DB_ERRORS:
        raise
    except DatabaseError as exc:
        return _outcome_unstorable(record.pk, attempt, statuses, exc)
    if not updated:
        return False
    if not refreshed:
        announced()
    log_job("succeeded", record, duration_ms=round(duration * 1000, 1))
    outcome_count(record.job_type, "succeeded", duration=duration)
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
    fields: dict[str, Any] = {"error": sanitize_text(error)[:2000], "traceback": sanitize_text(traceback[-20000:])}
    written: list[JobRecord] = []

    def announced() -> JobRecord:
        written.append(JobRecord.objects.get(pk=record_id))
        return written[0]

    try:
        if will_retry:
            updated = _write_outcome(
                base, status=JobStatus.RETRYING, scheduled_for=now + timedelta(seconds=retry_in), **fields
            )
        else:
            updated = _write_outcome(
                base,
                announce=job_failed,
                record=announced,
                status=JobStatus.FAILED,
                finished_at=now,
                unique_lock=None,
                **fields,
            )
    except _TRANSIENT_DB_ERRORS:
        raise
    except DatabaseError as exc:
        _outcome_unstorable(record_id, attempt, statuses, exc)
        return JobRecord.objects.filter(pk=record_id).first()
    if not updated:
        return None
    record = written[0] if written else JobRecord.objects.get(pk=record_id)
    if will_retry:
        log_job("retrying", record, logging.WARNING, retry_in_s=retry_in, error=fields["error"][:200])
        outcome_count(record.job_type, "retried")
    else:
        log_job("failed", record, logging.ERROR, error=fields["error"][:200])
        outcome_count(record.job_type, "failed")
    return record


def _announce(signal: Signal, record: JobRecord) -> None:
    """Send an outcome signal to every receiver, inside the outcome's transaction.

    One failing receiver must not silence the others, nor lose the outcome: the receivers run in a
    savepoint, and one that leaves the transaction broken (a database error of its own) rolls back to it —
    the receivers' writes are lost, logged, and the outcome still commits.
    """
    try:
        with transaction.atomic():
            responses = signal.send_robust(sender=JobRecord, record=record)
    except (OperationalError, InterfaceError):
        raise  # the connection is gone: the outcome cannot commit either; the caller tries again
    except DatabaseError as exc:
        log_job("receiver_failed", record, logging.ERROR, receiver="(rolled back)", error=repr(exc), exc_info=exc)
        return
    for receiver, response in responses:
        if isinstance(response, Exception):
            log_job(
                "receiver_failed",
                record,
                logging.ERROR,
                receiver=getattr(receiver, "__qualname__", receiver),
                error=repr(response),
                exc_info=response,
            )


# --- Operator actions -----------------------------------------------------------------------------------


def record_cancel(*, record: JobRecord) -> bool:
    """Not yet running → ``cancelled``, its unique key released."""
    updated = JobRecord.objects.filter(pk=record.pk, status__in=CANCELLABLE).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), unique_lock=None
    )
    if updated:
        record.refresh_from_db()
        log_job("cancelled", record)
        outcome_count(record.job_type, "cancelled")
    return bool(updated)


def record_reset_for_retry(*, record: JobRecord, unique_until: datetime | None) -> bool:
    """Failed or cancelled → ``pending`` from scratch (attempts, outcome and times cleared), holding its
    unique key again; the run that ended is kept in ``history``. Raises ``IntegrityError`` when another
    active job holds that key."""
    earlier = {
        "status": record.status,
        "attempts": record.attempts,
        "error": record.error[:2000],
        "started_at": record.started_at.isoformat() if record.started_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "retried_at": timezone.now().isoformat(),
    }
    updated = JobRecord.objects.filter(pk=record.pk, status__in=RETRYABLE).update(
        **_TO_OUTBOX_FIELDS,
        history=[*record.history, earlier][-HISTORY_KEPT:],
        attempts=0,
        error="",
        traceback="",
        result=None,
        started_at=None,
        finished_at=None,
        scheduled_for=None,
        unique_lock=record.unique_key or None,
        unique_until=unique_until,
    )
    if updated:
        record.refresh_from_db()
        log_job("manual_retry", record)
    return bool(updated)
