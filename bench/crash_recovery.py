"""How long a job whose worker is killed takes to run again, in three kill modes (target: p95 <= 20 s).

    .venv/bin/python bench/crash_recovery.py [--rounds 20]

Two workers run all the time (each in its own process group, as a process supervisor would start them).
Each round enqueues a `bench:sleep_once` job (its first attempt sleeps 120 s; every attempt notes its pid,
start and end in Redis), waits until one worker runs it, then kills, with SIGKILL:
  * supervisor — the worker's main process alone (its work horse must die with it: PR_SET_PDEATHSIG);
  * group      — the worker's whole process group (rq's horse is in a session of its own, so the same);
  * horse      — the work horse alone (the worker itself fails the attempt and retries it).
It checks that the killed horse really died, measures the time from the kill to the next attempt's start
(the other worker, or for `horse` the same one, runs it), replaces a killed worker, and counts jobs lost
(not re-run within 120 s) and concurrent double runs (an attempt that started while an earlier one of
the same job was still alive). Rounds of the three modes alternate. Prints p50/p95/max per mode.

What the figure depends on: TRENOVA_JOBS_WORKER_LIVENESS_TTL (default 10 s; a worker is dead once its
last beat is older) plus up to TRENOVA_JOBS_RECOVERY_INTERVAL (default 2 s, the surviving worker's
sweep clock, kept while it is busy too), plus the poll of this script (50 ms).
Uses DATABASE_URL (default: the `trenova_bench` PostgreSQL database) and REDIS_URL (default: db 13).
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
import uuid
from pathlib import Path

from benchenv import ROOT, percentile, pid_alive, setup_django, wait

os.environ.setdefault("TRENOVA_JOBS_MODULES", "bench.bench_jobs")
MODES = ("supervisor", "group", "horse")


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def start_worker(tag: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "--name", f"bench-{tag}-{uuid.uuid4().hex[:6]}"],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="rounds per kill mode (at least 20 for a p95)")
    args = parser.parse_args()
    setup_django()
    from trenova_jobs import enqueue
    from trenova_jobs.models import JobRecord
    from trenova_jobs.queues import redis_connection

    conn = redis_connection()
    conn.flushdb()
    JobRecord.objects.all().delete()
    workers = [start_worker("a"), start_worker("b")]
    time.sleep(12)  # both up for a liveness TTL: a fresh worker judges nobody dead before that
    results: dict[str, list[float]] = {mode: [] for mode in MODES}
    lost = doubled = not_killed = 0

    def runs(token: str) -> list[tuple[int, float]]:
        return [(int(p), float(t)) for p, t in (x.decode().split() for x in conn.lrange(f"bench:{token}:runs", 0, -1))]

    try:
        for r in range(1, args.rounds + 1):
            for mode in MODES:
                token = uuid.uuid4().hex
                record = enqueue("bench:sleep_once", {"token": token, "seconds": 120})
                if not wait(lambda: runs(token), 60):  # noqa: B023
                    raise SystemExit("the first attempt never started")
                horse = runs(token)[0][0]
                supervisor = parent_of(horse)
                victim = next(w for w in workers if w.pid == supervisor)
                if mode == "supervisor":
                    os.kill(victim.pid, signal.SIGKILL)
                elif mode == "group":
                    os.killpg(victim.pid, signal.SIGKILL)
                else:
                    os.kill(horse, signal.SIGKILL)
                killed = time.time()
                if not wait(lambda: not pid_alive(horse), 5):  # noqa: B023
                    not_killed += 1
                horse_gone = time.time()
                if mode != "horse":
                    victim.wait(timeout=10)
                    workers[workers.index(victim)] = start_worker(f"r{r}")
                if not wait(lambda: len(runs(token)) >= 2, 120):  # noqa: B023
                    lost += 1
                    print(f"round {r:2d} {mode:<10} LOST: not re-run within 120 s", flush=True)
                    continue
                second_start = runs(token)[1][1]
                if second_start < horse_gone and pid_alive(horse):
                    doubled += 1
                results[mode].append(second_start - killed)
                wait(lambda: JobRecord.objects.get(pk=record.pk).status == "succeeded", 30)  # noqa: B023
                print(f"round {r:2d} {mode:<10} re-run {second_start - killed:5.1f} s after SIGKILL", flush=True)
            time.sleep(12)  # the replacement worker has been up for a liveness TTL before the next round
    finally:
        for w in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.wait(timeout=15)
        conn.flushdb()

    print()
    print(f"{'mode':<11}{'n':>4}{'p50 s':>9}{'p95 s':>9}{'max s':>9}   target p95 <= 20 s")
    for mode in MODES:
        values = results[mode]
        if values:
            p50, p95 = statistics.median(values), percentile(values, 0.95)
            print(f"{mode:<11}{len(values):>4}{p50:>9.1f}{p95:>9.1f}{max(values):>9.1f}")
    everything = [v for values in results.values() for v in values]
    print(
        f"{'all kills':<11}{len(everything):>4}{statistics.median(everything):>9.1f}"
        f"{percentile(everything, 0.95):>9.1f}{max(everything):>9.1f}"
    )
    print(
        f"\njobs lost: {lost} (target 0)   concurrent double runs: {doubled} (target 0)   "
        f"killed horses still alive after 5 s: {not_killed} (target 0)"
    )


if __name__ == "__main__":
    main()
