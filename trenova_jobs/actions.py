"""Operator actions on jobs: cancel one that has not started, retry one that failed or was cancelled."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from trenova_jobs.errors import JobStateError
from trenova_jobs.holds import delayed_holds
from trenova_jobs.logs import log_event
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.outbox import record_push, rq_job_delete
from trenova_jobs.registry import registry_get
from trenova_jobs.transitions import record_cancel, record_reset_for_retry


def job_cancel(*, record: JobRecord) -> JobRecord:
    """Cancel a job that has not started running; its rq job is removed so it will not run."""
    if not record_cancel(record=record):
        record.refresh_from_db()
        raise JobStateError(f"Job {record.id} is {record.status}; only jobs not yet running can be cancelled.")
    if record.unique_key:
        delayed_holds.forget(record.unique_key)
    try:
        rq_job_delete(record)
    except RedisError:
        # The record says cancelled, and run() skips cancelled records, so a stale rq job is harmless.
        log_event("cancel_redis_unreachable", logging.WARNING, job_id=record.id)
    return record


def job_retry(*, record: JobRecord) -> JobRecord:
    """Run a failed or cancelled job again from scratch: attempts reset, same id, pushed after commit."""
    if record.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise JobStateError(f"Job {record.id} is {record.status}; only failed or cancelled jobs can be retried.")
    spec_ttl = registry_get(record.job_type).unique_ttl
    unique_until = timezone.now() + timedelta(seconds=spec_ttl) if record.unique_key else None
    with transaction.atomic():
        try:
            with transaction.atomic():
                updated = record_reset_for_retry(record=record, unique_until=unique_until)
        except IntegrityError:
            raise JobStateError(
                f"Another active job holds unique key {record.unique_key!r}; retry once it has finished."
            ) from None
        if not updated:
            record.refresh_from_db()
            raise JobStateError(f"Job {record.id} is {record.status}; it can no longer be retried.")
        # record_push() replaces the finished rq job of the same id (and skips one that is still live).
        transaction.on_commit(lambda: record_push(record), robust=True)
    return record
