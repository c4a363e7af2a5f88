"""How long a job whose worker is SIGKILLed takes to run again (SPEC target: within 60 s).

    .venv/bin/python bench/crash_recovery.py [--rounds 3]

Each round starts a worker in its own process group, gives it a long `system:noop` job (max_retries=1),
kills the worker, its work horse and its scheduler with SIGKILL once the job is running, starts a second
worker at once, and measures the time from the kill to the second attempt's start. rq alone would need its
~10-minute registry cleanup plus the job's 90 s heartbeat TTL; this measures trenova's liveness reaper.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time

from benchenv import ROOT, setup_django


def start_worker(name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "--name", name, "--logging-level", "WARNING"],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


def wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setup_django()
    from trenova_jobs.models import JobRecord
    from trenova_jobs.queues import redis_connection
    from trenova_jobs.services import enqueue

    def one_round(r: int) -> float:
        # A clean slate: records of earlier rounds (killed mid-job, their rq jobs flushed) would otherwise
        # be found by the workers' reconciler and run again, keeping the rescuer busy.
        redis_connection().flushdb()
        JobRecord.objects.all().delete()
        victim = start_worker(f"victim-{r}-{os.getpid()}")
        record = enqueue("system:noop", {"sleep_seconds": 120}, max_retries=1)

        def current() -> JobRecord:
            return JobRecord.objects.get(pk=record.pk)

        if not wait(lambda: current().status == "running", 60):
            raise SystemExit("the first attempt never started")
        kill_group(victim, signal.SIGKILL)
        killed = time.monotonic()
        rescuer = start_worker(f"rescuer-{r}-{os.getpid()}")
        try:
            if not wait(lambda: current().attempts == 2, 180):
                raise SystemExit("the job was not run again within 180 s")
            return time.monotonic() - killed
        finally:
            kill_group(rescuer, signal.SIGKILL)

    results = []
    for r in range(1, args.rounds + 1):
        results.append(one_round(r))
        print(f"round {r}: job re-run {results[-1]:5.1f} s after SIGKILL", flush=True)
    redis_connection().flushdb()
    print(f"\nmedian recovery {statistics.median(results):.1f} s (max {max(results):.1f} s; target <= 60 s)")


if __name__ == "__main__":
    main()
