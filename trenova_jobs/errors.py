"""Errors raised by the job service; the API and admin turn them into clean messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class JobError(Exception):
    """Base class for job-service errors that callers are expected to handle."""


class UnknownJobTypeError(JobError):
    """No job type is registered under the given name."""


class PayloadValidationError(JobError):
    """A payload does not match its job type's payload type; nothing was written."""

    def __init__(self, job_type: str, errors: Sequence[Mapping[str, Any]]) -> None:
        self.job_type = job_type
        self.errors = errors
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in errors)
        super().__init__(f"Invalid payload for {job_type}: {details}")


class JobStateError(JobError):
    """The job record is not in a state that allows the requested change (e.g. cancelling a finished job)."""


class NonRetryableError(Exception):
    """Raised by a handler when retrying cannot help (a missing row, an impossible request).

    The job fails at once, whatever retries it has left.
    """
