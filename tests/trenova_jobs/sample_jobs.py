"""Job types that exist only for tests: flaky, failing and slow handlers that report to Redis."""

from __future__ import annotations

import os
import time

from django.dispatch import receiver

from trenova_jobs.errors import NonRetryableError
from trenova_jobs.payloads import JobPayload
from trenova_jobs.queues import redis_connection
from trenova_jobs.registry import JobContext, job_type
from trenova_jobs.signals import job_failed, job_succeeded


class TokenPayload(JobPayload):
    token: str
    fail_times: int = 0
    seconds: float = 0.0


def _note_start(token: str, ctx: JobContext) -> int:
    """Record when this attempt started; returns how many attempts have started for the token."""
    conn = redis_connection()
    conn.rpush(f"test:{token}:starts", f"{time.time():.6f}")
    return int(conn.incr(f"test:{token}:count"))


@job_type("test:flaky", payload=TokenPayload, queue="default", max_retries=3)
def handle_test_flaky(payload: TokenPayload, ctx: JobContext) -> dict:
    """Fails its first ``fail_times`` attempts, then succeeds."""
    count = _note_start(payload.token, ctx)
    if count <= payload.fail_times:
        raise RuntimeError(f"flaky failure {count} of {payload.fail_times}")
    return {"attempt": ctx.attempt, "token": payload.token}


@job_type("test:always_fail", payload=TokenPayload, queue="default", max_retries=2)
def handle_test_always_fail(payload: TokenPayload, ctx: JobContext) -> None:
    """Fails every attempt."""
    _note_start(payload.token, ctx)
    raise RuntimeError("always fails")


@job_type("test:non_retryable", payload=TokenPayload, queue="default", max_retries=5)
def handle_test_non_retryable(payload: TokenPayload, ctx: JobContext) -> None:
    """Fails in a way retries cannot fix."""
    _note_start(payload.token, ctx)
    raise NonRetryableError("the shipment no longer exists")


@job_type("test:sleep", payload=TokenPayload, queue="default", max_retries=2)
def handle_test_sleep(payload: TokenPayload, ctx: JobContext) -> dict:
    """Sleeps ``seconds`` on its first attempt only (so a killed first attempt can be re-run quickly).

    Notes the pid of each attempt and when each one ended, so that tests can see overlapping runs.
    """
    conn = redis_connection()
    conn.rpush(f"test:{payload.token}:pids", os.getpid())
    count = _note_start(payload.token, ctx)
    if count == 1:
        time.sleep(payload.seconds)
    conn.rpush(f"test:{payload.token}:ends", f"{time.time():.6f}")
    return {"attempt": ctx.attempt}


class ReturnsPayload(JobPayload):
    kind: str


@job_type("test:returns", payload=ReturnsPayload, queue="default", max_retries=0)
def handle_test_returns(payload: ReturnsPayload, ctx: JobContext) -> object:
    """Returns (or raises) something PostgreSQL or JSON cannot store as it is."""
    if payload.kind == "nan":
        return {"value": float("nan")}
    if payload.kind == "inf":
        return [float("inf")]
    if payload.kind == "nul_result":
        return {"text": "a\x00b"}
    if payload.kind == "nul_error":
        raise RuntimeError("bad \x00 byte in \ud800 text")
    if payload.kind == "object":
        return object()
    return {"ok": True}


# Count outcome signals in Redis, so tests can check from outside a worker that each is sent once.
@receiver(job_succeeded, dispatch_uid="tests.count_job_succeeded")
def _count_succeeded(sender: object, record: object, **kwargs: object) -> None:
    redis_connection().incr(f"test:signal:succeeded:{record.id}")


@receiver(job_failed, dispatch_uid="tests.count_job_failed")
def _count_failed(sender: object, record: object, **kwargs: object) -> None:
    redis_connection().incr(f"test:signal:failed:{record.id}")


@job_type("test:db_touch", payload=TokenPayload, queue="default", max_retries=0)
def handle_test_db_touch(payload: TokenPayload, ctx: JobContext) -> dict:
    """Uses the database from the work horse, as real handlers do."""
    from trenova_jobs.models import JobRecord

    return {"records": JobRecord.objects.filter(job_type="test:db_touch").count()}


@job_type("test:progress", payload=TokenPayload, queue="default", max_retries=0)
def handle_test_progress(payload: TokenPayload, ctx: JobContext) -> dict:
    """Reports 1 of 3, then waits (up to 60 s) for the test to set ``test:<token>:go``, then 3 of 3."""
    conn = redis_connection()
    ctx.progress(1, 3, "first of three")
    deadline = time.monotonic() + 60
    while not conn.exists(f"test:{payload.token}:go") and time.monotonic() < deadline:
        time.sleep(0.05)
    ctx.progress(3, 3, "all three")
    return {"steps": 3}
