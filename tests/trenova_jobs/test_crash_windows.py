"""Nothing lost, nothing doubled: a real worker killed inside each window of a job's life.

A fault point (``trenova_jobs.faults``) stops the victim worker at one named step; the test SIGKILLs it
there, checks that the kill really killed what it meant to (rq's work horse calls ``setsid()``, so it is
not in the worker's process group), and lets a second, real worker recover the job. Each handler run
is noted in Redis (pid, start, end), so a job run twice, or twice at once, shows.

The windows, in the order a job meets them:
  after_dequeue     popped into the worker's in-flight list, record still ``queued``
  after_start_mark  record ``running``, no horse yet
  (horse running)   the handler runs: see tests/reliability/test_worker_kills.py
  after_horse_exit  the handler returned, the outcome is not yet in the record
  after_settle      the record is final, the job id is still in flight
"""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from tests.conftest import wait_for
from trenova_jobs import enqueue
from trenova_jobs.faults import fault_key
from trenova_jobs.liveness import WORKERS_KEY, inflight_key, running_key
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.queues import queue_get
from trenova_jobs.recovery import dead_workers_recover
from trenova_jobs.rq_compat import dequeue_into
from trenova_jobs.transitions import record_attempt_started

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _status(record_id: str) -> JobRecord:
    return JobRecord.objects.get(pk=record_id)


def _victim(start_worker, point: str = ""):
    name = f"victim-{uuid.uuid4().hex[:6]}"
    env = {"TRENOVA_JOBS_FAULT_POINT": point} if point else {}
    return start_worker("default", "--name", name, env=env), name


def _sigkill_group(proc) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _runs(redis_conn, token: str) -> tuple[list[int], list[float], list[float]]:
    pids = [int(p) for p in redis_conn.lrange(f"test:{token}:pids", 0, -1)]
    starts = [float(x) for x in redis_conn.lrange(f"test:{token}:starts", 0, -1)]
    ends = [float(x) for x in redis_conn.lrange(f"test:{token}:ends", 0, -1)]
    return pids, starts, ends


@pytest.mark.parametrize("point", ["after_dequeue", "after_start_mark"])
def test_a_worker_killed_before_the_handler_started_loses_nothing_and_spends_no_attempt(
    redis_conn, start_worker, point
):
    victim, name = _victim(start_worker, point)
    token = uuid.uuid4().hex
    record = enqueue("test:sleep", {"token": token}, unique_key=f"window-{token}")
    wait_for(lambda: redis_conn.get(fault_key(point)), timeout=30, message=f"the victim to stop at {point}")
    assert redis_conn.lrange(inflight_key(name), 0, -1) == [record.id.encode()]
    assert redis_conn.llen(queue_get("default").key) == 0  # in no queue: only the in-flight list has it
    _sigkill_group(victim)

    start_worker("default")  # the rescuer
    wait_for(lambda: _status(record.id).status == JobStatus.SUCCEEDED, timeout=45, message="the job to run")
    done = _status(record.id)
    assert done.attempts == 1  # the killed attempt never began, so it used up no retry
    pids, _starts, ends = _runs(redis_conn, token)
    assert len(pids) == 1 and len(ends) == 1  # run exactly once
    assert done.unique_lock is None  # the key is free again
    wait_for(lambda: not redis_conn.exists(inflight_key(name)), timeout=10, message="the dead worker's list")
    assert redis_conn.zscore(WORKERS_KEY, name) is None  # forgotten once nothing was left in flight


@pytest.mark.parametrize(
    ("job_type", "final", "runs"),
    [("test:sleep", JobStatus.SUCCEEDED, 1), ("test:always_fail", JobStatus.FAILED, 3)],
)
def test_a_worker_killed_before_writing_the_outcome_does_not_run_the_handler_again(
    redis_conn, start_worker, job_type, final, runs
):
    victim, _name = _victim(start_worker, "after_horse_exit")
    token = uuid.uuid4().hex
    record = enqueue(job_type, {"token": token})
    wait_for(lambda: redis_conn.get(fault_key("after_horse_exit")), timeout=30, message="the handler to end")
    assert _status(record.id).status == JobStatus.RUNNING  # the outcome is only in Redis and a file
    _sigkill_group(victim)

    start_worker("default")
    wait_for(lambda: _status(record.id).status == final, timeout=60, message=f"the record to be {final}")
    assert len(redis_conn.lrange(f"test:{token}:starts", 0, -1)) == runs
    signal_key = f"test:signal:{'succeeded' if final == JobStatus.SUCCEEDED else 'failed'}:{record.id}"
    time.sleep(1)
    assert redis_conn.get(signal_key) == b"1"


def test_a_worker_killed_after_settling_leaves_only_an_entry_to_clear(redis_conn, start_worker):
    victim, name = _victim(start_worker, "after_settle")
    token = uuid.uuid4().hex
    record = enqueue("test:sleep", {"token": token})
    wait_for(lambda: redis_conn.get(fault_key("after_settle")), timeout=30, message="the victim to settle")
    assert _status(record.id).status == JobStatus.SUCCEEDED
    _sigkill_group(victim)
    start_worker("default")
    wait_for(lambda: not redis_conn.exists(inflight_key(name)), timeout=40, message="the entry to be cleared")
    assert len(redis_conn.lrange(f"test:{token}:starts", 0, -1)) == 1
    assert redis_conn.get(f"test:signal:succeeded:{record.id}") == b"1"


# --- Recovery's own rules, on crash states built by hand ------------------------------------------------


def _dead(redis_conn, name: str) -> None:
    redis_conn.zadd(WORKERS_KEY, {name: time.time() - 3600})


def _started_by(redis_conn, record_id: str, worker: str) -> None:
    """What a horse leaves in Redis once it has started a job."""
    job = Job.fetch(record_id, connection=redis_conn, serializer=JSONSerializer)
    job.worker_name = worker
    job.set_status("started")
    job.save()
    StartedJobRegistry("default", connection=redis_conn, serializer=JSONSerializer).add(job, 600)


def test_an_attempt_whose_horse_still_beats_is_not_run_again(redis_conn):
    record = enqueue("system:noop", {}, max_retries=2)
    dequeue_into(redis_conn, inflight_key("ghost"), [queue_get("default").key], None)
    record_attempt_started(record_id=record.id)
    _started_by(redis_conn, record.id, "ghost")
    _dead(redis_conn, "ghost")
    redis_conn.set(running_key(record.id), "ghost", ex=30)  # its horse outlived its supervisor

    assert dead_workers_recover(connection=redis_conn, queues=[queue_get("default")], ttl=10) == 0
    assert _status(record.id).status == JobStatus.RUNNING
    redis_conn.delete(running_key(record.id))  # the horse stopped
    assert dead_workers_recover(connection=redis_conn, queues=[queue_get("default")], ttl=10) == 1
    assert _status(record.id).status == JobStatus.RETRYING
    assert queue_get("default").get_job_ids() == [record.id]


def test_a_dead_jobs_unique_key_is_released_when_recovery_fails_it(redis_conn):
    record = enqueue("system:noop", {}, max_retries=0, unique_key="hostage")
    dequeue_into(redis_conn, inflight_key("ghost"), [queue_get("default").key], None)
    record_attempt_started(record_id=record.id)
    _started_by(redis_conn, record.id, "ghost")
    _dead(redis_conn, "ghost")
    assert enqueue("system:noop", {}, unique_key="hostage").deduplicated

    assert dead_workers_recover(connection=redis_conn, queues=[queue_get("default")], ttl=10) == 1
    failed = _status(record.id)
    assert failed.status == JobStatus.FAILED and "died while running" in failed.error
    fresh = enqueue("system:noop", {}, unique_key="hostage")
    assert not fresh.deduplicated and fresh.id != record.id


def test_a_job_lost_between_dequeue_and_start_is_requeued_and_then_frees_its_key(redis_conn, start_worker):
    record = enqueue("system:noop", {"value": 4}, unique_key="pattern:analyze:1:2")
    dequeue_into(redis_conn, inflight_key("ghost"), [queue_get("default").key], None)
    _dead(redis_conn, "ghost")

    assert dead_workers_recover(connection=redis_conn, queues=[queue_get("default")], ttl=10) == 1
    assert queue_get("default").get_job_ids() == [record.id]
    assert enqueue("system:noop", {}, unique_key="pattern:analyze:1:2").id == record.id  # live again: folds in
    assert start_worker("default", "--burst").wait(timeout=60) == 0
    assert _status(record.id).status == JobStatus.SUCCEEDED
    assert not enqueue("system:noop", {}, unique_key="pattern:analyze:1:2").deduplicated
