"""Operator actions: cancel a job that has not started, retry one that failed or was cancelled."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from tests.trenova_jobs.conftest import burst_run, queued_ids, record_get, rq_job_get
from trenova_jobs import enqueue
from trenova_jobs.actions import job_cancel, job_retry
from trenova_jobs.errors import JobStateError
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.queues import queue_get
from trenova_jobs.transitions import record_attempt_failed, record_attempt_started

pytestmark = pytest.mark.django_db(transaction=True)


# --- Cancel ---------------------------------------------------------------------------------------


def test_cancel_removes_the_rq_job_and_releases_the_key(redis_conn):
    record = enqueue("system:noop", {}, unique_key="c")
    cancelled = job_cancel(record=record)
    assert cancelled.status == JobStatus.CANCELLED and cancelled.finished_at is not None
    assert queued_ids() == []
    assert not Job.exists(record.id, connection=redis_conn)
    assert enqueue("system:noop", {}, unique_key="c").deduplicated is False
    with pytest.raises(JobStateError, match="cancelled"):
        job_cancel(record=cancelled)


def test_running_jobs_cannot_be_cancelled(redis_conn):
    record = enqueue("system:noop", {})
    record_attempt_started(record_id=record.id)
    with pytest.raises(JobStateError, match="running"):
        job_cancel(record=JobRecord.objects.get(pk=record.pk))
    assert JobRecord.objects.get(pk=record.pk).status == JobStatus.RUNNING


def test_a_delayed_job_is_scheduled_in_rq_and_cancel_removes_it(redis_conn):
    record = enqueue("system:noop", {}, delay=timedelta(minutes=5))
    assert rq_job_get(redis_conn, record.id).get_status() == "scheduled"
    job_cancel(record=record)
    assert ScheduledJobRegistry("default", connection=redis_conn).get_job_ids() == []
    assert not Job.exists(record.id, connection=redis_conn)


def test_cancel_removes_a_scheduled_job_whatever_status_its_hash_claims(redis_conn):
    record = enqueue("system:noop", {}, max_retries=2)
    record_attempt_started(record_id=record.id)
    record_attempt_failed(record_id=record.id, error="x", will_retry=True, retry_in=60)
    job = rq_job_get(redis_conn, record.id)
    queue = queue_get("default")
    queue.remove(job)
    job.set_status("failed")  # a status that does not name the scheduled registry
    queue.schedule_job(job, timezone.now() + timedelta(minutes=1))

    job_cancel(record=record_get(record.id))
    assert ScheduledJobRegistry("default", connection=redis_conn).get_job_ids() == []


# --- Retry ----------------------------------------------------------------------------------------


def test_retry_requeues_a_failed_job_under_the_same_id(redis_conn):
    record = enqueue("system:noop", {}, unique_key="r")
    record_attempt_started(record_id=record.id)
    record_attempt_failed(record_id=record.id, error="boom", will_retry=False)
    failed = JobRecord.objects.get(pk=record.pk)
    retried = job_retry(record=failed)
    assert retried.status == JobStatus.QUEUED
    assert (retried.attempts, retried.error, retried.unique_lock) == (0, "", "r")
    assert queued_ids() == [record.id]
    with pytest.raises(JobStateError, match="only failed or cancelled"):
        job_retry(record=retried)


def test_retry_refuses_while_another_job_holds_the_key(redis_conn):
    record = enqueue("system:noop", {}, unique_key="r")
    job_cancel(record=record)
    holder = enqueue("system:noop", {}, unique_key="r")
    assert holder.deduplicated is False
    with pytest.raises(JobStateError, match="holds unique key"):
        job_retry(record=JobRecord.objects.get(pk=record.pk))
    assert JobRecord.objects.get(pk=record.pk).status == JobStatus.CANCELLED


@pytest.mark.worker
def test_retry_of_a_job_that_failed_in_a_worker_runs_it_afresh(redis_conn, start_worker):
    token = uuid.uuid4().hex
    record = enqueue("test:flaky", {"token": token, "fail_times": 1}, max_retries=0)
    burst_run(start_worker)
    failed = record_get(record.id)
    assert failed.status == JobStatus.FAILED
    assert FailedJobRegistry("default", connection=redis_conn).get_job_ids() == [record.id]

    job_retry(record=failed)
    assert FailedJobRegistry("default", connection=redis_conn).get_job_ids() == []
    assert queued_ids() == [record.id]
    burst_run(start_worker)
    done = record_get(record.id)
    assert (done.status, done.attempts, done.result["attempt"]) == (JobStatus.SUCCEEDED, 1, 1)
