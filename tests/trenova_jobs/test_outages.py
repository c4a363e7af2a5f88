"""Redis restarts, loses its data or hangs: no job lost, no worker stopped, no save made slow."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rq.job import Job

from tests.conftest import wait_for
from trenova_jobs import enqueue
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.outbox import LOST_SWEEP_CURSOR_KEY, dispatch_pending, lost_records_reset
from trenova_jobs.queues import connections_forget, queue_get

pytestmark = pytest.mark.django_db(transaction=True)


# --- Redis loses its data ------------------------------------------------------------------------


def test_an_old_delayed_job_lost_with_redis_is_pushed_again(redis_conn):
    record = enqueue("system:noop", {}, delay=timedelta(hours=1))
    JobRecord.objects.filter(pk=record.id).update(enqueued_at=timezone.now() - timedelta(hours=2))
    redis_conn.flushdb()  # a restart without persistence

    assert lost_records_reset() == 1
    assert dispatch_pending(min_age_seconds=0).pushed == 1
    again = JobRecord.objects.get(pk=record.id)
    assert again.status == JobStatus.SCHEDULED  # still due in an hour, not now
    assert redis_conn.zscore(queue_get("default").scheduled_job_registry.key, record.id) is not None


def test_a_backlog_of_any_size_and_age_is_walked_oldest_first_in_bounded_batches(redis_conn):
    old = timezone.now() - timedelta(days=3)
    ids = []
    for status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.RETRYING) * 8:
        ids.append(enqueue("system:noop", {}).id)
        JobRecord.objects.filter(pk=ids[-1]).update(status=status, enqueued_at=old)
    survivor = ids[5]
    redis_conn.flushdb()
    queue_get("default").enqueue_job(  # one rq job that Redis still has: left alone
        queue_get("default").create_job("trenova_jobs.execution.run", args=(survivor,), job_id=survivor)
    )

    first = lost_records_reset(limit=10)
    assert first == 9  # the 10 oldest, less the one Redis still has
    assert set(JobRecord.objects.filter(status=JobStatus.PENDING).values_list("id", flat=True)) == set(ids[:10]) - {
        survivor
    }
    assert redis_conn.get(LOST_SWEEP_CURSOR_KEY).decode() == ids[9]
    assert lost_records_reset(limit=10) == 10
    assert lost_records_reset(limit=10) == 4  # the end: the walk starts again from the oldest
    assert redis_conn.get(LOST_SWEEP_CURSOR_KEY) is None
    assert JobRecord.objects.get(pk=survivor).status != JobStatus.PENDING
    assert JobRecord.objects.filter(status=JobStatus.PENDING).count() == 23


def test_a_record_pushed_a_moment_ago_is_left_to_its_own_push(redis_conn):
    with transaction.atomic():
        record = enqueue("system:noop", {})
        JobRecord.objects.filter(pk=record.id).update(status=JobStatus.QUEUED, enqueued_at=timezone.now())
        redis_conn.flushdb()
        assert lost_records_reset() == 0


# --- Redis restarts under two busy workers ----------------------------------------------------------


@pytest.mark.worker
def test_workers_ride_out_a_redis_restart_and_every_job_runs(private_redis, start_worker):
    env = {"REDIS_URL": private_redis.url, "TRENOVA_JOBS_LOST_SWEEP_MIN_AGE": "5"}
    ids = [enqueue("system:noop", {"value": i}).id for i in range(300)]
    workers = [start_worker(env=env), start_worker(env=env)]
    wait_for(
        lambda: JobRecord.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count() >= 30,
        timeout=60,
        message="the workers to get going",
    )
    private_redis.stop()  # every queued job is gone with it: no persistence
    time.sleep(3)
    private_redis.start()

    wait_for(
        lambda: JobRecord.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count() == 300,
        timeout=120,
        message="every job to run after the restart",
    )
    assert all(w.poll() is None for w in workers), "a worker exited during the outage"


@pytest.mark.worker
def test_a_worker_started_while_redis_is_down_waits_for_it(private_redis, start_worker):
    private_redis.stop()
    worker = start_worker(env={"REDIS_URL": private_redis.url})
    time.sleep(3)
    assert worker.poll() is None  # waiting, not crashed
    private_redis.start()
    record = enqueue("system:noop", {"value": 9})
    wait_for(lambda: JobRecord.objects.get(pk=record.id).status == JobStatus.SUCCEEDED, timeout=30, message="run")


# --- A hung Redis ---------------------------------------------------------------------------------


class SilentServer:
    """Accepts TCP connections and never answers: a hung Redis."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def hung_redis(monkeypatch):
    server = SilentServer()
    for config in settings.RQ_QUEUES.values():
        monkeypatch.setitem(config, "URL", f"redis://127.0.0.1:{server.port}/0")
    connections_forget()
    yield server
    server.close()
    connections_forget()


def test_a_hung_redis_costs_one_short_timeout_then_nothing(hung_redis):
    started = time.monotonic()
    with transaction.atomic():
        first = enqueue("system:noop", {})
    first_took = time.monotonic() - started
    assert JobRecord.objects.get(pk=first.id).status == JobStatus.PENDING  # the outbox has it
    assert first_took < 2.0, first_took  # the push's own timeout (250 ms), not redis-py's 10 s
    accepted = hung_redis.accepted

    for _ in range(5):
        with transaction.atomic():
            later = enqueue("system:noop", {})
        assert JobRecord.objects.get(pk=later.id).status == JobStatus.PENDING
    assert hung_redis.accepted == accepted  # during the back-off, saves do not even try


def test_after_the_back_off_pushes_resume(hung_redis, monkeypatch, redis_conn):
    from trenova_jobs import outbox

    with transaction.atomic():
        enqueue("system:noop", {})
    assert outbox._push_pause.active()
    monkeypatch.setattr(outbox._push_pause, "_until", time.monotonic() - 1)  # the back-off has passed
    for config in settings.RQ_QUEUES.values():
        monkeypatch.setitem(config, "URL", settings.REDIS_URL)
    connections_forget()
    record = enqueue("system:noop", {})
    assert JobRecord.objects.get(pk=record.id).status == JobStatus.QUEUED
    assert Job.exists(record.id, connection=redis_conn)
