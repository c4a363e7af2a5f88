"""The outcome of an attempt, from what rq holds in Redis to the job record.

Used by the worker when its horse left no outcome file (it was killed), and by recovery and the reconciler
for attempts whose worker died before recording them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TypedDict

from rq.job import Job, JobStatus
from rq.results import Result

from trenova_jobs.models import JobRecord
from trenova_jobs.rq_compat import job_failure_text
from trenova_jobs.transitions import RUNNING_ONLY, AttemptScope, record_attempt_failed, record_succeeded

# Where a work horse leaves the outcome of a failed attempt, in the job's meta, for whoever records it.
FAILURE_META = "trenova_failure"


class AttemptFailure(TypedDict):
    """A failed attempt as the worker leaves it under ``FAILURE_META`` (and in the horse's outcome file):
    the keyword arguments ``record_attempt_failed`` takes besides the record and the attempt."""

    error: str
    traceback: str
    will_retry: bool
    retry_in: float


def error_summary(exc_string: str) -> str:
    """The last line of a traceback: what the record shows as the error."""
    lines = [line for line in (exc_string or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "Job failed without an exception message."


def attempt_settle(job: Job, record: JobRecord, statuses: Collection[str] = RUNNING_ONLY) -> bool:
    """Write the outcome rq recorded for ``record``'s current attempt; False when there is none yet.

    Only the attempt ``record`` describes is settled (``record.attempts``), only while the record is in
    one of ``statuses``, and only once: the worker that ran it and the reconciler may both try, and the
    first one wins.
    """
    where: AttemptScope = {"attempt": record.attempts, "statuses": statuses}
    failure = job.meta.get(FAILURE_META)
    if failure is not None:
        return record_attempt_failed(record_id=record.id, **where, **failure) is not None
    state = job.get_status(refresh=False)
    if state == JobStatus.FINISHED:
        duration = (job.ended_at - job.started_at).total_seconds() if job.ended_at and job.started_at else 0.0
        return record_succeeded(record=record, result=job.return_value(refresh=True), duration=duration, **where)
    if state in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        exc_string = _rq_failure_text(job)
        return (
            record_attempt_failed(
                record_id=record.id,
                error=error_summary(exc_string) if exc_string else f"The job ended {state} in rq.",
                traceback=exc_string,
                will_retry=False,
                **where,
            )
            is not None
        )
    return False


def _rq_failure_text(job: Job) -> str:
    latest = job.latest_result()
    if latest is not None and latest.type == Result.Type.FAILED and latest.exc_string:
        return latest.exc_string
    return job_failure_text(job)
