"""The job framework's public surface: what other apps import (``from trenova_jobs import enqueue``).

    from trenova_jobs import JobContext, JobPayload, NonRetryableError, enqueue, job_type

Names are resolved lazily (PEP 562), so importing the package while Django loads its apps touches no
model. Everything else in the package is internal: see docs/architecture.md for the modules.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "enqueue": "trenova_jobs.enqueuing",
    "job_type": "trenova_jobs.registry",
    "job_type_names": "trenova_jobs.registry",
    "JobContext": "trenova_jobs.registry",
    "JobPayload": "trenova_jobs.payloads",
    "EmptyPayload": "trenova_jobs.payloads",
    "JobError": "trenova_jobs.errors",
    "JobStateError": "trenova_jobs.errors",
    "NonRetryableError": "trenova_jobs.errors",
    "PayloadValidationError": "trenova_jobs.errors",
    "UnknownJobTypeError": "trenova_jobs.errors",
    "JobRecord": "trenova_jobs.models",
    "JobStatus": "trenova_jobs.models",
    "job_cancel": "trenova_jobs.actions",
    "job_retry": "trenova_jobs.actions",
    "job_succeeded": "trenova_jobs.signals",
    "job_failed": "trenova_jobs.signals",
    "redis_ping": "trenova_jobs.outbox",
    "OperationsOverview": "trenova_jobs.selectors",
    "operations_overview": "trenova_jobs.selectors",
    "progress_html": "trenova_jobs.progress",
}

__all__ = [
    "EmptyPayload",
    "JobContext",
    "JobError",
    "JobPayload",
    "JobRecord",
    "JobStateError",
    "JobStatus",
    "NonRetryableError",
    "OperationsOverview",
    "PayloadValidationError",
    "UnknownJobTypeError",
    "enqueue",
    "job_cancel",
    "job_failed",
    "job_retry",
    "job_succeeded",
    "job_type",
    "job_type_names",
    "operations_overview",
    "progress_html",
    "redis_ping",
]

if TYPE_CHECKING:
    from trenova_jobs.actions import job_cancel, job_retry
    from trenova_jobs.enqueuing import enqueue
    from trenova_jobs.errors import (
        JobError,
        JobStateError,
        NonRetryableError,
        PayloadValidationError,
        UnknownJobTypeError,
    )
    from trenova_jobs.models import JobRecord, JobStatus
    from trenova_jobs.outbox import redis_ping
    from trenova_jobs.payloads import EmptyPayload, JobPayload
    from trenova_jobs.progress import progress_html
    from trenova_jobs.registry import JobContext, job_type, job_type_names
    from trenova_jobs.selectors import OperationsOverview, operations_overview
    from trenova_jobs.signals import job_failed, job_succeeded


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trenova_jobs' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # resolved once
    return value
