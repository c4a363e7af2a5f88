"""Redis loses everything (FLUSHDB, as a restart without persistence does) under queued, delayed and retrying
records of every age: a real worker finds them all, pushes each again once, and runs each once when due.

The sweep's batching and cursor are covered in tests/trenova_jobs/test_outages.py, which calls it directly;
here a worker does the whole recovery on its own clock and the handler counts its runs.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import wait_for
from trenova_jobs import enqueue
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.queues import queue_get
from trenova_jobs.transitions import record_attempt_failed, record_attempt_started

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

AGES = {
    "fresh": timedelta(0),
    "minutes": timedelta(minutes=10),
    "hours": timedelta(hours=6),
    "days": timedelta(days=30),
}


def _aged(record_id: str, age: timedelta) -> None:
    if age:
        then = timezone.now() - age
        JobRecord.objects.filter(pk=record_id).update(created_at=then, enqueued_at=then)


def test_records_of_every_kind_and_age_come_back_after_a_flush_and_run_once(redis_conn, start_worker):
    run = uuid.uuid4().hex[:8]
    tokens: dict[str, str] = {}  # record id -> handler token
    kinds: dict[str, str] = {}  # record id -> queued / delayed / retrying

    def make(kind: str, age_name: str, **options) -> str:
        token = f"{run}-{kind}-{age_name}"
        record_id = enqueue("test:flaky", {"token": token}, **options).id
        tokens[record_id], kinds[record_id] = token, kind
        return record_id

    for age_name, age in AGES.items():
        _aged(make("queued", age_name), age)
        delayed = make("delayed", age_name, delay=timedelta(hours=1))
        # Due two seconds from now, whenever it was enqueued.
        JobRecord.objects.filter(pk=delayed).update(scheduled_for=timezone.now() + timedelta(seconds=2))
        _aged(delayed, age)
        retrying = make("retrying", age_name)
        record_attempt_started(record_id=retrying)  # an attempt that failed and asked for a retry in 1 s
        record_attempt_failed(record_id=retrying, error="RuntimeError: earlier", will_retry=True, retry_in=1)
        _aged(retrying, age)
    later = enqueue("test:flaky", {"token": f"{run}-later"}, delay=timedelta(hours=1)).id  # not due yet
    assert set(JobRecord.objects.values_list("status", flat=True)) == {
        JobStatus.QUEUED,
        JobStatus.SCHEDULED,
        JobStatus.RETRYING,
    }

    redis_conn.flushdb()
    worker = start_worker("default", env={"TRENOVA_JOBS_LOST_SWEEP_MIN_AGE": "2"})

    wait_for(
        lambda: JobRecord.objects.filter(pk__in=tokens, status=JobStatus.SUCCEEDED).count() == len(tokens),
        timeout=60,
        interval=0.5,
        message="every lost record to run",
    )
    assert worker.poll() is None
    for record_id, attempts in JobRecord.objects.filter(pk__in=tokens).values_list("id", "attempts"):
        assert attempts == (2 if kinds[record_id] == "retrying" else 1), (kinds[record_id], attempts)
    with redis_conn.pipeline(transaction=False) as pipe:
        for record_id, token in tokens.items():
            pipe.get(f"test:{token}:count")
            pipe.xlen(f"rq:results:{record_id}")
        replies = pipe.execute()
    assert replies[0::2] == [b"1"] * len(tokens)  # the handler ran once per record
    assert replies[1::2] == [1] * len(tokens)  # and so did rq
    # The one not yet due is back in the scheduled registry, at its own time, and waits.
    waiting = JobRecord.objects.get(pk=later)
    assert waiting.status == JobStatus.SCHEDULED
    due = redis_conn.zscore(queue_get("default").scheduled_job_registry.key, later)
    assert due is not None and abs(due - waiting.scheduled_for.timestamp()) < 2
    assert redis_conn.get(f"test:{run}-later:count") is None
    assert not JobRecord.objects.filter(status__in=[JobStatus.PENDING, JobStatus.RUNNING]).exists()
