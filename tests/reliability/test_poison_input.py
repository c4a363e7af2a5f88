"""Poison written straight into Redis: the worker survives, imports and runs nothing, and fails or removes
each entry, counted (``trenova:stats:events``, exported as ``trenova_worker_events``) and logged.

One burst worker is given every kind at once, between good jobs: data that is not JSON, pickles (in the data
and in the meta) whose ``__reduce__`` would create a marker file, a foreign function (``os.system``, and a
module on the worker's path that would create a marker file if imported), null and wrong-typed meta, a
wrong-typed rq field, and job ids pushed on a queue with no job behind them. The admission checks one by one,
and callbacks, dependencies and foreign job ids, are in tests/trenova_jobs/test_admission.py.
"""

from __future__ import annotations

import json
import os
import pickle
import zlib
from pathlib import Path

import pytest
from rq.registry import FailedJobRegistry

from trenova_jobs import enqueue
from trenova_jobs.liveness import inflight_key
from trenova_jobs.models import JobRecord, JobStatus, job_id_new
from trenova_jobs.queues import queue_get
from trenova_jobs.stats import EVENTS_KEY

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


class _Touch:
    """Unpickling this runs ``touch <path>``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.path}",))


def _tampered(redis_conn, **fields: bytes | str) -> str:
    """One of our jobs (record and rq hash), then overwritten in Redis as an attacker or a bug would."""
    record = enqueue("system:noop", {})
    redis_conn.hset(f"rq:job:{record.id}", mapping=fields)
    return record.id


def test_poison_in_redis_is_refused_without_importing_or_running_anything(redis_conn, start_worker, tmp_path):
    markers = {name: tmp_path / name for name in ("pickled_data", "pickled_plain", "pickled_meta", "shell", "import")}
    (tmp_path / "poison_module.py").write_text(f"open({str(markers['import'])!r}, 'w').close()\n")

    def data(func: str, args: list) -> bytes:
        return zlib.compress(json.dumps([func, None, args, {}]).encode())

    first = enqueue("system:noop", {"value": 1})
    refused = {
        _tampered(redis_conn, data=b"\x80{not json"): "not JSON",
        _tampered(redis_conn, data=zlib.compress(pickle.dumps(_Touch(markers["pickled_data"])))): "not JSON",
        _tampered(redis_conn, data=pickle.dumps(_Touch(markers["pickled_plain"]))): "not JSON",
        _tampered(redis_conn, meta=pickle.dumps(_Touch(markers["pickled_meta"]))): "meta is not JSON",
        _tampered(redis_conn, meta="null"): "meta is not a JSON object",
        _tampered(redis_conn, meta="[1, 2]"): "meta is not a JSON object",
        _tampered(redis_conn, meta="42"): "meta is not a JSON object",
    }
    shell = enqueue("system:noop", {}).id
    redis_conn.hset(f"rq:job:{shell}", "data", data("os.system", [f"touch {markers['shell']}"]))
    refused[shell] = "names 'os.system'"
    imported = enqueue("system:noop", {}).id
    redis_conn.hset(f"rq:job:{imported}", "data", data("poison_module.anything", [imported]))
    refused[imported] = "names 'poison_module.anything'"
    unreadable = _tampered(redis_conn, retries_left="many")  # passes admission; rq cannot parse it
    unknown_ids = [job_id_new(), "../../rq:queue:critical"]  # pushed with no job hash behind them
    queue_key = queue_get("default").key
    for job_id in unknown_ids:
        redis_conn.rpush(queue_key, job_id)
    last = enqueue("system:noop", {"value": 2})

    worker = start_worker("default", "--burst", "--no-scheduler", env={"PYTHONPATH": str(tmp_path)})
    assert worker.wait(timeout=60) == 0  # survived every entry and drained the queue
    log = Path(worker.log_path).read_text()

    assert [name for name, path in markers.items() if path.exists()] == []  # nothing unpickled, imported, run
    failed_registry = FailedJobRegistry("default", connection=redis_conn)
    for job_id, reason in refused.items():
        job_hash = redis_conn.hgetall(f"rq:job:{job_id}")
        assert job_hash[b"status"] == b"failed", job_id
        assert job_hash[b"exc_info"].startswith(b"Refused by trenova worker"), job_id
        assert reason.encode() in job_hash[b"exc_info"], (job_id, job_hash[b"exc_info"])
        assert not job_hash.get(b"started_at") and not job_hash.get(b"worker_name")  # never forked
        assert redis_conn.zscore(failed_registry.key, job_id) is not None
        record = JobRecord.objects.get(pk=job_id)
        assert (record.status, record.attempts) == (JobStatus.FAILED, 0), job_id
        assert record.error.startswith("Refused by the worker:") and reason in record.error
        assert f"event=job_refused security=true job_id={job_id}" in log
    bad = JobRecord.objects.get(pk=unreadable)
    assert (bad.status, bad.attempts) == (JobStatus.FAILED, 0) and "cannot be read" in bad.error
    assert redis_conn.hget(f"rq:job:{unreadable}", "status") == b"failed"

    counts = {k.decode(): int(v) for k, v in redis_conn.hgetall(EVENTS_KEY).items()}
    assert counts == {"job_refused": len(refused), "bad_job": 1, "dequeued_missing": len(unknown_ids)}
    # An id with no job behind it has nothing to fail: it is dropped, logged and counted.
    for job_id in unknown_ids:
        assert f"event=dequeued_missing job_id={job_id}" in log
    assert redis_conn.llen(queue_key) == 0
    assert redis_conn.keys(inflight_key("*")) == []
    done = JobRecord.objects.filter(pk__in=[first.id, last.id]).values_list("status", flat=True)
    assert list(done) == [JobStatus.SUCCEEDED] * 2
    assert not JobRecord.objects.exclude(status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]).exists()
