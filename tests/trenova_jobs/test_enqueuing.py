"""``enqueue()`` against real PostgreSQL and Redis: validation, the record and its push, deduplication, delays."""

from __future__ import annotations

import json
import threading
import zlib
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rq.registry import ScheduledJobRegistry

from tests.trenova_jobs.conftest import queued_ids
from trenova_jobs import enqueue
from trenova_jobs.errors import PayloadValidationError, UnknownJobTypeError
from trenova_jobs.jobs import SystemNoopPayload
from trenova_jobs.models import JobRecord, JobStatus

pytestmark = pytest.mark.django_db(transaction=True)


# --- Validation: bad input is refused and nothing is written --------------------------------------


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
    assert queued_ids() == []


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


# --- The record, and its push after commit --------------------------------------------------------


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
    assert queued_ids() == [record.id]
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
        assert queued_ids() == []
    assert queued_ids() == [record.id]
    assert JobRecord.objects.get(pk=record.pk).status == JobStatus.QUEUED
    assert record.status == JobStatus.QUEUED  # the returned object follows the commit


def test_rollback_leaves_neither_record_nor_redis_job(redis_conn):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue("system:noop", {}, unique_key="rolled-back")
        raise RuntimeError("boom")
    assert JobRecord.objects.count() == 0
    assert queued_ids() == []
    # The unique key died with the transaction: the next enqueue is a fresh job.
    assert enqueue("system:noop", {}, unique_key="rolled-back").deduplicated is False


# --- Deduplication --------------------------------------------------------------------------------


def test_second_enqueue_with_a_held_key_returns_the_first(redis_conn):
    first = enqueue("system:noop", {}, unique_key="pattern:analyze:1:2")
    second = enqueue("system:noop", {"value": 9}, unique_key="pattern:analyze:1:2")
    assert second.deduplicated is True
    assert second.id == first.id
    assert JobRecord.objects.count() == 1
    assert queued_ids() == [first.id]


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
    assert len(queued_ids()) == 1


def test_a_hold_past_its_ttl_is_taken_over(redis_conn):
    stale = enqueue("system:noop", {}, unique_key="k", unique_ttl=60)
    JobRecord.objects.filter(pk=stale.pk).update(unique_until=timezone.now() - timedelta(seconds=1))
    fresh = enqueue("system:noop", {}, unique_key="k")
    assert fresh.deduplicated is False and fresh.id != stale.id
    assert JobRecord.objects.get(pk=stale.pk).unique_lock is None


# --- Delayed and scheduled ------------------------------------------------------------------------


def test_delayed_job_waits_in_the_scheduled_registry(redis_conn):
    record = enqueue("system:noop", {}, delay=timedelta(minutes=5))
    assert record.status == JobStatus.SCHEDULED
    stored = JobRecord.objects.get(pk=record.pk)
    assert stored.scheduled_for > timezone.now() + timedelta(minutes=4)
    assert queued_ids() == []
    assert ScheduledJobRegistry("default", connection=redis_conn).get_job_ids() == [record.id]


def test_at_in_the_past_runs_now(redis_conn):
    record = enqueue("system:noop", {}, at=timezone.now() - timedelta(minutes=1))
    assert record.status == JobStatus.QUEUED
