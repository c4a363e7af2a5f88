"""Bad data never leaves a record stuck or stops a worker: unstorable results, broken registry entries,
unknown queues, an unexpected error in the loop."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rq.registry import StartedJobRegistry

from tests.conftest import wait_for
from trenova_jobs import enqueue
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.outbox import dispatch_pending
from trenova_jobs.payloads import ResultNotJSONError, result_to_json
from trenova_jobs.queues import queue_get
from trenova_jobs.recovery import stuck_records_reconcile
from trenova_jobs.rq_compat import job_result_set
from trenova_jobs.stats import EVENTS_KEY
from trenova_jobs.transitions import record_attempt_failed, record_attempt_started, record_succeeded, sanitize_text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"x": float("nan")}, "not JSON"),
        ([float("inf")], "not JSON"),
        ({"x": object()}, "not JSON"),
        ({"text": "a\x00b"}, "NUL"),
        ({"k\x00": 1}, "NUL"),
    ],
)
def test_results_must_be_strict_json(value, reason):
    with pytest.raises(ResultNotJSONError, match=reason):
        result_to_json(value)


def test_strings_that_merely_look_like_escapes_are_fine():
    assert result_to_json({"path": "C:\\u0000"}) == {"path": "C:\\u0000"}


def test_error_text_is_made_storable():
    assert sanitize_text("a\x00b\ud800c") == "a\\x00b\\ud800c"


@pytest.mark.worker
@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("nan", "not JSON"),
        ("inf", "not JSON"),
        ("nul_result", "NUL character"),
        ("object", "not JSON"),
        ("nul_error", "bad \\x00 byte"),
    ],
)
def test_a_handler_that_returns_or_raises_unstorable_text_fails_clearly(redis_conn, start_worker, kind, error):
    record = enqueue("test:returns", {"kind": kind})
    assert start_worker("default", "--burst", "--no-scheduler").wait(timeout=60) == 0
    failed = JobRecord.objects.get(pk=record.id)
    assert failed.status == JobStatus.FAILED, failed.error
    assert error in failed.error
    assert failed.unique_lock is None and failed.finished_at is not None
    assert redis_conn.get(f"test:signal:failed:{record.id}") == b"1"


def test_an_outcome_postgresql_refuses_fails_the_record_with_the_reason(redis_conn):
    # Written past the handler's validation (an older worker, a bug): PostgreSQL refuses the NUL.
    record = enqueue("system:noop", {}, unique_key="refused-outcome")
    record_attempt_started(record_id=record.id)
    assert record_succeeded(record=record, result={"text": "a\x00b"}, duration=0.1) is True
    failed = JobRecord.objects.get(pk=record.id)
    assert failed.status == JobStatus.FAILED
    assert failed.error.startswith("The job's outcome could not be stored:")
    assert failed.unique_lock is None
    assert redis_conn.get(f"test:signal:failed:{record.id}") == b"1"


def test_an_unstorable_error_is_stored_sanitised(redis_conn):
    record = enqueue("system:noop", {})
    record_attempt_started(record_id=record.id)
    record_attempt_failed(record_id=record.id, error="x\x00y", traceback="tb\x00", will_retry=False)
    failed = JobRecord.objects.get(pk=record.id)
    assert (failed.status, failed.error, failed.traceback) == (JobStatus.FAILED, "x\\x00y", "tb\\x00")


def test_the_reconciler_settles_a_finished_job_whose_result_postgresql_refuses(redis_conn):
    record = enqueue("system:noop", {})
    queue = queue_get("default")
    job = queue.fetch_job(record.id)
    record_attempt_started(record_id=record.id)
    JobRecord.objects.filter(pk=record.id).update(started_at=record.created_at.replace(year=2020))
    # rq says it finished with a result PostgreSQL cannot hold (the JSON serializer allows NaN).
    job_result_set(job, {"v": float("nan")})
    job.set_status("finished")
    job._handle_success(3600, pipeline=redis_conn)  # rq's own success write, to build the state it leaves
    job.save()
    assert stuck_records_reconcile() == 1
    settled = JobRecord.objects.get(pk=record.id)
    assert settled.status == JobStatus.FAILED and "could not be stored" in settled.error
    assert stuck_records_reconcile() == 0  # settled once, not on every sweep


# --- The worker carries on ---------------------------------------------------------------------------


@pytest.mark.worker
def test_a_started_registry_entry_rq_cannot_parse_is_removed_and_the_worker_runs(redis_conn, start_worker):
    registry = StartedJobRegistry("default", connection=redis_conn)
    broken = enqueue("system:noop", {}).id
    redis_conn.lrem(queue_get("default").key, 1, broken)
    redis_conn.hset(f"rq:job:{broken}", mapping={"status": "started", "created_at": "12/31/99"})
    redis_conn.zadd(registry.key, {broken: time.time() - 1000})  # expired: rq's own clean-up raised on it
    record = enqueue("system:noop", {"value": 2})
    worker = start_worker("default")
    wait_for(lambda: JobRecord.objects.get(pk=record.id).status == JobStatus.SUCCEEDED, timeout=30, message="run")
    wait_for(lambda: redis_conn.zscore(registry.key, broken) is None, timeout=20, message="entry removed")
    assert int(redis_conn.hget(EVENTS_KEY, "bad_entry_removed")) == 1
    assert worker.poll() is None


@pytest.mark.worker
def test_rqworker_exits_non_zero_when_it_stops_on_an_error(start_worker):
    worker = start_worker("--burst", env={"TRENOVA_JOBS_FAULT_POINT": "raise:loop"})
    assert worker.wait(timeout=60) == 1
    log = Path(worker.log_path).read_text()
    assert "event=worker_stopped_on_error" in log
    assert "The worker stopped on an error" in log


@pytest.mark.worker
def test_rqworker_exits_zero_when_it_is_done(start_worker):
    assert start_worker("--burst").wait(timeout=60) == 0


# --- The outbox ------------------------------------------------------------------------------------


def test_one_unpushable_record_does_not_block_the_outbox(redis_conn, private_redis):
    private_redis.stop()
    orphan = enqueue("system:noop", {})
    good = enqueue("system:noop", {"value": 1})
    private_redis.start()
    JobRecord.objects.filter(pk=orphan.id).update(queue="retired")  # a queue since removed from settings

    result = dispatch_pending(min_age_seconds=0)

    assert (result.pushed, result.failed, result.still_pending) == (1, 1, 0)
    failed = JobRecord.objects.get(pk=orphan.id)
    assert failed.status == JobStatus.FAILED and "Unknown queue 'retired'" in failed.error
    assert JobRecord.objects.get(pk=good.id).status == JobStatus.QUEUED
