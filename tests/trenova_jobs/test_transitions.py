"""Status transitions: each outcome written once, for its own attempt, with its unique key released and its
signal sent once."""

from __future__ import annotations

import pytest

from tests.trenova_jobs.conftest import record_get
from trenova_jobs import enqueue
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.transitions import record_attempt_failed, record_attempt_started, record_succeeded

pytestmark = pytest.mark.django_db(transaction=True)


# --- Outcomes and their signals -------------------------------------------------------------------


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


def test_receivers_commit_with_the_outcome_and_one_that_breaks_the_transaction_loses_only_its_own_work(
    redis_conn, caplog
):
    from django.db import connection, transaction

    from trenova_jobs.signals import job_failed, job_succeeded

    seen_in_transaction: list[bool] = []

    def writer(sender, record, **kwargs):
        # Runs inside the outcome's transaction: what it writes commits with the outcome.
        seen_in_transaction.append(connection.in_atomic_block)
        JobRecord.objects.filter(pk=record.pk).update(error="written by a receiver")

    def breaker(sender, record, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")  # leaves the transaction aborted

    job_succeeded.connect(writer, dispatch_uid="tests.writer")
    try:
        good = enqueue("system:noop", {})
        record_attempt_started(record_id=good.id)
        assert record_succeeded(record=good, result=None, duration=0) is True
    finally:
        job_succeeded.disconnect(dispatch_uid="tests.writer")
    assert seen_in_transaction == [True]
    assert JobRecord.objects.get(pk=good.pk).error == "written by a receiver"

    job_failed.connect(writer, dispatch_uid="tests.writer")
    job_failed.connect(breaker, dispatch_uid="tests.breaker")
    try:
        bad = enqueue("system:noop", {})
        record_attempt_started(record_id=bad.id)
        assert record_attempt_failed(record_id=bad.id, error="boom", will_retry=False) is not None
    finally:
        job_failed.disconnect(dispatch_uid="tests.writer")
        job_failed.disconnect(dispatch_uid="tests.breaker")
    stored = JobRecord.objects.get(pk=bad.pk)
    assert stored.status == JobStatus.FAILED  # the outcome committed
    assert stored.error == "boom"  # the receivers' writes were rolled back with their savepoint
    assert "event=receiver_failed" in caplog.text
    assert not transaction.get_connection().in_atomic_block


# --- Outcomes are written for the attempt they belong to ------------------------------------------


def test_an_outcome_for_an_older_attempt_is_not_written_over_the_current_one(redis_conn):
    record = enqueue("system:noop", {}, max_retries=3)
    record_attempt_started(record_id=record.id)
    record_attempt_failed(record_id=record.id, error="first", will_retry=True, retry_in=1)
    current = record_attempt_started(record_id=record.id)
    assert current.attempts == 2

    assert record_attempt_failed(record_id=record.id, error="late", will_retry=True, attempt=1) is None
    assert record_succeeded(record=current, result=None, duration=0, attempt=1) is False
    assert record_get(record.id).status == JobStatus.RUNNING
    assert record_succeeded(record=current, result={"ok": 1}, duration=0, attempt=2) is True


def test_an_outcome_for_a_record_that_is_not_running_is_ignored(redis_conn):
    record = enqueue("system:noop", {})
    assert record_attempt_failed(record_id=record.id, error="x", will_retry=False) is None
    assert record_get(record.id).status == JobStatus.QUEUED
    assert redis_conn.get(f"test:signal:failed:{record.id}") is None
