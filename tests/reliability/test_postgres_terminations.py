"""PostgreSQL drops a worker's connections (pg_terminate_backend, as a failover or an admin would): the worker
reconnects, a job whose connection was cut mid-handler retries and succeeds, and no record is left stuck.

The worker's backends are every session on the test database but the test's own (``pg_backend_pid()``);
each test waits until PostgreSQL has really ended them before it goes on.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import wait_for
from tests.reliability.jobs import WORKER_SETTINGS
from trenova_jobs import enqueue
from trenova_jobs.models import JobRecord, JobStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _other_backends() -> set[int]:
    """Sessions on this database other than the test's own: the worker's supervisor, horse and ticker."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def _terminate_other_backends() -> set[int]:
    """End every other session on this database; returns the pids PostgreSQL has ended (and waited out)."""
    # Chosen first, ended second: in one WHERE clause PostgreSQL may call pg_terminate_backend() on the
    # test's own session before it checks the pid.
    others = sorted(_other_backends())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM unnest(%s::int[]) AS pid WHERE pg_terminate_backend(pid)", [others])
        ended = {row[0] for row in cursor.fetchall()}
    wait_for(lambda: not (ended & _other_backends()), timeout=10, message="the terminated backends to exit")
    return ended


def _status(record_id: str) -> str:
    return JobRecord.objects.values_list("status", flat=True).get(pk=record_id)


def _nothing_stuck() -> None:
    assert list(JobRecord.objects.exclude(status=JobStatus.SUCCEEDED).values_list("id", "status")) == []


def test_an_idle_worker_whose_connections_were_terminated_reconnects_and_runs_the_next_jobs(redis_conn, start_worker):
    worker = start_worker("default", env=WORKER_SETTINGS)
    first = enqueue("system:noop", {"value": 1})
    wait_for(lambda: _status(first.id) == JobStatus.SUCCEEDED, timeout=30, message="the first job")
    wait_for(_other_backends, timeout=10, message="the worker's connection")  # the supervisor keeps its own

    ended = _terminate_other_backends()
    assert ended

    # The supervisor's next query meets the dead connection; the handler's (its own) connects afresh.
    after = [enqueue("system:noop", {"value": 2}).id, enqueue("test:db_touch", {"token": "idle"}).id]
    for record_id in after:
        wait_for(lambda: _status(record_id) == JobStatus.SUCCEEDED, timeout=30, message=f"{record_id} to run")  # noqa: B023
    assert JobRecord.objects.get(pk=after[1]).attempts == 1  # max_retries=0: it succeeded first time
    assert worker.poll() is None
    assert not (_other_backends() & ended)  # the worker is on new sessions
    assert "terminating connection due to administrator command" in Path(worker.log_path).read_text()  # met, not missed
    _nothing_stuck()


def test_a_job_whose_connection_is_terminated_mid_handler_retries_and_succeeds(redis_conn, start_worker):
    worker = start_worker("default", env=WORKER_SETTINGS)
    token = uuid.uuid4().hex
    record = enqueue("test:db_wait", {"token": token})
    wait_for(lambda: redis_conn.llen(f"test:{token}:backends"), timeout=30, message="the handler to connect")
    horse_backend = int(redis_conn.lindex(f"test:{token}:backends", 0))
    assert _status(record.id) == JobStatus.RUNNING

    ended = _terminate_other_backends()  # the horse's session and the supervisor's, at once
    assert horse_backend in ended
    redis_conn.set(f"test:{token}:go", 1)  # the handler's next query uses its dead connection

    wait_for(lambda: _status(record.id) == JobStatus.SUCCEEDED, timeout=60, message="the retry to succeed")
    done = JobRecord.objects.get(pk=record.id)
    assert done.attempts == 2
    backends = [int(b) for b in redis_conn.lrange(f"test:{token}:backends", 0, -1)]
    ends = [int(b) for b in redis_conn.lrange(f"test:{token}:ends", 0, -1)]
    assert len(backends) == 2 and backends[1] not in ended  # the retry connected afresh
    assert ends == [backends[1]]  # the cut attempt never got past its second query
    assert worker.poll() is None
    _nothing_stuck()
