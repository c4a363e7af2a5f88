"""The worker, for real: retries with backoff, final failure, crash recovery, weighted order, delays.

Each test starts ``manage.py rqworker`` processes against the test database and Redis.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from rq.registry import FailedJobRegistry

from tests.conftest import wait_for
from trenova_jobs import enqueue
from trenova_jobs.models import JobRecord, JobStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _status(record_id: str) -> str:
    return JobRecord.objects.values_list("status", flat=True).get(pk=record_id)


def _wait_status(record_id: str, status: str, timeout: float) -> JobRecord:
    wait_for(lambda: _status(record_id) == status, timeout=timeout, message=f"{record_id} to be {status}")
    return JobRecord.objects.get(pk=record_id)


def _starts(redis_conn, token: str) -> list[float]:
    return [float(x) for x in redis_conn.lrange(f"test:{token}:starts", 0, -1)]


def test_flaky_job_retries_with_exponential_backoff_then_succeeds(redis_conn, start_worker):
    start_worker()
    token = uuid.uuid4().hex
    record = enqueue("test:flaky", {"token": token, "fail_times": 2})
    done = _wait_status(record.id, JobStatus.SUCCEEDED, timeout=40)
    assert done.attempts == 3
    assert done.result == {"attempt": 3, "token": token}
    assert done.error == ""
    starts = _starts(redis_conn, token)
    assert len(starts) == 3
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= 1.0, gaps
    assert gaps[1] >= 2.0, gaps
    assert redis_conn.get(f"test:signal:succeeded:{record.id}") == b"1"


def test_retries_exhausted_fail_the_job_once(redis_conn, start_worker):
    start_worker()
    token = uuid.uuid4().hex
    record = enqueue("test:always_fail", {"token": token})  # max_retries=2
    failed = _wait_status(record.id, JobStatus.FAILED, timeout=40)
    assert failed.attempts == 3
    assert "RuntimeError: always fails" in failed.error
    assert "Traceback" in failed.traceback
    assert failed.finished_at is not None
    assert len(_starts(redis_conn, token)) == 3
    wait_for(
        lambda: record.id in FailedJobRegistry("default", connection=redis_conn).get_job_ids(),
        timeout=10,
        message="job in rq's failed registry",
    )
    time.sleep(1.5)  # a late duplicate signal would show up here
    assert redis_conn.get(f"test:signal:failed:{record.id}") == b"1"
    assert redis_conn.get(f"test:signal:succeeded:{record.id}") is None


def test_non_retryable_error_fails_at_once(redis_conn, start_worker):
    start_worker()
    token = uuid.uuid4().hex
    record = enqueue("test:non_retryable", {"token": token})  # max_retries=5
    failed = _wait_status(record.id, JobStatus.FAILED, timeout=30)
    assert failed.attempts == 1
    assert "no longer exists" in failed.error
    assert len(_starts(redis_conn, token)) == 1
    assert redis_conn.get(f"test:signal:failed:{record.id}") == b"1"


def test_payload_that_no_longer_validates_fails_in_the_worker_without_retries(redis_conn, start_worker):
    record = enqueue("test:flaky", {"token": "t"})  # max_retries=3
    JobRecord.objects.filter(pk=record.pk).update(payload={"token": 5, "bogus": True})
    start_worker()
    failed = _wait_status(record.id, JobStatus.FAILED, timeout=30)
    assert failed.attempts == 1
    assert "Invalid payload for test:flaky" in failed.error
    assert redis_conn.get("test:t:count") is None  # the handler never ran


def test_unique_key_is_released_when_the_job_finishes(redis_conn, start_worker):
    start_worker()
    first = enqueue("system:noop", {}, unique_key="once")
    _wait_status(first.id, JobStatus.SUCCEEDED, timeout=30)
    second = enqueue("system:noop", {}, unique_key="once")
    assert second.deduplicated is False and second.id != first.id
    _wait_status(second.id, JobStatus.SUCCEEDED, timeout=30)


def test_record_outlives_redis_results(redis_conn, start_worker):
    start_worker()
    record = enqueue("system:noop", {"value": 42})
    _wait_status(record.id, JobStatus.SUCCEEDED, timeout=30)
    redis_conn.delete(f"rq:job:{record.id}", f"rq:results:{record.id}")  # as if the result TTL expired
    stored = JobRecord.objects.get(pk=record.pk)
    assert (stored.status, stored.result, stored.attempts) == ("succeeded", {"value": 42}, 1)
    assert stored.started_at <= stored.finished_at


def test_delayed_job_stays_scheduled_until_due(redis_conn, start_worker):
    start_worker()
    record = enqueue("system:noop", {}, delay=timedelta(seconds=3))
    assert _status(record.id) == JobStatus.SCHEDULED
    time.sleep(1)
    assert _status(record.id) == JobStatus.SCHEDULED
    done = _wait_status(record.id, JobStatus.SUCCEEDED, timeout=30)
    assert done.started_at >= done.created_at + timedelta(seconds=3)


def test_killed_worker_job_is_recovered_within_a_minute(redis_conn, start_worker):
    victim = start_worker("--name", f"victim-{uuid.uuid4().hex[:6]}")
    token = uuid.uuid4().hex
    record = enqueue("test:sleep", {"token": token, "seconds": 120})
    wait_for(lambda: _starts(redis_conn, token), timeout=30, message="the first attempt to start")
    assert _status(record.id) == JobStatus.RUNNING
    os.killpg(victim.pid, signal.SIGKILL)  # the worker, its work horse and its scheduler, at once
    killed_at = time.monotonic()
    victim.wait(timeout=10)

    start_worker()
    done = _wait_status(record.id, JobStatus.SUCCEEDED, timeout=60)
    recovered_in = time.monotonic() - killed_at
    assert recovered_in < 60, recovered_in
    assert done.attempts == 2
    assert len(_starts(redis_conn, token)) == 2


def _run_mix(start_worker, counts: dict[str, int], *extra: str) -> list[str]:
    ids_by_queue = {}
    for queue, n in counts.items():
        for _ in range(n):
            ids_by_queue[enqueue("system:noop", {}, queue=queue).id] = queue
    worker = start_worker("--burst", "--no-scheduler", *extra)
    worker.wait(timeout=240)
    records = JobRecord.objects.filter(pk__in=ids_by_queue).order_by("started_at")
    assert all(r.status == JobStatus.SUCCEEDED for r in records)
    return [ids_by_queue[r.id] for r in records]


def test_weighted_dequeue_tracks_the_weights(start_worker):
    weights = settings.TRENOVA_JOBS_QUEUE_WEIGHTS
    counts = {name: (200 if name == "critical" else 80) for name in weights}  # 600 jobs, none runs dry early
    order = _run_mix(start_worker, counts, "--seed", "7")
    first = Counter(order[:200])
    total_weight = sum(weights.values())
    for name, weight in weights.items():
        share = first[name] / 200
        expected = weight / total_weight
        assert abs(share - expected) <= 0.08, (name, share, expected, first)
    # Every queue progressed, and everything ran.
    assert len(order) == 600 and set(first) == set(weights)


def test_strict_priority_drains_heavier_queues_first(start_worker):
    order = _run_mix(start_worker, {"system": 5, "critical": 5, "shipment": 5}, "--strategy", "strict")
    assert order == ["critical"] * 5 + ["shipment"] * 5 + ["system"] * 5


def test_horses_using_the_database_leave_the_supervisor_connection_intact(redis_conn, start_worker):
    # The supervisor keeps one connection across jobs; each horse must open its own and never touch the
    # inherited one, or the supervisor's next query would fail or read another process's replies.
    ids = [enqueue("test:db_touch", {"token": str(i)}).id for i in range(6)]
    ids.append(enqueue("system:noop", {"value": 1}).id)
    start_worker()
    for record_id in ids:
        _wait_status(record_id, JobStatus.SUCCEEDED, timeout=30)
    results = [JobRecord.objects.get(pk=i).result for i in ids[:6]]
    assert results == [{"records": 6}] * 6


def test_worker_sweep_pushes_records_left_pending_by_a_redis_outage(private_redis, start_worker):
    private_redis.stop()
    record = enqueue("system:noop", {"value": 5})
    assert _status(record.id) == JobStatus.PENDING  # committed, not pushed
    private_redis.start()
    start_worker(env={"REDIS_URL": private_redis.url})  # nobody runs dispatch_jobs: the worker's sweep does
    done = _wait_status(record.id, JobStatus.SUCCEEDED, timeout=40)
    assert done.result == {"value": 5} and done.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_an_idle_worker_is_quiet_at_info_once_started(redis_conn, start_worker):
    """Recovery, sweeps and rq's registry clean-up all run while idle; none of them logs at INFO."""
    proc = start_worker("--logging-level", "INFO")
    wait_for(lambda: "ticker_started" in proc.log_path.read_text(), timeout=30, message="the worker to start")
    started_lines = len(proc.log_path.read_text().splitlines())
    # Every maintenance clock is due at start and the recovery clock ticks every 2 s: 5 s sees each run.
    time.sleep(5)
    later = proc.log_path.read_text().splitlines()[started_lines:]
    assert later == [], later


def test_an_idle_worker_of_several_queues_is_woken_by_a_push_not_by_its_poll(redis_conn, start_worker):
    """With a 2 s idle poll, a job found by polling starts 0 to 2 s after its push; a woken worker starts it
    in milliseconds. Three jobs in a row under 0.5 s each would happen by polling with odds of 1 in 64."""
    from tests.reliability.processes import workers_beating

    name = f"woken-{uuid.uuid4().hex[:6]}"
    proc = start_worker("--name", name, env={"DJANGO_SETTINGS_MODULE": "tests.trenova_jobs.slow_poll_settings"})
    wait_for(lambda: workers_beating(redis_conn, [name], [proc]), timeout=30, message="the worker to beat")
    waits = []
    for _ in range(3):
        time.sleep(0.3)  # let the worker go back to waiting (no deadline can say "it is blocked now")
        record = enqueue("system:noop", {}, queue="system")
        done = _wait_status(record.id, JobStatus.SUCCEEDED, timeout=20)
        waits.append((done.started_at - done.enqueued_at).total_seconds())
    assert max(waits) < 0.5, waits
