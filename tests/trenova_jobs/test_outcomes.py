"""Settling an attempt from what rq holds in Redis: nothing before rq has an outcome, a failure the worker
left in the job's meta even for an attempt never marked started."""

from __future__ import annotations

import pytest

from tests.trenova_jobs.conftest import record_get, rq_job_get
from trenova_jobs import enqueue
from trenova_jobs.models import JobStatus
from trenova_jobs.outcomes import FAILURE_META, attempt_settle
from trenova_jobs.transitions import record_attempt_started

pytestmark = pytest.mark.django_db(transaction=True)


def test_settling_before_rq_has_an_outcome_writes_nothing(redis_conn):
    # The job is still queued in rq: no result, no failure, so the record stays as it is.
    record = enqueue("system:noop", {})
    started = record_attempt_started(record_id=record.id)
    assert attempt_settle(rq_job_get(redis_conn, record.id), started) is False
    assert record_get(record.id).status == JobStatus.RUNNING


def test_a_final_failure_of_an_attempt_never_marked_started_is_recorded(redis_conn):
    # The database was down when the worker took the job, so the record still says queued.
    record = enqueue("system:noop", {})
    job = rq_job_get(redis_conn, record.id)
    job.meta[FAILURE_META] = {"error": "OperationalError: db down", "traceback": "tb", "will_retry": False}
    job.save_meta()

    assert attempt_settle(job, record_get(record.id)) is False  # the default: running records only
    assert attempt_settle(job, record_get(record.id), (JobStatus.RUNNING, JobStatus.QUEUED)) is True
    failed = record_get(record.id)
    assert (failed.status, failed.error) == (JobStatus.FAILED, "OperationalError: db down")
