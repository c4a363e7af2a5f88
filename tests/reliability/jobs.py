"""Job types only these tests use (loaded by workers through ``tests.reliability.worker_settings``)."""

from __future__ import annotations

import os
import time

from django.db import connection

from trenova_jobs.payloads import JobPayload
from trenova_jobs.queues import redis_connection
from trenova_jobs.registry import JobContext, job_type

WORKER_SETTINGS = {"DJANGO_SETTINGS_MODULE": "tests.reliability.worker_settings"}


class DbWaitPayload(JobPayload):
    token: str
    wait_seconds: float = 30.0


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


@job_type("test:db_wait", payload=DbWaitPayload, queue="default", max_retries=2)
def handle_test_db_wait(payload: DbWaitPayload, ctx: JobContext) -> dict:
    """Uses the database, then (first attempt only) waits for ``test:<token>:go``, then uses it again.

    Notes each attempt's horse pid and PostgreSQL backend pid, and each attempt that got to its end, so a
    test can cut the connection while the handler holds it.
    """
    conn = redis_connection()
    token = payload.token
    conn.rpush(f"test:{token}:backends", _backend_pid())
    conn.rpush(f"test:{token}:pids", os.getpid())
    attempt = int(conn.incr(f"test:{token}:count"))
    if attempt == 1:
        deadline = time.monotonic() + payload.wait_seconds
        while not conn.exists(f"test:{token}:go") and time.monotonic() < deadline:
            time.sleep(0.05)
    backend = _backend_pid()  # the connection the first query opened: dead if it was terminated
    conn.rpush(f"test:{token}:ends", backend)
    return {"attempt": ctx.attempt}
