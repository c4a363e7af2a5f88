"""No record stays ``running``, no job is lost or run twice: the reconciler and the reaper.

The windows these cover (a worker dying between two Redis or database writes) cannot be hit on purpose
with a real kill, so each test builds the state such a death leaves — in the real database and the real
Redis — and then runs the real sweep, and where it matters a real worker, over it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from tests.trenova_jobs.conftest import burst_run, queued_ids, record_get, rq_job_get
from trenova_jobs import enqueue
from trenova_jobs.liveness import inflight_key, worker_beat, worker_forget
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.outbox import dispatch_pending
from trenova_jobs.outcomes import FAILURE_META, attempt_settle
from trenova_jobs.queues import queue_get
from trenova_jobs.recovery import _recover, abandoned_jobs_recover, stuck_records_reconcile
from trenova_jobs.rq_compat import dequeue_into
from trenova_jobs.transitions import record_attempt_failed, record_attempt_started

pytestmark = pytest.mark.django_db(transaction=True)


def _age_attempt(record_id: str, seconds: int = 120) -> JobRecord:
    """Make the current attempt look ``seconds`` old, past the reconciler's patience."""
    JobRecord.objects.filter(pk=record_id).update(started_at=timezone.now() - timedelta(seconds=seconds))
    return record_get(record_id)


def _finish_then_forget(start_worker, job_type: str, payload: dict, **options) -> JobRecord:
    """Run a job with a real worker, then put its record back to ``running`` — as if the worker had
    died after its horse finished but before it wrote the outcome."""
    record = enqueue(job_type, payload, **options)
    burst_run(start_worker)
    done = record_get(record.id)
    assert done.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
    JobRecord.objects.filter(pk=record.id).update(
        status=JobStatus.RUNNING, result=None, error="", finished_at=None, unique_lock=done.unique_key or None
    )
    return _age_attempt(record.id)


# --- The reconciler -------------------------------------------------------------------------------


@pytest.mark.worker
def test_a_job_dequeued_by_a_worker_that_died_before_starting_it_runs_again(redis_conn, start_worker):
    record = enqueue("system:noop", {"value": 7})
    # The worker popped the job and marked the attempt started, then died before its horse ran: the job
    # is in no queue and no registry.
    assert redis_conn.lpop(queue_get("default").key).decode() == record.id
    record_attempt_started(record_id=record.id)
    _age_attempt(record.id)

    assert stuck_records_reconcile() == 1
    stuck = record_get(record.id)
    assert stuck.status == JobStatus.RETRYING
    assert "died before starting it" in stuck.error
    assert queued_ids() == [record.id]

    burst_run(start_worker)
    done = record_get(record.id)
    assert (done.status, done.attempts, done.result) == (JobStatus.SUCCEEDED, 2, {"value": 7})


@pytest.mark.worker
def test_a_finished_job_whose_outcome_was_never_written_is_settled_once(redis_conn, start_worker):
    record = _finish_then_forget(start_worker, "system:noop", {"value": 3}, unique_key="settle-once")
    redis_conn.delete(f"test:signal:succeeded:{record.id}")

    assert stuck_records_reconcile() == 1
    done = record_get(record.id)
    assert (done.status, done.result, done.unique_lock) == (JobStatus.SUCCEEDED, {"value": 3}, None)
    # The worker that ran it, coming back to settle the same attempt, changes nothing and signals nothing.
    assert attempt_settle(rq_job_get(redis_conn, record.id), record) is False
    assert stuck_records_reconcile() == 0
    assert redis_conn.get(f"test:signal:succeeded:{record.id}") == b"1"


@pytest.mark.worker
def test_a_failed_job_whose_outcome_was_never_written_is_failed_with_its_error(redis_conn, start_worker):
    token = uuid.uuid4().hex
    record = _finish_then_forget(start_worker, "test:always_fail", {"token": token}, max_retries=0)
    redis_conn.delete(f"test:signal:failed:{record.id}")

    assert stuck_records_reconcile() == 1
    failed = record_get(record.id)
    assert failed.status == JobStatus.FAILED
    assert failed.error == "RuntimeError: always fails"
    assert redis_conn.get(f"test:signal:failed:{record.id}") == b"1"


def _started_by(redis_conn, record: JobRecord, worker_name: str) -> Job:
    """The state a worker leaves once its horse has started the job (minus the started registry)."""
    record_attempt_started(record_id=record.id)
    job = rq_job_get(redis_conn, record.id)
    queue_get("default").remove(job)
    job.worker_name = worker_name
    job.set_status("started")
    job.save()
    return job


def _abandon_to_rq_cleanup(redis_conn, record: JobRecord) -> None:
    """Leave the started job in rq's started registry with its heartbeat expired, then let rq's own
    registry cleanup (not ours) deal with it, as rq's maintenance would after ~10 minutes."""
    job = _started_by(redis_conn, record, "a-worker-long-gone")
    registry = StartedJobRegistry("default", connection=redis_conn)
    redis_conn.zadd(registry.key, {job.id: 1})  # expired long ago
    assert registry.cleanup() == [record.id]
    _age_attempt(record.id)


def test_a_job_failed_by_rq_cleanup_is_failed_in_its_record(redis_conn):
    record = enqueue("system:noop", {}, max_retries=0)
    _abandon_to_rq_cleanup(redis_conn, record)
    assert FailedJobRegistry("default", connection=redis_conn).get_job_ids() == [record.id]

    assert stuck_records_reconcile() == 1
    failed = record_get(record.id)
    assert failed.status == JobStatus.FAILED
    assert "due to AbandonedJobError" in failed.error
    assert redis_conn.get(f"test:signal:failed:{record.id}") == b"1"


def test_a_job_rq_cleanup_retries_leaves_its_record_retrying(redis_conn):
    record = enqueue("system:noop", {}, max_retries=2)
    _abandon_to_rq_cleanup(redis_conn, record)
    assert ScheduledJobRegistry("default", connection=redis_conn).get_job_ids() == [record.id]

    assert stuck_records_reconcile() == 1
    retrying = record_get(record.id)
    assert retrying.status == JobStatus.RETRYING
    assert "rq retries the job" in retrying.error
    assert ScheduledJobRegistry("default", connection=redis_conn).get_job_ids() == [record.id]
    assert queued_ids() == []  # rq retries it when due; nothing is queued twice


def test_a_retry_failure_left_in_redis_is_copied_to_the_record(redis_conn):
    record = enqueue("system:noop", {}, max_retries=2)
    record_attempt_started(record_id=record.id)
    job = rq_job_get(redis_conn, record.id)
    queue = queue_get("default")
    queue.remove(job)
    job.meta[FAILURE_META] = {"error": "ValueError: x", "traceback": "tb", "will_retry": True, "retry_in": 2}
    job.save_meta()
    queue.schedule_job(job, timezone.now() + timedelta(seconds=30))
    _age_attempt(record.id)

    assert stuck_records_reconcile() == 1
    retrying = record_get(record.id)
    assert (retrying.status, retrying.error, retrying.traceback) == (JobStatus.RETRYING, "ValueError: x", "tb")


def test_a_job_missing_from_redis_is_pushed_again(redis_conn):
    record = enqueue("system:noop", {})
    record_attempt_started(record_id=record.id)
    rq_job_get(redis_conn, record.id).delete()
    _age_attempt(record.id)

    assert stuck_records_reconcile() == 1
    assert record_get(record.id).status == JobStatus.PENDING
    assert dispatch_pending(min_age_seconds=0).pushed == 1
    assert queued_ids() == [record.id]


def test_a_long_job_of_a_live_worker_is_left_alone(redis_conn):
    record = enqueue("system:noop", {}, max_retries=1)
    job = _started_by(redis_conn, record, "busy-worker")
    StartedJobRegistry("default", connection=redis_conn).add(job, ttl=600)
    worker_beat(redis_conn, "busy-worker")
    _age_attempt(record.id, seconds=3600)

    assert stuck_records_reconcile() == 0
    assert abandoned_jobs_recover(connection=redis_conn, queues=[queue_get("default")]) == []
    assert record_get(record.id).status == JobStatus.RUNNING

    # Once the worker is gone, the reaper (not the reconciler) takes it; the reconciler then finds the
    # attempt settled and does nothing more.
    worker_forget(redis_conn, "busy-worker")
    assert stuck_records_reconcile() == 0
    assert abandoned_jobs_recover(connection=redis_conn, queues=[queue_get("default")]) == [record.id]
    assert record_get(record.id).status == JobStatus.RETRYING
    assert stuck_records_reconcile() == 0
    assert queued_ids() == [record.id]


def test_a_started_job_of_a_dead_worker_in_no_registry_runs_again(redis_conn):
    record = enqueue("system:noop", {}, max_retries=1)
    _started_by(redis_conn, record, "gone-worker")
    _age_attempt(record.id)

    assert stuck_records_reconcile() == 1
    assert record_get(record.id).status == JobStatus.RETRYING
    assert queued_ids() == [record.id]


def test_a_fresh_running_record_is_not_checked(redis_conn):
    record = enqueue("system:noop", {})
    record_attempt_started(record_id=record.id)
    rq_job_get(redis_conn, record.id).delete()
    assert stuck_records_reconcile() == 0
    assert record_get(record.id).status == JobStatus.RUNNING


# --- Racers: the reaper, rq's own cleanup and the reconciler move a job once ----------------------


def test_a_stale_recovery_does_not_move_a_job_someone_else_moved(redis_conn):
    record = enqueue("system:noop", {}, max_retries=2)
    job = _started_by(redis_conn, record, "gone-worker")
    registry = StartedJobRegistry("default", connection=redis_conn)
    registry.add(job, ttl=600)
    stale = rq_job_get(redis_conn, record.id)  # what a slower sweeper read a moment ago

    assert abandoned_jobs_recover(connection=redis_conn, queues=[queue_get("default")]) == [record.id]
    assert _recover(stale, queue_get("default"), registry) is False
    assert _recover(stale, queue_get("default"), registry, attempt=1) is False
    assert queued_ids() == [record.id]
    assert record_get(record.id).status == JobStatus.RETRYING


def test_a_job_held_in_a_workers_in_flight_list_is_left_to_that_worker(redis_conn):
    # A worker moved the job into its in-flight list (atomically with the pop): the job is in no queue
    # and no registry, yet not lost; re-queuing it here would run it twice.
    record = enqueue("system:noop", {})
    queue = queue_get("default")
    worker_beat(redis_conn, "holder")
    assert dequeue_into(redis_conn, inflight_key("holder"), [queue.key], None) == (queue.key, record.id)
    record_attempt_started(record_id=record.id)
    _age_attempt(record.id)

    assert stuck_records_reconcile() == 0
    assert queued_ids() == []
    assert record_get(record.id).status == JobStatus.RUNNING


# --- Retrying records -----------------------------------------------------------------------------


def _retrying(redis_conn, record: JobRecord) -> Job:
    """A failed attempt waiting for its retry, overdue by two minutes."""
    record_attempt_started(record_id=record.id)
    record_attempt_failed(record_id=record.id, error="ValueError: x", will_retry=True, retry_in=1)
    JobRecord.objects.filter(pk=record.pk).update(scheduled_for=timezone.now() - timedelta(minutes=2))
    job = rq_job_get(redis_conn, record.id)
    queue_get("default").remove(job)
    job.set_status("scheduled")
    job.save()
    return job


def test_a_retry_lost_from_the_scheduled_registry_is_queued_again(redis_conn):
    record = enqueue("system:noop", {}, max_retries=2)
    _retrying(redis_conn, record)  # and in no registry

    assert stuck_records_reconcile() == 1
    assert queued_ids() == [record.id]
    assert record_get(record.id).status == JobStatus.RETRYING  # until a worker starts it


def test_a_retry_waiting_in_the_scheduled_registry_is_left_alone(redis_conn):
    record = enqueue("system:noop", {}, max_retries=2)
    job = _retrying(redis_conn, record)
    queue_get("default").schedule_job(job, timezone.now() + timedelta(minutes=1))

    assert stuck_records_reconcile() == 0
    assert queued_ids() == []


def test_a_retrying_record_whose_job_redis_lost_is_pushed_again(redis_conn):
    record = enqueue("system:noop", {}, max_retries=2)
    _retrying(redis_conn, record).delete()

    assert stuck_records_reconcile() == 1
    assert record_get(record.id).status == JobStatus.PENDING


def test_a_lost_retry_carrying_its_failed_attempts_meta_is_queued_again(redis_conn):
    # Every retry carries the failure meta of the attempt that asked for it; that attempt is settled,
    # and the meta must not stop the reconciler from finding the lost retry.
    record = enqueue("system:noop", {}, max_retries=2)
    job = _retrying(redis_conn, record)
    job.meta[FAILURE_META] = {"error": "ValueError: x", "traceback": "tb", "will_retry": True, "retry_in": 1}
    job.save_meta()
    scheduled_for = record_get(record.id).scheduled_for

    assert stuck_records_reconcile() == 1
    assert queued_ids() == [record.id]
    assert record_get(record.id).scheduled_for == scheduled_for  # the settled attempt is not rewritten
    assert stuck_records_reconcile() == 0  # queued now: nothing more to do
