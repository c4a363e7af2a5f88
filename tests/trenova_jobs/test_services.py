"""The enqueue service against real PostgreSQL and Redis: validation, outbox, dedup, delays, cancel/retry."""

from __future__ import annotations

import json
import threading
import zlib
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from trenova_jobs import enqueue
from trenova_jobs.actions import job_cancel, job_retry
from trenova_jobs.errors import JobStateError, PayloadValidationError, UnknownJobTypeError
from trenova_jobs.jobs import SystemNoopPayload
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.outbox import dispatch_pending, lost_records_reset
from trenova_jobs.queues import queue_get
from trenova_jobs.transitions import record_attempt_failed, record_attempt_started, record_succeeded

pytestmark = pytest.mark.django_db(transaction=True)


def _queued_ids(name: str = "default") -> list[str]:
    return queue_get(name).get_job_ids()


# --- Validation: bad input is refused and nothing is written -------------------------------------


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"value": "5"}, "valid integer"),  # ill-typed: strings are not coerced
        ({"valu": 5}, "Extra inputs"),  # unknown field
        ({"token": "x", "fail_times": 1.5}, "valid integer"),
        ([1, 2], "JSON object"),
    ],
)
def test_invalid_payload_is_refused_before_anything_is_written(redis_conn, payload, fragment):
    job_type = "test:flaky" if "token" in payload else "system:noop"
    with pytest.raises(PayloadValidationError) as excinfo:
        enqueue(job_type, payload)
    assert fragment in str(excinfo.value)
    assert JobRecord.objects.count() == 0
    assert _queued_ids() == []


def test_missing_field_is_named_in_the_error(redis_conn):
    with pytest.raises(PayloadValidationError) as excinfo:
        enqueue("test:flaky", {"fail_times": 1})
    assert "token: Field required" in str(excinfo.value)
    assert JobRecord.objects.count() == 0


def test_unknown_job_type_lists_the_known_ones(redis_conn):
    with pytest.raises(UnknownJobTypeError, match="system:noop"):
        enqueue("nope:never", {})
    assert JobRecord.objects.count() == 0


def test_payload_instance_of_the_wrong_type_is_refused(redis_conn):
    from tests.trenova_jobs.sample_jobs import TokenPayload

    with pytest.raises(PayloadValidationError, match="expected SystemNoopPayload"):
        enqueue("system:noop", TokenPayload(token="x"))


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"delay": 5, "at": timezone.now()}, "either delay or at"),
        ({"delay": -1}, "non-negative"),
        ({"at": timezone.now().replace(tzinfo=None)}, "timezone-aware"),
        ({"queue": "nope"}, "Unknown queue"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 26}, "max_retries"),
        ({"timeout": 0}, "timeout"),
        ({"unique_key": ""}, "unique_key"),
        ({"unique_key": "k", "unique_ttl": 0}, "unique_ttl"),
    ],
)
def test_bad_options_are_refused(redis_conn, options, fragment):
    with pytest.raises(ValueError, match=fragment):
        enqueue("system:noop", {}, **options)
    assert JobRecord.objects.count() == 0


# --- Enqueue and the outbox --------------------------------------------------------------------------


def test_enqueue_records_and_pushes_a_json_job(redis_conn):
    record = enqueue("system:noop", SystemNoopPayload(value=3), organization_id=7, business_unit_id=8)
    assert record.id.startswith("job_")
    assert record.status == JobStatus.QUEUED
    assert record.deduplicated is False
    stored = JobRecord.objects.get(pk=record.pk)
    assert (stored.status, stored.payload, stored.queue, stored.organization_id) == (
        "queued",
        {"value": 3, "sleep_seconds": 0.0},
        "default",
        7,
    )
    assert stored.enqueued_at is not None
    assert _queued_ids() == [record.id]
    # The job travels as JSON, never pickle.
    data = json.loads(zlib.decompress(redis_conn.hget(f"rq:job:{record.id}", "data")))
    assert data[0] == "trenova_jobs.execution.run" and data[2] == [record.id]


def test_job_ids_sort_by_creation(redis_conn):
    ids = [enqueue("system:noop", {}).id for _ in range(5)]
    assert ids == sorted(ids)


def test_enqueue_inside_a_transaction_pushes_only_after_commit(redis_conn):
    with transaction.atomic():
        record = enqueue("system:noop", {})
        assert JobRecord.objects.filter(pk=record.pk).exists()
        assert _queued_ids() == []
    assert _queued_ids() == [record.id]
    assert JobRecord.objects.get(pk=record.pk).status == JobStatus.QUEUED
    assert record.status == JobStatus.QUEUED  # the returned object follows the commit


def test_rollback_leaves_neither_record_nor_redis_job(redis_conn):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue("system:noop", {}, unique_key="rolled-back")
        raise RuntimeError("boom")
    assert JobRecord.objects.count() == 0
    assert _queued_ids() == []
    # The unique key died with the transaction: the next enqueue is a fresh job.
    assert enqueue("system:noop", {}, unique_key="rolled-back").deduplicated is False


def test_redis_down_at_commit_keeps_the_record_pending_then_dispatch_pushes_it(private_redis):
    private_redis.stop()
    with transaction.atomic():
        record = enqueue("system:noop", {"value": 1})
        other_write = JobRecord.objects.filter(pk=record.pk).exists()
    # The surrounding transaction committed although Redis was unreachable.
    assert other_write
    assert JobRecord.objects.get(pk=record.pk).status == JobStatus.PENDING
    with pytest.raises(CommandError, match="unreachable"):
        call_command("dispatch_jobs")
    assert JobRecord.objects.get(pk=record.pk).status == JobStatus.PENDING

    private_redis.start()
    call_command("dispatch_jobs")
    assert JobRecord.objects.get(pk=record.pk).status == JobStatus.QUEUED
    assert queue_get("default").get_job_ids() == [record.id]
    # A second sweep finds nothing to do: the job is pushed once.
    assert dispatch_pending(min_age_seconds=0).pushed == 0
    assert queue_get("default").count == 1


def test_dispatch_leaves_fresh_records_to_their_own_commit_push(redis_conn):
    record = JobRecord.objects.create(job_type="system:noop", queue="default", payload={})
    assert dispatch_pending().pushed == 0  # younger than the grace period
    assert dispatch_pending(min_age_seconds=0).pushed == 1
    assert JobRecord.objects.get(pk=record.pk).status == JobStatus.QUEUED


# --- Deduplication ---------------------------------------------------------------------------------


def test_second_enqueue_with_a_held_key_returns_the_first(redis_conn):
    first = enqueue("system:noop", {}, unique_key="pattern:analyze:1:2")
    second = enqueue("system:noop", {"value": 9}, unique_key="pattern:analyze:1:2")
    assert second.deduplicated is True
    assert second.id == first.id
    assert JobRecord.objects.count() == 1
    assert _queued_ids() == [first.id]


def test_fifty_concurrent_enqueues_of_one_key_make_one_job(redis_conn):
    results: list[JobRecord] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(50)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(enqueue("system:noop", {}, unique_key="burst"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 50
    assert len({r.id for r in results}) == 1
    assert sum(not r.deduplicated for r in results) == 1
    assert JobRecord.objects.count() == 1
    assert len(_queued_ids()) == 1


def test_key_is_released_on_success_and_on_final_failure(redis_conn):
    first = enqueue("system:noop", {}, unique_key="k")
    record_attempt_started(record_id=first.id)
    record_succeeded(record=first, result={"ok": True}, duration=0.01)
    second = enqueue("system:noop", {}, unique_key="k")
    assert second.deduplicated is False and second.id != first.id

    record_attempt_started(record_id=second.id)
    record_attempt_failed(record_id=second.id, error="boom", will_retry=True, retry_in=1)
    assert enqueue("system:noop", {}, unique_key="k").deduplicated is True  # still held while retrying
    record_attempt_started(record_id=second.id)
    record_attempt_failed(record_id=second.id, error="boom", will_retry=False)
    assert enqueue("system:noop", {}, unique_key="k").deduplicated is False


def test_a_hold_past_its_ttl_is_taken_over(redis_conn):
    stale = enqueue("system:noop", {}, unique_key="k", unique_ttl=60)
    JobRecord.objects.filter(pk=stale.pk).update(unique_until=timezone.now() - timedelta(seconds=1))
    fresh = enqueue("system:noop", {}, unique_key="k")
    assert fresh.deduplicated is False and fresh.id != stale.id
    assert JobRecord.objects.get(pk=stale.pk).unique_lock is None


# --- Delayed and scheduled -------------------------------------------------------------------------


def test_delayed_job_waits_in_the_scheduled_registry(redis_conn):
    record = enqueue("system:noop", {}, delay=timedelta(minutes=5))
    assert record.status == JobStatus.SCHEDULED
    stored = JobRecord.objects.get(pk=record.pk)
    assert stored.scheduled_for > timezone.now() + timedelta(minutes=4)
    assert _queued_ids() == []
    assert ScheduledJobRegistry("default", connection=redis_conn).get_job_ids() == [record.id]


def test_at_in_the_past_runs_now(redis_conn):
    record = enqueue("system:noop", {}, at=timezone.now() - timedelta(minutes=1))
    assert record.status == JobStatus.QUEUED


# --- Outcome transitions, cancel and retry ----------------------------------------------------------


def test_outcome_signals_are_sent_once(redis_conn):
    record = enqueue("system:noop", {})
    record_attempt_started(record_id=record.id)
    assert record_succeeded(record=record, result=None, duration=0) is True
    assert record_succeeded(record=record, result=None, duration=0) is False
    assert redis_conn.get(f"test:signal:succeeded:{record.id}") == b"1"

    failing = enqueue("system:noop", {})
    record_attempt_started(record_id=failing.id)
    assert record_attempt_failed(record_id=failing.id, error="x", will_retry=False) is not None
    assert record_attempt_failed(record_id=failing.id, error="x", will_retry=False) is None
    assert redis_conn.get(f"test:signal:failed:{failing.id}") == b"1"


def test_a_finished_record_is_not_started_again(redis_conn):
    record = enqueue("system:noop", {})
    record_attempt_started(record_id=record.id)
    record_succeeded(record=record, result=None, duration=0)
    assert record_attempt_started(record_id=record.id) is None
    assert JobRecord.objects.get(pk=record.pk).attempts == 1


def test_cancel_removes_the_rq_job_and_releases_the_key(redis_conn):
    record = enqueue("system:noop", {}, unique_key="c")
    cancelled = job_cancel(record=record)
    assert cancelled.status == JobStatus.CANCELLED and cancelled.finished_at is not None
    assert _queued_ids() == []
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


def test_retry_requeues_a_failed_job_under_the_same_id(redis_conn):
    record = enqueue("system:noop", {}, unique_key="r")
    record_attempt_started(record_id=record.id)
    record_attempt_failed(record_id=record.id, error="boom", will_retry=False)
    failed = JobRecord.objects.get(pk=record.pk)
    retried = job_retry(record=failed)
    assert retried.status == JobStatus.QUEUED
    assert (retried.attempts, retried.error, retried.unique_lock) == (0, "", "r")
    assert _queued_ids() == [record.id]
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


def test_a_record_committed_but_never_pushed_is_pushed_again(redis_conn):
    # As if the process died between its commit and its push to Redis.
    record = JobRecord.objects.create(
        job_type="system:noop",
        queue="default",
        payload={},
        status=JobStatus.QUEUED,
        enqueued_at=timezone.now() - timedelta(minutes=2),
    )
    fresh = JobRecord.objects.create(
        job_type="system:noop", queue="default", payload={}, status=JobStatus.QUEUED, enqueued_at=timezone.now()
    )
    assert lost_records_reset() == 1
    result = dispatch_pending(min_age_seconds=0)
    assert result.pushed == 1
    assert JobRecord.objects.get(pk=record.pk).status == JobStatus.QUEUED
    assert _queued_ids() == [record.id]
    # A record pushed a moment ago is left alone, and a pushed record is never pushed twice.
    assert JobRecord.objects.get(pk=fresh.pk).status == JobStatus.QUEUED
    assert lost_records_reset() == 0
    assert dispatch_pending(min_age_seconds=0).pushed == 0
    JobRecord.objects.filter(pk=record.pk).update(enqueued_at=timezone.now() - timedelta(minutes=2))
    assert lost_records_reset() == 0
    assert dispatch_pending(min_age_seconds=0).pushed == 0


def test_a_failing_receiver_does_not_silence_the_others(redis_conn, caplog):
    from trenova_jobs.signals import job_succeeded

    heard: list[str] = []

    def broken(sender, record, **kwargs):
        raise RuntimeError("receiver exploded")

    def listener(sender, record, **kwargs):
        heard.append(record.id)

    # Receivers run in the order they were connected: the broken one goes first.
    job_succeeded.connect(broken, dispatch_uid="tests.broken_receiver")
    job_succeeded.connect(listener, dispatch_uid="tests.listener")
    try:
        record = enqueue("system:noop", {})
        record_attempt_started(record_id=record.id)
        assert record_succeeded(record=record, result=None, duration=0) is True
    finally:
        job_succeeded.disconnect(dispatch_uid="tests.broken_receiver")
        job_succeeded.disconnect(dispatch_uid="tests.listener")
    assert heard == [record.id]
    assert "event=receiver_failed" in caplog.text
    assert JobRecord.objects.get(pk=record.pk).status == JobStatus.SUCCEEDED
