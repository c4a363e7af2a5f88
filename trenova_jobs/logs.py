"""One log style for every job event: ``event=... job_id=... job_type=... queue=... attempt=...``.

Each line also carries its fields as ``record.job`` (a dict), for structured log handlers. Events about a
job use ``log_job``; events of a worker or a sweep with no record at hand use ``log_event``. Every event
the job framework logs goes through one of the two. Importing this module loads no model, so any module
may use it, whenever it is imported.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trenova_jobs.models import JobRecord

logger = logging.getLogger("trenova_jobs")


def log_job(event: str, record: JobRecord, level: int = logging.INFO, **fields: Any) -> None:
    log_event(
        event,
        level,
        job_id=record.id,
        job_type=record.job_type,
        queue=record.queue,
        attempt=record.attempts,
        **fields,
    )


def log_event(event: str, level: int = logging.INFO, *, exc_info: bool | BaseException = False, **fields: Any) -> None:
    if not logger.isEnabledFor(level):
        return  # every job logs several events: build no text nobody reads
    parts = {"event": event, **fields}
    logger.log(level, " ".join(f"{k}={v}" for k, v in parts.items()), extra={"job": parts}, exc_info=exc_info)
