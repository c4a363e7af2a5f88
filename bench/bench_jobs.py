"""Job types only the benchmarks register (``TRENOVA_JOBS_MODULES=bench.bench_jobs``)."""

from __future__ import annotations

import os
import time

from trenova_jobs.payloads import JobPayload
from trenova_jobs.queues import redis_connection
from trenova_jobs.registry import JobContext, job_type


class SleepOncePayload(JobPayload):
    token: str
    seconds: float = 120.0


@job_type("bench:sleep_once", payload=SleepOncePayload, queue="default", max_retries=3)
def handle_bench_sleep_once(payload: SleepOncePayload, ctx: JobContext) -> dict:
    """Notes the pid and start of every attempt, sleeps on the first one only, notes each end."""
    conn = redis_connection()
    conn.rpush(f"bench:{payload.token}:runs", f"{os.getpid()} {time.time():.6f}")
    if ctx.attempt == 1:
        time.sleep(payload.seconds)
    conn.rpush(f"bench:{payload.token}:ends", f"{os.getpid()} {time.time():.6f}")
    return {"attempt": ctx.attempt}
