"""The outbox: records Redis could not take are pushed later, lost ones found, and no live job pushed twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from redis.exceptions import WatchError
from rq.registry import ScheduledJobRegistry

from tests.trenova_jobs.conftest import queued_ids, record_get, rq_job_get
from trenova_jobs import enqueue
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.outbox import dispatch_pending, lost_records_reset, record_push
from trenova_jobs.queues import queue_get

pytestmark = pytest.mark.django_db(transaction=True)


# --- Pending records are pushed by the dispatcher -------------------------------------------------


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
    assert queued_ids() == [record.id]
    # A record pushed a moment ago is left alone, and a pushed record is never pushed twice.
    assert JobRecord.objects.get(pk=fresh.pk).status == JobStatus.QUEUED
    assert lost_records_reset() == 0
    assert dispatch_pending(min_age_seconds=0).pushed == 0
    JobRecord.objects.filter(pk=record.pk).update(enqueued_at=timezone.now() - timedelta(minutes=2))
    assert lost_records_reset() == 0
    assert dispatch_pending(min_age_seconds=0).pushed == 0


# --- The dispatcher never pushes a live job twice -------------------------------------------------


def test_a_record_reset_while_its_job_is_queued_is_not_pushed_twice(redis_conn):
    # A transaction that committed late: the lost-record sweep reset the record while its own push ran.
    record = enqueue("system:noop", {})
    JobRecord.objects.filter(pk=record.pk).update(status=JobStatus.PENDING, enqueued_at=None)

    assert dispatch_pending(min_age_seconds=0).pushed == 0
    assert record_get(record.id).status == JobStatus.QUEUED
    assert queued_ids() == [record.id]


def test_a_slow_commit_and_the_dispatcher_push_the_job_once(redis_conn, monkeypatch):
    # A transaction that commits long after enqueue(): the lost-record sweep sees the committed record
    # first, resets it and the dispatcher pushes it; then the transaction's own push comes.
    monkeypatch.setattr("trenova_jobs.outbox._UNCONTESTED_PUSH", timedelta(0))

    def sweep() -> None:
        assert lost_records_reset() == 1
        assert dispatch_pending(min_age_seconds=0).pushed == 1

    with transaction.atomic():
        transaction.on_commit(sweep)  # runs before enqueue()'s own push
        record = enqueue("system:noop", {})
        JobRecord.objects.filter(pk=record.pk).update(enqueued_at=timezone.now() - timedelta(minutes=2))

    assert queued_ids() == [record.id]
    assert record_get(record.id).status == JobStatus.QUEUED


def test_a_scheduled_push_over_a_finished_job_lands_in_the_scheduled_registry(redis_conn):
    record = enqueue("system:noop", {})
    job = rq_job_get(redis_conn, record.id)
    queue_get("default").remove(job)
    job.set_status("finished")
    JobRecord.objects.filter(pk=record.pk).update(
        status=JobStatus.PENDING, enqueued_at=None, scheduled_for=timezone.now() + timedelta(minutes=5)
    )

    assert record_push(record_get(record.id)) is True
    assert ScheduledJobRegistry("default", connection=redis_conn).get_job_ids() == [record.id]
    assert rq_job_get(redis_conn, record.id).get_status() == "scheduled"
    assert record_get(record.id).status == JobStatus.SCHEDULED


def test_an_interrupted_push_leaves_the_record_pending(redis_conn, monkeypatch):
    # redis-py reports a connection dropped while watching as a WatchError: that is not "pushed".
    record = enqueue("system:noop", {})
    rq_job_get(redis_conn, record.id).delete()
    JobRecord.objects.filter(pk=record.pk).update(status=JobStatus.PENDING, enqueued_at=None)

    def dropped(self, *args, **kwargs):
        raise WatchError("A ConnectionError occurred on while watching one or more keys")

    monkeypatch.setattr("redis.client.Pipeline.execute", dropped)
    assert record_push(record_get(record.id)) is False
    assert record_get(record.id).status == JobStatus.PENDING
