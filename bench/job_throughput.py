"""End-to-end job throughput and idle latency: the full job service vs raw rq, same worker class, same run.

    .venv/bin/python bench/job_throughput.py [--jobs 500] [--rounds 3] [--latency-samples 30]

Throughput. Each round enqueues N jobs on the default queue and drains them with one burst worker that
forks a work horse per job (rq's Worker design, as in production), three ways, in turn:
  * service      — `trenova_jobs.enqueue("system:noop")` (typed payload, JobRecord in PostgreSQL, outbox,
                   start and outcome written by the supervisor), drained by `manage.py rqworker --burst`;
  * rq-in-django — `Queue.enqueue("builtins.len")` drained by rq's own `Worker` in a process that has set
                   Django up (what django-rq's stock `rqworker` runs): the same worker class and the same
                   process size, so the same fork and exit cost. The target applies to this peer;
  * rq-bare      — the same jobs drained by the `rq worker` command, no Django at all (shown for scale).
The clock runs from the first job's start to the last job's end, as rq stamped them in the job hashes,
so worker start-up is excluded for all three alike. Target: service >= 0.8x rq-in-django.

Idle latency. A long-running worker of each kind waits on every configured queue (the production set);
one job at a time is enqueued and the time from the enqueue call to the job's start (rq's `started_at`,
stamped in the work horse) is taken, p50/p95 over the samples.

Uses DATABASE_URL (default: a `trenova_bench` PostgreSQL database, created and migrated if missing) and
REDIS_URL (default: redis://127.0.0.1:6379/13, flushed between runs).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from benchenv import ROOT, percentile, setup_django

TARGET = 0.8
# rq's Worker in a process that has set Django up. The project's app config installs an import guard in rq
# (only trenova's own entry point runs); this peer runs rq's plain jobs, so it puts rq's import back.
RQ_IN_DJANGO = """
import django, sys
import rq.job
plain_func, plain_import = rq.job.Job.func, rq.job.import_attribute
django.setup()
rq.job.Job.func, rq.job.import_attribute = plain_func, plain_import
from django.conf import settings
from redis import Redis
from rq import Queue, Worker
from rq.serializers import JSONSerializer
connection = Redis.from_url(settings.RQ_QUEUES["default"]["URL"])
queues = [Queue(name, connection=connection, serializer=JSONSerializer) for name in sys.argv[1].split(",")]
Worker(queues, connection=connection, serializer=JSONSerializer).work(
    burst=sys.argv[2] == "burst", with_scheduler=False, logging_level="WARNING"
)
"""


def worker_command(kind: str, queues: list[str], *, burst: bool) -> list[str]:
    from django.conf import settings

    if kind == "service":
        return [
            sys.executable,
            "manage.py",
            "rqworker",
            *queues,
            *(["--burst", "--no-scheduler"] if burst else []),
            "--logging-level",
            "WARNING",
        ]
    if kind == "rq-in-django":
        return [sys.executable, "-c", RQ_IN_DJANGO, ",".join(queues), "burst" if burst else "run"]
    return [
        str(Path(sys.executable).parent / "rq"),
        "worker",
        *queues,
        *(["--burst"] if burst else []),
        "--quiet",
        "--url",
        settings.RQ_QUEUES["default"]["URL"],
        "--serializer",
        "rq.serializers.JSONSerializer",
    ]


def worker_env() -> dict[str, str]:
    return {**os.environ, "DJANGO_LOG_LEVEL": "WARNING"}


def enqueue_many(kind: str, n: int) -> list[str]:
    if kind == "service":
        from trenova_jobs import enqueue

        return [enqueue("system:noop", {"value": i}).id for i in range(n)]
    from trenova_jobs.queues import queue_get

    queue = queue_get("default")
    return [queue.enqueue("builtins.len", [i]).id for i in range(n)]


def jobs_fetch(ids: list[str]) -> list[Any]:
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from trenova_jobs.queues import redis_connection

    jobs = Job.fetch_many(ids, connection=redis_connection(), serializer=JSONSerializer)
    return [job for job in jobs if job is not None]


def one_round(kind: str, n: int) -> float:
    """Jobs per second from the first start to the last end, worker start-up excluded."""
    ids = enqueue_many(kind, n)
    subprocess.run(worker_command(kind, ["default"], burst=True), cwd=ROOT, env=worker_env(), check=True)
    jobs = jobs_fetch(ids)
    finished = [job for job in jobs if job.get_status() == "finished"]
    if len(finished) != n:
        raise SystemExit(f"{kind}: only {len(finished)} of {n} jobs finished")
    if kind == "service":
        from trenova_jobs.models import JobRecord, JobStatus

        done = JobRecord.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count()
        if done != n:
            raise SystemExit(f"service: only {done} of {n} job records succeeded")
    first = min(job.started_at for job in finished)
    last = max(job.ended_at for job in finished)
    return n / (last - first).total_seconds()


def idle_latency(kind: str, samples: int) -> list[float]:
    """Milliseconds from enqueue to start, one job at a time, with a worker idle on every queue."""
    from django.conf import settings
    from rq.utils import utcnow

    proc = subprocess.Popen(
        worker_command(kind, list(settings.RQ_QUEUES), burst=False),
        cwd=ROOT,
        env=worker_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        first = enqueue_many(kind, 1)[0]
        wait_until(lambda: _finished(first), 60, f"{kind} worker to start")
        latencies = []
        for _ in range(samples):
            time.sleep(0.2)  # idle again: the worker is back waiting on its queues
            sent: datetime = utcnow()
            job_id = enqueue_many(kind, 1)[0]
            job = wait_until(lambda: _finished(job_id), 30, f"{kind} job {job_id}")  # noqa: B023
            latencies.append((job.started_at - sent).total_seconds() * 1000)
        return latencies
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _finished(job_id: str) -> Any:
    jobs = jobs_fetch([job_id])
    return jobs[0] if jobs and jobs[0].get_status() == "finished" else None


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise SystemExit(f"timed out waiting for {what}")


def reset() -> None:
    from trenova_jobs.models import JobRecord
    from trenova_jobs.queues import redis_connection

    redis_connection().flushdb()
    JobRecord.objects.all().delete()


KINDS = ("rq-bare", "rq-in-django", "service")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=30)
    args = parser.parse_args()
    setup_django()

    rates: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for r in range(1, args.rounds + 1):
        for kind in KINDS:
            reset()
            rates[kind].append(one_round(kind, args.jobs))
            print(f"round {r}  {kind:<13} {args.jobs} jobs  {rates[kind][-1]:8.1f} jobs/s", flush=True)
    latency: dict[str, list[float]] = {}
    if args.latency_samples:
        for kind in ("rq-in-django", "service"):
            reset()
            latency[kind] = idle_latency(kind, args.latency_samples)
    reset()

    medians = {kind: statistics.median(values) for kind, values in rates.items()}
    print()
    for kind in KINDS:
        print(f"median  {kind:<13} {medians[kind]:8.1f} jobs/s")
    ratio = medians["service"] / medians["rq-in-django"]
    print(f"ratio   service / rq-in-django  {ratio:5.2f}   (target >= {TARGET})")
    print(f"ratio   service / rq-bare       {medians['service'] / medians['rq-bare']:5.2f}   (no target: scale)")
    for kind, values in latency.items():
        print(
            f"idle enqueue->start  {kind:<13} p50 {percentile(values, 0.50):6.1f} ms   "
            f"p95 {percentile(values, 0.95):6.1f} ms   ({len(values)} samples)"
        )


if __name__ == "__main__":
    main()
