"""The registry of job types: each app declares its handlers in its ``jobs.py`` with ``@job_type``.

    @job_type("pattern:analyze", payload=PatternAnalyzePayload, queue="pattern", max_retries=2)
    def handle_pattern_analyze(payload: PatternAnalyzePayload, ctx: JobContext) -> dict: ...

``TrenovaJobsConfig.ready()`` imports every installed app's ``jobs`` module (and the modules listed in
``TRENOVA_JOBS_MODULES``) so that web processes and workers know the same types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trenova_jobs.conf import queue_weights
from trenova_jobs.errors import UnknownJobTypeError
from trenova_jobs.payloads import EmptyPayload, JobPayload

DEFAULT_TIMEOUT_SECONDS = 600
DEFAULT_UNIQUE_TTL_SECONDS = 3600


@dataclass(frozen=True)
class JobContext:
    """What a handler may want to know about the run it is part of."""

    job_id: str
    job_type: str
    attempt: int
    max_retries: int
    organization_id: int | None
    business_unit_id: int | None
    user_id: int | None

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Say how far the job has got (``done`` of ``total``; a short message). Throttled; never fails the
        job when Redis is down. Shown by GET /api/v1/jobs/{id}/, the job record page and the dashboard."""
        from trenova_jobs.progress import progress_report

        progress_report(self.job_id, done, total, message)


Handler = Callable[[Any, JobContext], Any]


@dataclass(frozen=True)
class JobType:
    name: str
    handler: Handler
    payload: type[JobPayload]
    queue: str
    max_retries: int
    timeout: int
    unique_ttl: int
    description: str

    def __str__(self) -> str:
        return self.name


_registry: dict[str, JobType] = {}


def job_type(
    name: str,
    *,
    payload: type[JobPayload] = EmptyPayload,
    queue: str = "default",
    max_retries: int = 3,
    timeout: int = DEFAULT_TIMEOUT_SECONDS,
    unique_ttl: int = DEFAULT_UNIQUE_TTL_SECONDS,
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of job type ``name``."""
    if ":" not in name:
        raise ValueError(f"Job type names are 'category:action'; got {name!r}.")
    if queue not in queue_weights():
        raise ValueError(f"Job type {name!r} uses queue {queue!r}, which is not in TRENOVA_JOBS_QUEUE_WEIGHTS.")
    if max_retries < 0 or timeout <= 0 or unique_ttl <= 0:
        raise ValueError(f"Job type {name!r}: max_retries must be >= 0, timeout and unique_ttl > 0.")
    if not (isinstance(payload, type) and issubclass(payload, JobPayload)):
        raise TypeError(f"Job type {name!r}: payload must be a JobPayload subclass.")

    def register(handler: Handler) -> Handler:
        existing = _registry.get(name)
        if existing is not None and existing.handler.__qualname__ != handler.__qualname__:
            raise ValueError(f"Job type {name!r} is already registered by {existing.handler.__module__}.")
        _registry[name] = JobType(
            name=name,
            handler=handler,
            payload=payload,
            queue=queue,
            max_retries=max_retries,
            timeout=timeout,
            unique_ttl=unique_ttl,
            description=(handler.__doc__ or "").strip().splitlines()[0] if handler.__doc__ else "",
        )
        return handler

    return register


def registry_get(name: str) -> JobType:
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise UnknownJobTypeError(f"Unknown job type {name!r}. Registered types: {known}.") from None


def job_type_names() -> list[str]:
    """The names of every registered job type, sorted (e.g. to check each has a notification config)."""
    return sorted(_registry)
