"""Each shim over rq's private API or key layout, against real Redis (so an rq upgrade shows here first)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from trenova_jobs import enqueue
from trenova_jobs.queues import queue_get
from trenova_jobs.rq_compat import (
    RUN_FUNCTION,
    RefusedCodeError,
    dequeue_into,
    job_enqueue_in,
    job_exc_info_set,
    job_fail_raw,
    job_failure_text,
    queue_name_from_key,
    requeue_unless_held,
)

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
