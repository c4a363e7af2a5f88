"""Helpers the job framework's tests share (fixtures are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from subprocess import Popen

import redis
from rq.job import Job
from rq.serializers import JSONSerializer

from trenova_jobs.models import JobRecord
from trenova_jobs.queues import queue_get


def queued_ids(queue: str = "default") -> list[str]:
    """The job ids waiting in ``queue``, in order."""
    return queue_get(queue).get_job_ids()


def record_get(record_id: str) -> JobRecord:
    """The job record as the database has it now."""
    return JobRecord.objects.get(pk=record_id)


def rq_job_get(redis_conn: redis.Redis, job_id: str) -> Job:
    """The rq job as Redis has it now."""
    return Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)


def burst_run(start_worker: Callable[..., Popen]) -> None:
    """Run a real worker until every queue is empty (``--burst``); it must exit cleanly."""
    proc = start_worker("--burst")
    assert proc.wait(timeout=60) == 0
