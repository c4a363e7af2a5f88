"""``enqueue()``: validate, hold the unique key, write the record in the caller's transaction.

The push to Redis happens after commit (``outbox.push_after_commit``), so a rollback leaves no job and a
Redis outage leaves a ``pending`` record for the dispatcher.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from trenova_jobs.conf import setting_int
from trenova_jobs.errors import JobError
from trenova_jobs.holds import delayed_holds
from trenova_jobs.logs import log_job
from trenova_jobs.models import JobRecord, job_id_new
from trenova_jobs.outbox import push_after_commit, push_paused
from trenova_jobs.payloads import JobPayload, payload_parse, payload_to_json
from trenova_jobs.queues import queue_get
from trenova_jobs.registry import registry_get
from trenova_jobs.transitions import initial_status


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
    # write: only a failed push touches the row again (back to pending). See outbox.push_after_commit().
    paused = push_paused()
    record = JobRecord(
        id=job_id_new(),
        job_type=job_type,
        queue=queue_name,
        # The record's creation (an INSERT), so its first status is set here; every later change of status is
        # a transition in transitions.py. While pushes are paused (Redis failed a moment ago) the record
        # goes straight to the outbox.
        status=initial_status(scheduled=scheduled_for is not None, paused=paused),
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
        held = delayed_holds.get(unique_key, now)
        if held is not None:
            return held
    existing = _insert(record, now=now)
    if existing is not None:
        transaction.on_commit(lambda: delayed_holds.remember(existing))
        existing.deduplicated = True
        log_job("deduplicated", existing, unique_key=unique_key)
        return existing
    log_job("recorded", record, unique_key=unique_key or "-")
    if paused:
        return record  # the dispatcher (every worker's sweep) pushes it
    # In autocommit mode this runs at once; inside atomic() it runs after the outermost commit.
    # robust: an unexpected error here must not break the caller's other on-commit hooks (the record is
    # committed either way, and the lost-record sweep pushes it).
    transaction.on_commit(lambda: push_after_commit(record), robust=True)
    return record


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
