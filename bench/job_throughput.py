"""End-to-end job throughput: the full job service vs raw rq, same worker class, same run.

    .venv/bin/python bench/job_throughput.py [--jobs 500] [--rounds 3]

Each round enqueues N jobs and drains them with one burst `manage.py rqworker` (WeightedWorker, forking a
work horse per job, as in production), twice:
  * full — `trenova_jobs.enqueue("system:noop")`: typed payload, JobRecord in PostgreSQL,
    status updates by the worker;
  * raw  — `Queue.enqueue("builtins.len", [i])` on the same queue, drained by rq's own forking worker
    (`rq worker --burst`; trenova's worker refuses jobs it did not make).
It prints jobs/s per round, the medians and the ratio full/raw (target >= 0.5).
Uses DATABASE_URL (default: a `trenova_bench` PostgreSQL database, created and migrated if missing)
and REDIS_URL (default: redis://127.0.0.1:6379/13, flushed between runs).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchenv import ROOT, setup_django


def drain(raw: bool = False) -> float:
    """Run one burst worker on the default queue; returns its wall time.

    The raw peer runs rq's own forking ``rq worker`` (no Django): trenova's worker refuses any job it did
    not make, ``builtins.len`` included.
    """
    started = time.perf_counter()
    if raw:
        from django.conf import settings

        command = [
            str(Path(sys.executable).parent / "rq"),
            "worker",
            "default",
            "--burst",
            "--quiet",
            "--url",
            settings.RQ_QUEUES["default"]["URL"],
            "--serializer",
            "rq.serializers.JSONSerializer",
        ]
    else:
        command = [
            sys.executable,
            "manage.py",
            "rqworker",
            "default",
            "--burst",
            "--no-scheduler",
            "--logging-level",
            "WARNING",
        ]
    subprocess.run(command, cwd=ROOT, check=True)
    return time.perf_counter() - started


def round_full(n: int) -> float:
    from trenova_jobs import enqueue
    from trenova_jobs.models import JobRecord, JobStatus

    started = time.perf_counter()
    ids = [enqueue("system:noop", {"value": i}).id for i in range(n)]
    drain()
    elapsed = time.perf_counter() - started
    done = JobRecord.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count()
    if done != n:
        raise SystemExit(f"full run: only {done} of {n} jobs succeeded")
    return n / elapsed


def round_raw(n: int) -> float:
    from rq.registry import FinishedJobRegistry

    from trenova_jobs.queues import queue_get

    queue = queue_get("default")
    started = time.perf_counter()
    for i in range(n):
        queue.enqueue("builtins.len", [i] * 1)
    drain(raw=True)
    elapsed = time.perf_counter() - started
    finished = FinishedJobRegistry("default", connection=queue.connection).count
    if finished < n:
        raise SystemExit(f"raw run: only {finished} of {n} jobs finished")
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    setup_django()
    from trenova_jobs.models import JobRecord
    from trenova_jobs.queues import redis_connection

    full, raw = [], []
    for r in range(1, args.rounds + 1):
        for label, fn, results in (("raw", round_raw, raw), ("full", round_full, full)):
            redis_connection().flushdb()
            JobRecord.objects.all().delete()
            rate = fn(args.jobs)
            results.append(rate)
            print(f"round {r}  {label:<4}  {args.jobs} jobs  {rate:8.1f} jobs/s", flush=True)
    redis_connection().flushdb()
    full_median, raw_median = statistics.median(full), statistics.median(raw)
    print()
    print(f"median  raw rq        {raw_median:8.1f} jobs/s")
    print(f"median  job service   {full_median:8.1f} jobs/s")
    print(f"ratio   service/raw   {full_median / raw_median:8.2f}   (target >= 0.5)")


if __name__ == "__main__":
    main()
