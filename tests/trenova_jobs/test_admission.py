"""Nothing read from Redis chooses what code runs: a worker refuses every job hash trenova did not make.

The pure checks first, then real burst workers given hashes written straight into Redis, as an attacker
with access to Redis (or a bug) would write them.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from tests.conftest import wait_for
from trenova_jobs import enqueue
from trenova_jobs.admission import job_problem
from trenova_jobs.models import JobRecord, JobStatus, job_id_new
from trenova_jobs.rq_compat import RUN_FUNCTION
from trenova_jobs.stats import EVENTS_KEY


def _fields(job_id: str, data: object, **extra: bytes) -> dict[bytes, bytes]:
    return {b"data": zlib.compress(json.dumps(data).encode()), **{k.encode(): v for k, v in extra.items()}}


GOOD_ID = "job_01JTESTTESTTESTTESTTESTTES"


def test_a_hash_trenova_made_passes():
    assert (
        job_problem(GOOD_ID, _fields(GOOD_ID, [RUN_FUNCTION, None, [GOOD_ID], {}], meta=b'{"job_type": "x"}')) is None
    )


@pytest.mark.parametrize(
    ("job_id", "data", "extra", "reason"),
    [
        ("X", [RUN_FUNCTION, None, ["X"], {}], {}, "not a trenova job id"),
        (GOOD_ID, ["os.system", None, ["id"], {}], {}, "names 'os.system'"),
        (GOOD_ID, [RUN_FUNCTION, "self", [GOOD_ID], {}], {}, "names an instance"),
        (GOOD_ID, [RUN_FUNCTION, None, ["job_other"], {}], {}, "arguments"),
        (GOOD_ID, [RUN_FUNCTION, None, [GOOD_ID], {"shell": True}], {}, "arguments"),
        (GOOD_ID, {"func": RUN_FUNCTION}, {}, "not [function"),
        (GOOD_ID, [RUN_FUNCTION, None, [GOOD_ID], {}], {"success_callback_name": b"os.system"}, "callback"),
        (GOOD_ID, [RUN_FUNCTION, None, [GOOD_ID], {}], {"failure_callback_name": b"os.system"}, "callback"),
        (GOOD_ID, [RUN_FUNCTION, None, [GOOD_ID], {}], {"stopped_callback_name": b"os.system"}, "callback"),
        (GOOD_ID, [RUN_FUNCTION, None, [GOOD_ID], {}], {"dependency_ids": b'["job_a"]'}, "dependencies"),
        (GOOD_ID, [RUN_FUNCTION, None, [GOOD_ID], {}], {"meta": b"null"}, "meta is not a JSON object"),
        (GOOD_ID, [RUN_FUNCTION, None, [GOOD_ID], {}], {"meta": b"\x80\x04pickle"}, "meta is not JSON"),
    ],
)
def test_anything_else_is_refused_with_a_reason(job_id, data, extra, reason):
    problem = job_problem(job_id, _fields(job_id, data, **extra))
    assert problem is not None and reason in problem


def test_uncompressed_and_non_json_data_are_read_as_rq_reads_them():
    plain = {b"data": json.dumps(["os.system", None, ["id"], {}]).encode()}
    assert "os.system" in job_problem(GOOD_ID, plain)
    assert "not JSON" in job_problem(GOOD_ID, {b"data": b"\x80\x04\x95pickle"})
    assert "no data" in job_problem(GOOD_ID, {b"status": b"queued"})


# --- Real workers --------------------------------------------------------------------------------


def _push_raw(redis_conn, job_id: str, **fields: object) -> None:
    """What the review reproduced: HSET a job hash by hand, RPUSH its id onto a queue."""
    mapping = {"status": "queued", "origin": "default", "created_at": "2026-01-01T00:00:00.000000Z", **fields}
    redis_conn.hset(f"rq:job:{job_id}", mapping=mapping)
    redis_conn.rpush("rq:queue:default", job_id)


def _refused(redis_conn, job_id: str) -> None:
    assert redis_conn.hget(f"rq:job:{job_id}", "status") == b"failed"
    assert redis_conn.hget(f"rq:job:{job_id}", "exc_info").startswith(b"Refused by trenova worker")
    assert redis_conn.zscore(FailedJobRegistry("default", connection=redis_conn).key, job_id) is not None
    # Never forked: a horse would have marked it started by a worker.
    assert not redis_conn.hget(f"rq:job:{job_id}", "started_at")
    assert not redis_conn.hget(f"rq:job:{job_id}", "worker_name")


def _burst(start_worker) -> tuple[int, str]:
    worker = start_worker("default", "--burst", "--no-scheduler")
    code = worker.wait(timeout=60)
    return code, Path(worker.log_path).read_text()


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_shell_command_pushed_into_redis_is_refused_and_the_worker_goes_on(redis_conn, start_worker, tmp_path):
    target = tmp_path / "pwned.txt"
    _push_raw(redis_conn, "X", data=json.dumps(["os.system", None, [f"id > {target}"], {}]))
    good = enqueue("system:noop", {"value": 1})

    code, log = _burst(start_worker)

    assert code == 0
    assert not target.exists()
    _refused(redis_conn, "X")
    assert "event=job_refused security=true job_id=X queue=default" in log
    assert int(redis_conn.hget(EVENTS_KEY, "job_refused")) == 1
    assert JobRecord.objects.get(pk=good.id).status == JobStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_callbacks_and_foreign_jobs_are_refused_and_their_records_failed(redis_conn, start_worker, tmp_path):
    target = tmp_path / "pwned"
    # One of our jobs, tampered with in Redis: a callback that would run a command.
    tampered = enqueue("system:noop", {})
    redis_conn.hset(f"rq:job:{tampered.id}", "success_callback_name", "os.system")
    # A well-formed trenova job with no record behind it: never forked.
    orphan = job_id_new()
    job = Job.create(RUN_FUNCTION, args=[orphan], id=orphan, connection=redis_conn, serializer=JSONSerializer)
    job.origin = "default"
    job.save()
    redis_conn.rpush("rq:queue:default", orphan)
    # Data naming a method of a stored instance.
    _push_raw(redis_conn, job_id_new(), data=json.dumps(["system", f"touch {target}", [], {}]))

    code, log = _burst(start_worker)

    assert code == 0 and not target.exists()
    _refused(redis_conn, tampered.id)
    _refused(redis_conn, orphan)
    failed = JobRecord.objects.get(pk=tampered.id)
    assert failed.status == JobStatus.FAILED and "callback" in failed.error
    assert "the job has no job record" in log
    assert int(redis_conn.hget(EVENTS_KEY, "job_refused")) == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_null_meta_and_unreadable_hashes_never_stop_a_worker(redis_conn, start_worker):
    # meta = JSON null made rq's work loop exit (AttributeError), with status 0.
    nulled = enqueue("system:noop", {})
    redis_conn.hset(f"rq:job:{nulled.id}", "meta", "null")
    unreadable = enqueue("system:noop", {})
    redis_conn.hset(f"rq:job:{unreadable.id}", "created_at", "yesterday-ish")
    after = [enqueue("system:noop", {"value": i}).id for i in range(3)]

    code, _log = _burst(start_worker)

    assert code == 0
    assert JobRecord.objects.get(pk=nulled.id).status == JobStatus.FAILED
    assert "meta" in JobRecord.objects.get(pk=nulled.id).error
    bad = JobRecord.objects.get(pk=unreadable.id)
    assert bad.status == JobStatus.FAILED and "cannot be read" in bad.error
    assert int(redis_conn.hget(EVENTS_KEY, "bad_job")) == 1
    wait_for(
        lambda: all(JobRecord.objects.get(pk=i).status == JobStatus.SUCCEEDED for i in after),
        timeout=10,
        message="the jobs after the bad ones",
    )
