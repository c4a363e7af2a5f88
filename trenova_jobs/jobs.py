"""Job types owned by the job framework itself."""

from __future__ import annotations

from trenova_jobs.payloads import JobPayload
from trenova_jobs.registry import JobContext, job_type


class SystemNoopPayload(JobPayload):
    value: int = 0


@job_type("system:noop", payload=SystemNoopPayload, queue="default", max_retries=0)
def handle_system_noop(payload: SystemNoopPayload, ctx: JobContext) -> dict:
    """Does nothing; used by tests, benchmarks and health checks."""
    return {"value": payload.value}
