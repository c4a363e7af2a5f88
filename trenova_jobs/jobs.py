"""Job types owned by the job framework itself."""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from pydantic import Field

from trenova_jobs.conf import setting_int
from trenova_jobs.errors import NonRetryableError
from trenova_jobs.housekeeping import job_records_prune, temp_files_cleanup
from trenova_jobs.payloads import EmptyPayload, JobPayload
from trenova_jobs.registry import JobContext, job_type


class SystemNoopPayload(JobPayload):
    value: int = 0
    sleep_seconds: float = Field(default=0.0, ge=0, le=3600)


@job_type("system:noop", payload=SystemNoopPayload, queue="default", max_retries=0)
def handle_system_noop(payload: SystemNoopPayload, ctx: JobContext) -> dict:
    """Does nothing (for ``sleep_seconds``, if given); used by tests, benchmarks and health checks."""
    if payload.sleep_seconds:
        time.sleep(payload.sleep_seconds)
    return {"value": payload.value}


@job_type("system:cleanup_temp_files", payload=EmptyPayload, queue="system", max_retries=3)
def handle_system_cleanup_temp_files(payload: EmptyPayload, ctx: JobContext) -> dict[str, Any]:
    """Delete regular files older than TRENOVA_TEMP_MAX_AGE_HOURS under TRENOVA_TEMP_DIR (never following links)."""
    try:
        return temp_files_cleanup().as_json()
    except ImproperlyConfigured as exc:
        raise NonRetryableError(str(exc)) from exc  # a setting out of range: retrying cannot help


@job_type("system:prune_job_records", payload=EmptyPayload, queue="system", max_retries=3)
def handle_system_prune_job_records(payload: EmptyPayload, ctx: JobContext) -> dict[str, Any]:
    """Delete finished job records whose finished_at is older than TRENOVA_JOBS_RECORD_RETENTION_DAYS."""
    try:
        days = setting_int("TRENOVA_JOBS_RECORD_RETENTION_DAYS")
    except ImproperlyConfigured as exc:
        raise NonRetryableError(str(exc)) from exc
    deleted = job_records_prune(older_than_days=days)
    records = "record" if deleted == 1 else "records"
    noun = "day" if days == 1 else "days"
    return {
        "deleted": deleted,
        "older_than_days": days,
        "message": f"Deleted {deleted:,} finished job {records} older than {days} {noun}",
    }
