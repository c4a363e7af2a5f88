"""Each shim over rq's private API or key layout, against real Redis (so an rq upgrade shows here first)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import RedisError, WatchError
from rq import Worker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.results import Result
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer
from rq.utils import utcnow
from rq.worker import StopRequested, WorkerStatus
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from trenova_jobs import enqueue, execution
from trenova_jobs.queues import queue_get
from trenova_jobs.rq_compat import (
    RQ_LIVE_STATES,
    RUN_FUNCTION,
    CompatWorker,
    ParentBoundScheduler,
    RefusedCodeError,
    dequeue_into,
    job_delete_in,
    job_enqueue_in,
    job_exc_info_set,
    job_fail_raw,
    job_failure_text,
    job_from_hash,
    job_push_unless_live,
    job_requeue_front,
    job_requeue_if_lost,
    job_result,
    job_result_set,
    job_schedule_in,
    queue_name_from_key,
    registry_entry_remove,
    requeue_unless_held,
    scheduler_lock_release,
    started_job_move,
    wake_key,
    wake_wait,
    worker_stopped_job_id,
    worker_wake_in,
)
from trenova_jobs.worker import BackoffJob

pytestmark = pytest.mark.django_db(transaction=True)


def _evil_job(redis_conn, tmp_path: Path, **extra: object) -> tuple[Job, Path]:
    """An rq job, written by someone with access to Redis, that would create a file if run."""
    target = tmp_path / "pwned"
    job = Job.create("os.system", args=[f"touch {target}"], connection=redis_conn, serializer=JSONSerializer)
    for name, value in extra.items():
        setattr(job, name, value)
    job.save()
    return job, target


def test_rq_cannot_import_a_function_named_in_redis(redis_conn, tmp_path):
    job, target = _evil_job(redis_conn, tmp_path)
    fetched = Job.fetch(job.id, connection=redis_conn, serializer=JSONSerializer)
    with pytest.raises(RefusedCodeError, match=r"os\.system"):
        fetched.perform()
    assert not target.exists()


def test_rq_cannot_import_a_callback_named_in_redis(redis_conn, tmp_path):
    job, target = _evil_job(redis_conn, tmp_path, _failure_callback_name="os.system")
    fetched = Job.fetch(job.id, connection=redis_conn, serializer=JSONSerializer)
    with pytest.raises(RefusedCodeError):
        fetched.execute_failure_callback(None, RuntimeError, RuntimeError(), None)
    assert not target.exists()


def test_rqs_registry_cleanup_cannot_run_a_failure_callback_from_redis(redis_conn, tmp_path):
    # rq's StartedJobRegistry.cleanup() (run by registry.count and the dashboards) fires the failure
    # callback of every expired started job: the guard stops it importing anything.
    job, target = _evil_job(redis_conn, tmp_path, _failure_callback_name="os.system", origin="default")
    registry = StartedJobRegistry("default", connection=redis_conn, serializer=JSONSerializer)
    redis_conn.zadd(registry.key, {job.id: time.time() - 100})
    with pytest.raises(RefusedCodeError):
        registry.cleanup()
    assert not target.exists()


def test_our_own_entry_point_still_imports(redis_conn):
    record = enqueue("system:noop", {})
    job = Job.fetch(record.id, connection=redis_conn, serializer=JSONSerializer)
    assert job.func_name == RUN_FUNCTION
    assert callable(job.func)


def test_dequeue_into_moves_the_first_id_of_the_first_non_empty_queue(redis_conn):
    first = enqueue("system:noop", {}, queue="critical")
    second = enqueue("system:noop", {}, queue="default")
    keys = [queue_get("system").key, queue_get("default").key, queue_get("critical").key]
    assert dequeue_into(redis_conn, "test:inflight", keys, None) == (queue_get("default").key, second.id)
    assert dequeue_into(redis_conn, "test:inflight", keys, None) == (queue_get("critical").key, first.id)
    assert dequeue_into(redis_conn, "test:inflight", keys, None) is None
    assert redis_conn.lrange("test:inflight", 0, -1) == [second.id.encode(), first.id.encode()]


def test_dequeue_into_blocks_on_a_single_queue_and_times_out(redis_conn):
    key = queue_get("default").key
    assert dequeue_into(redis_conn, "test:inflight", [key], 1) is None
    record = enqueue("system:noop", {})
    assert dequeue_into(redis_conn, "test:inflight", [key], 1) == (key, record.id)
    assert queue_name_from_key(key) == "default"


def test_every_push_wakes_one_idle_worker_of_its_queue_and_tokens_stay_few(redis_conn):
    assert wake_wait(redis_conn, ["default", "critical"], 0.05) is False  # nothing pushed: the poll times out
    first = enqueue("system:noop", {}, queue="critical")  # autocommit: pushed at once
    assert redis_conn.llen(wake_key("critical")) == 1 and redis_conn.llen(wake_key("default")) == 0
    assert wake_wait(redis_conn, ["default", "critical"], 1) is True
    assert redis_conn.llen(wake_key("critical")) == 0  # one token, taken by one waiter
    for _ in range(30):  # nobody waiting: the list is cut, not grown
        enqueue("system:noop", {}, queue="critical")
    assert redis_conn.llen(wake_key("critical")) == 8
    with redis_conn.pipeline() as pipe:  # inside a caller's transaction, as the dispatcher pushes
        worker_wake_in(pipe, "default")
        assert redis_conn.llen(wake_key("default")) == 0
        pipe.execute()
    assert redis_conn.llen(wake_key("default")) == 1
    assert queue_get("critical").job_ids[0] == first.id  # the jobs themselves are queued as before
    queue = queue_get("critical")  # a requeue (retries, recovery, a warm stop) wakes a worker too
    redis_conn.delete(wake_key("critical"))
    with redis_conn.pipeline() as pipe:
        job_enqueue_in(queue, queue.fetch_job(first.id), pipe, at_front=True)
        pipe.execute()
    assert redis_conn.llen(wake_key("critical")) == 1


def test_requeue_unless_held_puts_back_only_a_job_nobody_holds(redis_conn):
    record = enqueue("system:noop", {})
    queue = queue_get("default")
    dequeue_into(redis_conn, "test:dead", [queue.key], None)
    redis_conn.rpush("test:live", record.id)  # another worker holds it too (it was re-delivered)
    assert not requeue_unless_held(
        redis_conn, job_id=record.id, queue_key=queue.key, remove_from="test:dead", held_in=["test:live"]
    )
    assert redis_conn.llen("test:dead") == 0 and redis_conn.llen(queue.key) == 0
    redis_conn.delete("test:live")
    redis_conn.rpush("test:dead", record.id)
    assert requeue_unless_held(
        redis_conn, job_id=record.id, queue_key=queue.key, remove_from="test:dead", held_in=["test:live"]
    )
    assert redis_conn.lrange(queue.key, 0, -1) == [record.id.encode()]
    # Already back in its queue: not pushed a second time.
    redis_conn.rpush("test:dead", record.id)
    assert not requeue_unless_held(
        redis_conn, job_id=record.id, queue_key=queue.key, remove_from="test:dead", held_in=[]
    )
    assert redis_conn.llen(queue.key) == 1


def test_job_fail_raw_fails_a_hash_rq_cannot_parse(redis_conn):
    redis_conn.hset("rq:job:bad", mapping={"status": "queued", "created_at": "not a date", "data": "{"})
    redis_conn.rpush("test:inflight", "bad")
    job_fail_raw(
        redis_conn, job_id="bad", queue_name="default", reason="broken", failure_ttl=900, inflight="test:inflight"
    )
    assert redis_conn.hget("rq:job:bad", "status") == b"failed"
    assert redis_conn.hget("rq:job:bad", "exc_info") == b"broken"
    assert redis_conn.zscore(FailedJobRegistry("default", connection=redis_conn).key, "bad") is not None
    assert redis_conn.llen("test:inflight") == 0


def test_job_enqueue_in_and_the_exc_info_shims(redis_conn):
    record = enqueue("system:noop", {})
    queue = queue_get("default")
    redis_conn.delete(queue.key)
    job = Job.fetch(record.id, connection=redis_conn, serializer=JSONSerializer)
    with redis_conn.pipeline() as pipe:
        pipe.multi()
        job_enqueue_in(queue, job, pipe)
        pipe.execute()
    assert redis_conn.lrange(queue.key, 0, -1) == [record.id.encode()]
    job_exc_info_set(job, "why it failed")
    job.save()
    assert job_failure_text(Job.fetch(record.id, connection=redis_conn, serializer=JSONSerializer)) == "why it failed"


# --- Helpers for the transaction shims --------------------------------------------------------------


class _RacedJob(Job):
    """An rq job that lets ``racer`` write (on another connection) just before its next save.

    The shims save the job after their WATCH and before their EXEC, so the racer's write lands exactly in
    the window the WATCH guards: what a live worker, the scheduler or another sweeper would do there.
    """

    racer: Callable[[], object] | None = None

    def save(self, *args: Any, **kwargs: Any) -> None:
        racer, self.racer = self.racer, None
        if racer is not None:
            racer()
        super().save(*args, **kwargs)


def _pusher(queue, job_id: str, calls: list[str]) -> Callable[[Any], object]:
    """What the outbox passes as ``push``: write a fresh rq job for ``job_id`` into the given pipeline."""

    def push(pipe) -> object:
        calls.append(job_id)
        job = queue.create_job(RUN_FUNCTION, args=(job_id,), job_id=job_id)
        return job_enqueue_in(queue, job, pipe)

    return push


def _started(redis_conn, worker_name: str, *, job_class: type[Job] = Job, max_retries: int = 2):
    """A job a worker dequeued and started (rq's own start writes): out of its queue, in the started registry."""
    record = enqueue("system:noop", {}, max_retries=max_retries)
    queue = queue_get("default")
    assert redis_conn.lpop(queue.key).decode() == record.id
    job = job_class.fetch(record.id, connection=queue.connection, serializer=JSONSerializer)
    registry = StartedJobRegistry(queue.name, connection=queue.connection, serializer=JSONSerializer)
    with queue.connection.pipeline() as pipe:
        job.prepare_for_execution(worker_name, pipe)
        registry.add(job, 600, pipeline=pipe)
        pipe.execute()
    return queue, job, registry


def _lost(redis_conn, *, job_class: type[Job] = Job):
    """A queued job that is in no queue (popped by a worker that died before its in-flight write)."""
    record = enqueue("system:noop", {})
    queue = queue_get("default")
    assert redis_conn.lpop(queue.key).decode() == record.id
    return queue, job_class.fetch(record.id, connection=queue.connection, serializer=JSONSerializer)


# --- job_push_unless_live ---------------------------------------------------------------------------


def test_the_live_states_are_rq_job_states():
    assert {"queued", "scheduled", "started", "deferred"} == RQ_LIVE_STATES
    assert {status.value for status in JobStatus} >= RQ_LIVE_STATES


def test_job_push_unless_live_pushes_a_job_rq_does_not_have(redis_conn):
    queue = queue_get("default")
    calls: list[str] = []
    pushed = job_push_unless_live(
        queue, "fresh", old_job=lambda: pytest.fail("no earlier run to fetch"), push=_pusher(queue, "fresh", calls)
    )
    assert pushed and calls == ["fresh"]
    assert redis_conn.lrange(queue.key, 0, -1) == [b"fresh"]
    assert redis_conn.hget(Job.key_for("fresh"), "status") == b"queued"


@pytest.mark.parametrize("state", sorted(RQ_LIVE_STATES))
def test_job_push_unless_live_refuses_a_job_rq_holds_live(redis_conn, state):
    record = enqueue("system:noop", {})
    queue = queue_get("default")
    redis_conn.hset(Job.key_for(record.id), "status", state)
    before = redis_conn.hgetall(Job.key_for(record.id))
    calls: list[str] = []
    pushed = job_push_unless_live(
        queue,
        record.id,
        old_job=lambda: pytest.fail("a live job is not replaced"),
        push=_pusher(queue, record.id, calls),
    )
    assert not pushed and calls == []
    assert redis_conn.lrange(queue.key, 0, -1) == [record.id.encode()]
    assert redis_conn.hgetall(Job.key_for(record.id)) == before


def test_job_push_unless_live_replaces_a_failed_earlier_run_in_the_same_transaction(redis_conn):
    record = enqueue("system:noop", {})
    queue = queue_get("default")
    old = queue.fetch_job(record.id)
    redis_conn.lrem(queue.key, 1, record.id)
    # The earlier run failed: its status, its error, its failed-registry entry, its result.
    with redis_conn.pipeline() as pipe:
        old.set_status(JobStatus.FAILED, pipeline=pipe)
        job_exc_info_set(old, "boom")
        old.save(pipeline=pipe)
        queue.failed_job_registry.add(old, 600, exc_string="boom", pipeline=pipe)
        Result.create_failure(old, 600, "boom", pipeline=pipe)
        pipe.execute()
    assert redis_conn.exists(Result.get_key(record.id))
    calls: list[str] = []
    pushed = job_push_unless_live(
        queue, record.id, old_job=lambda: queue.fetch_job(record.id), push=_pusher(queue, record.id, calls)
    )
    assert pushed and calls == [record.id]
    assert redis_conn.lrange(queue.key, 0, -1) == [record.id.encode()]
    assert redis_conn.hget(old.key, "status") == b"queued"
    assert redis_conn.hget(old.key, "exc_info") is None  # the old hash was deleted, not merged into
    assert redis_conn.zscore(queue.failed_job_registry.key, record.id) is None
    assert not redis_conn.exists(Result.get_key(record.id))


def test_job_push_unless_live_loses_a_race_to_a_pusher_that_made_it_live(redis_conn):
    queue = queue_get("default")
    calls: list[str] = []
    push = _pusher(queue, "raced", calls)

    def push_after_a_racer(pipe) -> object:
        redis_conn.hset(Job.key_for("raced"), "status", "queued")  # the racer's push lands first
        return push(pipe)

    assert not job_push_unless_live(queue, "raced", old_job=lambda: None, push=push_after_a_racer)
    assert calls == ["raced"]  # our push was written into the transaction, and discarded with it
    assert redis_conn.llen(queue.key) == 0
    assert redis_conn.hgetall(Job.key_for("raced")) == {b"status": b"queued"}


def test_job_push_unless_live_raises_when_interrupted_and_the_job_is_not_live(redis_conn):
    queue = queue_get("default")
    push = _pusher(queue, "interrupted", [])

    def push_after_a_change(pipe) -> object:
        redis_conn.hset(Job.key_for("interrupted"), "status", "finished")
        return push(pipe)

    with pytest.raises(RedisError, match="interrupted"):
        job_push_unless_live(queue, "interrupted", old_job=lambda: None, push=push_after_a_change)
    assert redis_conn.llen(queue.key) == 0
    assert redis_conn.hgetall(Job.key_for("interrupted")) == {b"status": b"finished"}


# --- started_job_move -------------------------------------------------------------------------------


def test_started_job_move_requeues_a_job_started_by_the_dead_worker_using_a_retry(redis_conn):
    queue, job, registry = _started(redis_conn, "w-dead", max_retries=2)
    moved = started_job_move(queue, job, registry, worker_name="w-dead", requeue=True, error="unused")
    assert moved
    assert redis_conn.zscore(registry.key, job.id) is None
    assert redis_conn.lrange(queue.key, 0, -1) == [job.id.encode()]
    assert redis_conn.hget(job.key, "status") == b"queued"
    assert queue.fetch_job(job.id).retries_left == 1
    assert redis_conn.zscore(queue.failed_job_registry.key, job.id) is None


def test_started_job_move_fails_a_job_started_by_the_dead_worker(redis_conn):
    queue, job, registry = _started(redis_conn, "w-dead", max_retries=0)
    moved = started_job_move(queue, job, registry, worker_name="w-dead", requeue=False, error="Worker w-dead died")
    assert moved
    assert redis_conn.zscore(registry.key, job.id) is None
    assert redis_conn.zscore(queue.failed_job_registry.key, job.id) is not None
    assert redis_conn.llen(queue.key) == 0
    assert redis_conn.hget(job.key, "status") == b"failed"
    assert job_failure_text(queue.fetch_job(job.id)) == "Worker w-dead died"


@pytest.mark.parametrize("requeue", [True, False])
def test_started_job_move_moves_nothing_unless_the_job_is_still_started_by_that_worker(redis_conn, requeue):
    queue, job, registry = _started(redis_conn, "w-live")
    before = redis_conn.hgetall(job.key)
    # Another worker's name: it was restarted by a live worker since.
    assert not started_job_move(queue, job, registry, worker_name="w-dead", requeue=requeue, error="e")
    assert redis_conn.hgetall(job.key) == before
    # Not started any more (a live worker finished it), though by the same worker.
    redis_conn.hset(job.key, "status", "finished")
    assert not started_job_move(queue, job, registry, worker_name="w-live", requeue=requeue, error="e")
    assert redis_conn.hget(job.key, "status") == b"finished"
    assert redis_conn.zscore(registry.key, job.id) is not None
    assert redis_conn.llen(queue.key) == 0
    assert redis_conn.zcard(queue.failed_job_registry.key) == 0


@pytest.mark.parametrize("requeue", [True, False])
def test_started_job_move_raises_and_moves_nothing_when_the_job_changed_meanwhile(redis_conn, requeue):
    queue, job, registry = _started(redis_conn, "w-dead", job_class=_RacedJob)
    job.racer = lambda: redis_conn.hset(job.key, mapping={"status": "started", "worker_name": "w-live"})
    with pytest.raises(WatchError):
        started_job_move(queue, job, registry, worker_name="w-dead", requeue=requeue, error="e")
    assert redis_conn.hmget(job.key, ["status", "worker_name"]) == [b"started", b"w-live"]
    assert redis_conn.zscore(registry.key, job.id) is not None
    assert redis_conn.llen(queue.key) == 0
    assert redis_conn.zcard(queue.failed_job_registry.key) == 0
    assert queue.fetch_job(job.id).retries_left == 2


# --- job_requeue_if_lost ----------------------------------------------------------------------------


def test_job_requeue_if_lost_pushes_a_job_in_no_queue_and_no_in_flight_list_once(redis_conn):
    queue, job = _lost(redis_conn)
    assert job_requeue_if_lost(queue, job, held_in=["test:inflight:a", "test:inflight:b"])
    assert redis_conn.lrange(queue.key, 0, -1) == [job.id.encode()]
    assert redis_conn.hget(job.key, "status") == b"queued"
    # Found again: it is in its queue now, and is not pushed a second time.
    assert not job_requeue_if_lost(queue, queue.fetch_job(job.id), held_in=[])
    assert redis_conn.lrange(queue.key, 0, -1) == [job.id.encode()]


def test_job_requeue_if_lost_leaves_a_job_a_worker_holds(redis_conn):
    queue, job = _lost(redis_conn)
    redis_conn.rpush("test:inflight:b", job.id)
    assert not job_requeue_if_lost(queue, job, held_in=["test:inflight:a", "test:inflight:b"])
    assert redis_conn.llen(queue.key) == 0


def test_job_requeue_if_lost_leaves_a_job_whose_status_moved_on(redis_conn):
    queue, job = _lost(redis_conn)
    redis_conn.hset(job.key, "status", "started")  # a worker started it after this copy was read
    assert not job_requeue_if_lost(queue, job, held_in=[])
    assert redis_conn.llen(queue.key) == 0
    assert redis_conn.hget(job.key, "status") == b"started"


@pytest.mark.parametrize("racer", ["job_started", "queue_pushed", "worker_took_it"])
def test_job_requeue_if_lost_pushes_nothing_when_the_job_moved_during_the_transaction(redis_conn, racer):
    queue, job = _lost(redis_conn, job_class=_RacedJob)
    inflight = "test:inflight:a"
    writes = {
        "job_started": lambda: redis_conn.hset(job.key, "status", "started"),
        "queue_pushed": lambda: redis_conn.rpush(queue.key, job.id),
        "worker_took_it": lambda: redis_conn.rpush(inflight, job.id),
    }
    job.racer = writes[racer]
    assert not job_requeue_if_lost(queue, job, held_in=[inflight])
    assert redis_conn.llen(queue.key) == (1 if racer == "queue_pushed" else 0)
    assert redis_conn.hget(job.key, "status") == (b"started" if racer == "job_started" else b"queued")


# --- job_requeue_front ------------------------------------------------------------------------------


@pytest.mark.parametrize("hash_lost", [False, True])
def test_job_requeue_front_puts_the_dequeued_copy_back_first_and_out_of_everything(redis_conn, hash_lost):
    first = enqueue("system:noop", {}, max_retries=2)
    second = enqueue("system:noop", {})
    queue = queue_get("default")
    inflight = "test:inflight"
    assert dequeue_into(redis_conn, inflight, [queue.key], None) == (queue.key, first.id)
    job = queue.fetch_job(first.id)  # this process's copy, as dequeued
    # What rq managed to write before the attempt fell over: started, failed, a retry scheduled.
    redis_conn.hset(job.key, mapping={"status": "scheduled", "retries_left": 1, "worker_name": "w"})
    registries = (queue.started_job_registry, queue.failed_job_registry, queue.scheduled_job_registry)
    for registry in registries:
        redis_conn.zadd(registry.key, {first.id: time.time() + 600})
    if hash_lost:
        redis_conn.delete(job.key)
    job_requeue_front(redis_conn, queue, job, inflight=inflight)
    assert redis_conn.lrange(queue.key, 0, -1) == [first.id.encode(), second.id.encode()]
    assert redis_conn.llen(inflight) == 0
    assert [redis_conn.zscore(registry.key, first.id) for registry in registries] == [None, None, None]
    assert redis_conn.hget(job.key, "status") == b"queued"
    restored = queue.fetch_job(first.id)
    assert restored.retries_left == 2 and restored.func_name == RUN_FUNCTION


# --- registry_entry_remove --------------------------------------------------------------------------


def test_registry_entry_remove_drops_one_entry_without_loading_its_job(redis_conn):
    registry = StartedJobRegistry("default", connection=redis_conn, serializer=JSONSerializer)
    redis_conn.hset(Job.key_for("bad"), mapping={"status": "started", "created_at": "12/31/99"})  # unparsable
    redis_conn.zadd(registry.key, {"ghost": 1, "bad": 2, "kept": 3})
    registry_entry_remove(registry, "ghost")  # no job hash at all
    registry_entry_remove(registry, "bad")
    assert redis_conn.zrange(registry.key, 0, -1) == [b"kept"]
    assert redis_conn.hget(Job.key_for("bad"), "status") == b"started"  # the job itself is left alone
    registry_entry_remove(registry, "ghost")  # gone already: nothing to do
    assert redis_conn.zrange(registry.key, 0, -1) == [b"kept"]


# --- job_schedule_in / job_delete_in ----------------------------------------------------------------


def test_job_schedule_in_writes_only_when_the_callers_transaction_commits(redis_conn):
    queue = queue_get("default")
    registry = ScheduledJobRegistry(queue.name, connection=redis_conn)
    due = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    job = queue.create_job(RUN_FUNCTION, args=("sched",), job_id="sched", status=JobStatus.SCHEDULED)
    with queue.connection.pipeline() as pipe:
        pipe.multi()
        assert job_schedule_in(queue, job, due, pipe) is job
        # rq 1.16's own ScheduledJobRegistry.schedule() would have written its ZADD by now.
        assert redis_conn.zcard(registry.key) == 0
        assert not redis_conn.exists(job.key)
        assert not redis_conn.sismember(queue.redis_queues_keys, queue.key)
        pipe.execute()
    assert redis_conn.zscore(registry.key, "sched") == due.timestamp()
    assert redis_conn.hget(job.key, "status") == b"scheduled"
    assert redis_conn.sismember(queue.redis_queues_keys, queue.key)
    # rq's scheduler finds it due at that second, not before.
    assert registry.get_jobs_to_schedule(due.timestamp() - 1) == []
    assert registry.get_jobs_to_schedule(due.timestamp()) == ["sched"]


def test_job_delete_in_removes_the_job_its_registries_and_its_results_on_commit(redis_conn):
    record = enqueue("system:noop", {})
    queue = queue_get("default")
    job = queue.fetch_job(record.id)
    # Its hash says failed; a scheduled retry entry says otherwise; a result stream holds the failure.
    with redis_conn.pipeline() as pipe:
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        queue.failed_job_registry.add(job, 600, exc_string="boom", pipeline=pipe)
        Result.create_failure(job, 600, "boom", pipeline=pipe)
        pipe.zadd(queue.scheduled_job_registry.key, {job.id: time.time() + 60})
        pipe.execute()

    def present() -> list[bool]:
        return [
            bool(redis_conn.exists(job.key)),
            redis_conn.lpos(queue.key, job.id) is not None,
            redis_conn.zscore(queue.failed_job_registry.key, job.id) is not None,
            redis_conn.zscore(queue.scheduled_job_registry.key, job.id) is not None,
            bool(redis_conn.exists(Result.get_key(job.id))),
        ]

    assert present() == [True] * 5
    with queue.connection.pipeline() as pipe:
        pipe.multi()
        job_delete_in(pipe, job, queue)
        assert present() == [True] * 5  # nothing until the caller commits
        pipe.execute()
    assert present() == [False] * 5


# --- job_from_hash / job_result / job_result_set ----------------------------------------------------


def test_job_from_hash_parses_the_hash_as_read_without_reading_redis_again(redis_conn):
    record = enqueue("system:noop", {}, max_retries=2)
    queue = queue_get("default")
    fields = redis_conn.hgetall(Job.key_for(record.id))
    redis_conn.delete(Job.key_for(record.id))  # Job.fetch would find nothing now
    job = job_from_hash(BackoffJob, record.id, fields, queue.connection, JSONSerializer)
    assert type(job) is BackoffJob and job.connection is queue.connection
    assert (job.id, job.origin, job.func_name, list(job.args)) == (record.id, "default", RUN_FUNCTION, [record.id])
    assert job.get_status(refresh=False) == JobStatus.QUEUED
    assert job.retries_left == 2 and job.meta == {"job_type": "system:noop"}
    assert not redis_conn.exists(Job.key_for(record.id))


def test_job_result_is_what_rqs_perform_kept(redis_conn, monkeypatch):
    record = enqueue("system:noop", {"value": 7})
    for name in ("_supervised", "_entered", "_returned"):  # run() keeps these per process: restore them
        monkeypatch.setattr(execution, name, getattr(execution, name))
    # As in the horse: the supervisor has started the attempt, so run() only calls the handler.
    execution.supervise(execution.Supervised(record_id=record.id, record=record))
    job = queue_get("default").fetch_job(record.id)
    assert job_result(job) is None
    assert job.perform() == {"value": 7}
    assert job_result(job) == {"value": 7}


def test_job_result_set_is_what_rq_stores_as_the_jobs_result(redis_conn):
    queue, job, registry = _started(redis_conn, "w-1", max_retries=0)
    worker = _compat_worker(["default"], name="w-1")
    job.ended_at = utcnow()
    job_result_set(job, {"v": 2})
    assert job_result(job) == {"v": 2}
    worker.handle_job_success(job, queue, registry)  # rq's own success bookkeeping, as the supervisor runs it
    assert redis_conn.zscore(registry.key, job.id) is None
    assert redis_conn.zscore(FinishedJobRegistry(queue.name, connection=redis_conn).key, job.id) is not None
    stored = queue.fetch_job(job.id)
    assert stored.get_status() == JobStatus.FINISHED
    assert stored.latest_result().return_value == {"v": 2}


# --- CompatWorker ------------------------------------------------------------------------------------


def _compat_worker(queue_names: list[str], *, name: str | None = None) -> CompatWorker:
    queues = [queue_get(queue_name) for queue_name in queue_names]
    return CompatWorker(
        queues, name=name or f"test-{uuid.uuid4().hex[:8]}", connection=queues[0].connection, serializer=JSONSerializer
    )


@pytest.fixture
def signals_restored() -> Iterator[None]:
    """The test process's SIGINT/SIGTERM handlers, put back after a test that lets rq install its own."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_compat_worker_ordered_queues_is_the_order_rqs_own_dequeue_follows(redis_conn):
    in_default = enqueue("system:noop", {}, queue="default")
    in_critical = enqueue("system:noop", {}, queue="critical")
    worker = _compat_worker(["default", "critical"])
    assert [q.name for q in worker.ordered_queues] == ["default", "critical"]  # rq starts from its queues
    worker.last_cleaned_at = utcnow()  # no registry clean-up in the middle of the dequeue
    worker.ordered_queues = [queue_get("critical"), queue_get("default")]
    assert [q.name for q in worker.ordered_queues] == ["critical", "default"]
    job, queue = worker.dequeue_job_and_maintain_ttl(None)
    assert (job.id, queue.name) == (in_critical.id, "critical")
    worker.ordered_queues = [queue_get("default"), queue_get("critical")]
    enqueue("system:noop", {}, queue="critical")
    job, queue = worker.dequeue_job_and_maintain_ttl(None)
    assert (job.id, queue.name) == (in_default.id, "default")


def test_compat_worker_signals_a_first_asks_a_warm_stop_while_busy_a_second_a_cold_stop(redis_conn, signals_restored):
    worker = _compat_worker(["default"])
    assert worker.horse_pid == 0  # a cold stop would kill the horse's process group: there must be none
    worker.signal_handlers_install()
    assert signal.getsignal(signal.SIGINT) == worker.request_stop
    assert signal.getsignal(signal.SIGTERM) == worker.request_stop
    worker.set_state(WorkerStatus.BUSY)
    assert not worker.stop_requested
    signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
    assert worker.stop_requested
    assert redis_conn.hget(worker.key, "shutdown_requested_date") is not None
    assert signal.getsignal(signal.SIGINT) == worker.request_force_stop
    worker._shutdown_requested_date = utcnow() - timedelta(seconds=2)  # rq ignores a repeat within 1 s
    with pytest.raises(SystemExit):
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)


def test_compat_worker_a_signal_while_idle_stops_at_once(redis_conn, signals_restored):
    worker = _compat_worker(["default"])
    worker.signal_handlers_install()
    worker.set_state(WorkerStatus.IDLE)
    with pytest.raises(StopRequested):
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
    assert not worker.stop_requested


def test_compat_worker_horse_members(redis_conn):
    worker = _compat_worker(["default"])
    assert not worker.is_horse
    worker.horse_mark()
    assert worker.is_horse
    worker._horse_pid = 12345  # what rq's fork_work_horse sets
    worker.horse_pid_clear()
    assert worker.horse_pid == 0


def _stop_job_command(worker: CompatWorker, job_id: str) -> None:
    """The message rq's ``send_stop_job_command`` publishes, as the worker's pubsub thread hands it over."""
    worker.handle_payload({"data": json.dumps({"command": "stop-job", "job_id": job_id}).encode()})


def test_worker_stopped_job_id_is_the_job_rqs_stop_job_command_stopped(redis_conn):
    record = enqueue("system:noop", {})
    worker = _compat_worker(["default"])
    assert worker_stopped_job_id(worker) is None
    assert worker_stopped_job_id(object()) is None
    horse = subprocess.Popen(["sleep", "60"], start_new_session=True)  # stands in for the work horse
    try:
        assert os.getpgid(horse.pid) == horse.pid != os.getpgrp()  # rq kills the horse's process group
        worker._horse_pid = horse.pid
        worker.set_current_job_id(record.id)
        _stop_job_command(worker, "another-job")
        assert worker_stopped_job_id(worker) is None
        assert horse.poll() is None
        _stop_job_command(worker, record.id)
        assert worker_stopped_job_id(worker) == record.id
        assert horse.wait(timeout=10) == -signal.SIGKILL
    finally:
        if horse.poll() is None:
            horse.kill()
            horse.wait(timeout=10)


def test_compat_worker_registration_restore_lists_the_worker_again_after_redis_lost_it(redis_conn):
    worker = _compat_worker(["default", "critical"])
    worker.register_birth()
    worker.set_state("busy")
    redis_conn.flushdb()  # Redis restarted without persistence
    worker.registration_restore()
    assert redis_conn.hget(worker.key, "state") == b"busy"
    assert redis_conn.sismember(worker.redis_workers_keys, worker.key)
    for name in ("default", "critical"):
        assert redis_conn.sismember(WORKERS_BY_QUEUE_KEY % name, worker.key)
    assert redis_conn.hget(worker.key, "queues") == b"default,critical"
    assert redis_conn.hget(worker.key, "birth") is not None
    assert Worker.count(connection=redis_conn, queue=queue_get("critical")) == 1


def test_rq_reads_back_a_worker_whose_registration_was_restored(redis_conn):
    worker = _compat_worker(["default"])
    worker.registration_restore()
    found = Worker.find_by_key(worker.key, connection=redis_conn)
    assert found is not None and found.birth_date is not None
    assert [w.name for w in Worker.all(connection=redis_conn)] == [worker.name]


def _scheduled_due(redis_conn, queue: str = "default") -> str:
    """A delayed job, pushed as trenova pushes it, whose due time has come."""
    record = enqueue("system:noop", {}, delay=600, queue=queue)
    registry = ScheduledJobRegistry(queue, connection=redis_conn)
    assert redis_conn.zscore(registry.key, record.id) is not None
    redis_conn.zadd(registry.key, {record.id: int(time.time()) - 1})
    return record.id


def test_compat_worker_scheduler_start_in_burst_enqueues_what_is_due_then_lets_the_lock_go(redis_conn):
    job_id = _scheduled_due(redis_conn)
    worker = _compat_worker(["default"])
    worker.scheduler_start(burst=True)
    assert isinstance(worker.scheduler, ParentBoundScheduler)
    assert redis_conn.lrange(queue_get("default").key, 0, -1) == [job_id.encode()]
    assert redis_conn.zcard(ScheduledJobRegistry("default", connection=redis_conn).key) == 0
    assert not redis_conn.exists(RQScheduler.get_locking_key("default"))
    # rq's own work loop starts its scheduler through _start_scheduler: it gets the same one.
    worker._start_scheduler(True, "INFO", "%H:%M:%S", "%(message)s")
    assert isinstance(worker.scheduler, ParentBoundScheduler)


def test_compat_worker_scheduler_start_leaves_a_queue_whose_lock_another_worker_holds(redis_conn):
    job_id = _scheduled_due(redis_conn)
    lock = RQScheduler.get_locking_key("default")
    redis_conn.set(lock, "w-other", ex=60)
    worker = _compat_worker(["default"])
    worker.scheduler_start(burst=True)
    assert redis_conn.llen(queue_get("default").key) == 0
    assert redis_conn.zscore(ScheduledJobRegistry("default", connection=redis_conn).key, job_id) is not None
    assert redis_conn.get(lock) == b"w-other"


# --- ParentBoundScheduler / scheduler_lock_release ---------------------------------------------------


@pytest.fixture
def scheduler_children() -> Iterator[None]:
    """Stop any scheduler child a test started (rq's scheduler leaves on SIGTERM, releasing its locks)."""
    before = set(multiprocessing.active_children())
    yield
    for child in set(multiprocessing.active_children()) - before:
        child.terminate()
        child.join(10)


def _scheduler(queue_names: list[str], owner: str) -> ParentBoundScheduler:
    queues = [queue_get(name) for name in queue_names]
    return ParentBoundScheduler(queues, connection=queues[0].connection, serializer=JSONSerializer, owner=owner)


def test_parent_bound_scheduler_locks_name_their_owner_and_skip_locks_held_by_others(redis_conn):
    redis_conn.set(RQScheduler.get_locking_key("critical"), "w-other", ex=60)
    scheduler = _scheduler(["default", "critical"], owner="w-1")
    assert scheduler.acquire_locks() == {"default"}
    assert scheduler.acquired_locks == {"default"}
    assert redis_conn.get(RQScheduler.get_locking_key("default")) == b"w-1"
    assert 60 < redis_conn.ttl(RQScheduler.get_locking_key("default")) <= scheduler.interval + 60
    assert redis_conn.get(RQScheduler.get_locking_key("critical")) == b"w-other"
    assert scheduler.acquire_locks() == set()  # its own lock is not taken twice
    assert scheduler.acquired_locks == {"default"}


def test_parent_bound_scheduler_ensure_running_starts_a_child_that_enqueues_due_jobs(redis_conn, scheduler_children):
    job_id = _scheduled_due(redis_conn)
    scheduler = _scheduler(["default"], owner="w-1")
    before = set(multiprocessing.active_children())
    scheduler.ensure_running()
    started = set(multiprocessing.active_children()) - before
    assert len(started) == 1
    deadline = time.monotonic() + 15
    while redis_conn.lpos(queue_get("default").key, job_id) is None:
        assert time.monotonic() < deadline, "the scheduler child should enqueue the due job"
        time.sleep(0.1)
    (child,) = started
    assert child.is_alive()  # it checked it was the worker's child (die_with_parent) and went on
    assert redis_conn.get(RQScheduler.get_locking_key("default")) == b"w-1"
    scheduler.ensure_running()  # running already: nothing more is started
    assert set(multiprocessing.active_children()) - before == started


def test_parent_bound_scheduler_ensure_running_starts_nothing_without_a_lock(redis_conn, scheduler_children):
    redis_conn.set(RQScheduler.get_locking_key("default"), "w-other", ex=60)
    scheduler = _scheduler(["default"], owner="w-1")
    before = set(multiprocessing.active_children())
    scheduler.ensure_running()
    assert set(multiprocessing.active_children()) == before
    assert redis_conn.get(RQScheduler.get_locking_key("default")) == b"w-other"


def test_parent_bound_scheduler_does_not_restart_on_a_lock_another_worker_took(redis_conn, scheduler_children):
    scheduler = _scheduler(["default"], owner="w-1")
    assert scheduler.acquire_locks() == {"default"}
    # Its scheduler child died long enough ago for the lock to lapse, and another worker's scheduler took it.
    redis_conn.set(RQScheduler.get_locking_key("default"), "w-other", ex=60)
    before = set(multiprocessing.active_children())
    scheduler.ensure_running()
    assert set(multiprocessing.active_children()) == before


def test_scheduler_lock_release_frees_only_a_lock_its_owner_still_holds(redis_conn):
    assert _scheduler(["default", "critical"], owner="w-dead").acquire_locks() == {"default", "critical"}
    lock = RQScheduler.get_locking_key("default")
    assert not scheduler_lock_release(redis_conn, "default", "w-live")
    assert redis_conn.get(lock) == b"w-dead"
    assert scheduler_lock_release(redis_conn, "default", "w-dead")
    assert not redis_conn.exists(lock)
    assert redis_conn.get(RQScheduler.get_locking_key("critical")) == b"w-dead"  # other queues keep theirs
    assert not scheduler_lock_release(redis_conn, "default", "w-dead")  # released already
    # Taken by a live worker since: the dead one's name no longer frees it.
    assert _scheduler(["default"], owner="w-live").acquire_locks() == {"default"}
    assert not scheduler_lock_release(redis_conn, "default", "w-dead")
    assert redis_conn.get(lock) == b"w-live"


def test_compat_worker_state_is_what_rq_last_wrote_and_can_be_forgotten(redis_conn):
    worker = _compat_worker(["default"])
    worker.set_state("busy")
    assert worker.state_is("busy") and not worker.state_is("idle")
    assert redis_conn.hget(worker.key, "state") == b"busy"
    worker.state_forget()
    assert not worker.state_is("busy")
