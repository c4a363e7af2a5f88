"""Job types owned by the job framework itself."""

from __future__ import annotations

import time

from pydantic import Field

from trenova_jobs.payloads import JobPayload
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
