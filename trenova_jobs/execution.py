"""What a worker runs for every job: ``run(record_id)`` looks the record up and calls its handler."""

from __future__ import annotations

import time
from typing import Any, NoReturn

from rq import get_current_job

from trenova_jobs.errors import NonRetryableError, PayloadValidationError, UnknownJobTypeError
from trenova_jobs.payloads import payload_parse
from trenova_jobs.registry import JobContext, registry_get
from trenova_jobs.services import record_attempt_started, record_succeeded, result_to_json


def _no_more_retries() -> None:
    """Make rq treat the current failure as final, whatever retries the job has left."""
    job = get_current_job()
    if job is not None:
        job.retries_left = 0


def _give_up(reason: Exception) -> NoReturn:
    _no_more_retries()
    raise NonRetryableError(str(reason)) from reason


def run(record_id: str) -> Any:
    record = record_attempt_started(record_id=record_id)
    if record is None:
        # Finished or cancelled already: a re-delivery (at-least-once) that must not run again.
        return {"skipped": True, "job_id": record_id}
    try:
        spec = registry_get(record.job_type)
        payload = payload_parse(record.job_type, spec.payload, record.payload)
    except (UnknownJobTypeError, PayloadValidationError) as exc:
        _give_up(exc)
    ctx = JobContext(
        job_id=record.id,
        job_type=record.job_type,
        attempt=record.attempts,
        max_retries=record.max_retries,
        organization_id=record.organization_id,
        business_unit_id=record.business_unit_id,
        user_id=record.user_id,
    )
    started = time.monotonic()
    try:
        value = spec.handler(payload, ctx)
    except NonRetryableError:
        _no_more_retries()
        raise
    try:
        result = result_to_json(value)
    except (TypeError, ValueError) as exc:
        _give_up(exc)
    record_succeeded(record=record, result=result, duration=time.monotonic() - started)
    return result
