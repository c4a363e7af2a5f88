"""What a worker runs for every job: ``run(record_id)`` calls the job type's handler with its payload.

Under ``WeightedWorker`` the worker's main process (the supervisor) owns the job record: it marks the
attempt started before forking the work horse and settles the outcome after the horse exits, on its own
long-lived database connection. The horse then needs the database only if the handler does. The record
reaches the horse through ``supervise()``, i.e. through the memory the fork copies. Run by any other
worker, ``run`` does the bookkeeping itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, NoReturn

from rq import get_current_job

from trenova_jobs.errors import NonRetryableError, PayloadValidationError, UnknownJobTypeError
from trenova_jobs.models import JobRecord
from trenova_jobs.payloads import payload_parse, result_to_json
from trenova_jobs.registry import JobContext, registry_get
from trenova_jobs.transitions import record_attempt_started, record_succeeded


@dataclass(frozen=True)
class Supervised:
    """The attempt the supervisor has started for ``record_id`` (``record`` None: do not run it)."""

    record_id: str
    record: JobRecord | None


_supervised: Supervised | None = None
# Set in the (forked) horse as run() begins and as the handler returns: a failure before the first means
# the handler never ran; one after the second is rq's bookkeeping failing (Redis), not the handler.
_entered = False
_returned: dict[str, Any] | None = None


def handler_entered() -> bool:
    return _entered


def handler_returned() -> dict[str, Any] | None:
    """``{"result": ..., "duration": ...}`` once the handler has returned a storable result."""
    return _returned


def supervise(attempt: Supervised | None) -> None:
    global _supervised
    _supervised = attempt


def _no_more_retries() -> None:
    """Make rq treat the current failure as final, whatever retries the job has left."""
    job = get_current_job()
    if job is not None:
        job.retries_left = 0


def _give_up(reason: Exception) -> NoReturn:
    _no_more_retries()
    raise NonRetryableError(str(reason)) from reason


def run(record_id: str) -> Any:
    global _entered
    _entered = True
    supervised = _supervised if _supervised is not None and _supervised.record_id == record_id else None
    record = supervised.record if supervised else record_attempt_started(record_id=record_id)
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
    global _returned
    duration = time.monotonic() - started
    _returned = {"result": result, "duration": duration}
    if supervised is None:
        record_succeeded(record=record, result=result, duration=duration)
    return result
