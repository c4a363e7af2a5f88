"""N workers with the schedule ticker on, one 10 s schedule: each fire time runs exactly once, and on time.

    .venv/bin/python bench/schedules.py [--workers 1 2 4] [--minutes 2] [--interval 10]

For each N it starts N real `manage.py rqworker` processes (not burst: each runs its ticker thread, every
TRENOVA_JOBS_SCHEDULE_TICK seconds — the settings' value, 5 s in production; project/settings.py does not
read it from the environment), each in its own process group, waits until all of them beat, then creates
one `system:noop` schedule with `schedule_create(interval_seconds=10)` and lets them run for `--minutes`.
Every fire time due in that window (anchor + k * interval) is checked after a settling period of two ticks:
  * fire times     — how many of the due times have an enqueued fire row (target: all of them);
  * jobs/fire      — JobRecords per fire time (target: exactly 1): the job each fire row names, plus any
                     job no fire row names, counted against the fire time it was created after;
  * duplicates     — jobs beyond one per fire time, plus fire rows beyond one (target: 0);
  * missed         — due times with no enqueued fire (no row, or a row recorded missed or skipped; target 0);
  * lateness       — the job record's `created_at` minus the scheduled fire time: the moment the ticker
                     claimed the time and called `enqueue` (same transaction as the fire row), i.e. how late
                     the schedule fired. Target p95 <= tick + 1 s (a time becomes due at most one tick
                     before a ticker looks, and the tick's "now" is truncated to whole seconds). A ticker
                     ticks every `tick` s after it started, so within one run every fire is about equally
                     late, by the phase between the tickers and the schedule's anchor: the schedule is
                     created a random 0..tick s after the workers are up, and each N samples one phase.
                     The workers start together, so their ticks fall close together: the case where every
                     fire time is contested by all N tickers, rather than a spread of phases.
                     `start p95` (the job's `started_at` minus the fire time) is shown for information.
Then it stops the workers with SIGTERM to each process group (rq's work horse calls setsid, so the groups
of any horses are signalled too), SIGKILLs what is left after 30 s, and checks every process is gone.
Uses DATABASE_URL (default: a `trenova_bench_sched` PostgreSQL database, created and migrated if missing)
and REDIS_URL (default: redis://127.0.0.1:6379/12, flushed before each N); its job and schedule rows are
deleted before each N. Worker logs go to a temporary directory, printed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

# Before benchenv, which only sets what is still unset.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trenova_bench_sched")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")

from benchenv import ROOT, percentile, pid_alive, setup_django, wait

KILL_GRACE_S = 30.0


@dataclass
class RoundResult:
    workers: int
    due: int
    fired: int
    jobs: int
    jobs_per_fire: tuple[int, int]
    duplicates: int
    missed: int
    outcomes: dict[str, int]
    lateness: list[float]
    start_lateness: list[float]
    succeeded: int
    leftover_processes: int


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (its work horses, whatever session they put themselves in)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, IndexError, ProcessLookupError, ValueError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        children = {pid for pid, parent in parents.items() if parent in frontier and pid not in found}
        found |= children
        frontier = children
    return found


def start_worker(name: str, log_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
        "PYTHONUNBUFFERED": "1",
    }
    with open(log_dir / f"{name}.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "--name", name],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_workers(workers: list[subprocess.Popen]) -> int:
    """SIGTERM every worker's process group and its horses' groups; returns the processes still alive after."""
    pids = {w.pid for w in workers}
    for w in workers:
        pids |= descendants(w.pid)
    groups = set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(pid))
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE_S
    for w in workers:
        try:
            w.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"  worker {w.pid} ignored SIGTERM for {KILL_GRACE_S:.0f} s: SIGKILL", flush=True)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(w.pid, signal.SIGKILL)
            w.wait(timeout=10)
    wait(lambda: not any(pid_alive(pid) for pid in pids), 5, 0.1)
    leftover = [pid for pid in pids if pid_alive(pid)]
    for pid in leftover:
        print(f"  process {pid} still alive after its worker stopped: SIGKILL", flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(leftover)


def reset() -> None:
    from trenova_jobs.models import JobRecord, Schedule
    from trenova_jobs.queues import redis_connection
    from trenova_jobs.schedules import schedule_delete

    redis_connection().flushdb()
    for schedule in Schedule.objects.select_related("cron_entry", "interval_entry"):
        schedule_delete(schedule=schedule)
    JobRecord.objects.all().delete()


def run_round(n: int, *, minutes: float, interval: int, tick: int, log_dir: Path) -> RoundResult:
    from trenova_jobs.models import FireOutcome, JobRecord, JobStatus, ScheduleFire
    from trenova_jobs.schedules import schedule_create, schedule_timing
    from trenova_jobs.selectors import workers_alive

    reset()
    names = [f"bench-sched-{n}-{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]
    workers = [start_worker(name, log_dir) for name in names]
    leftover = 0
    try:
        if not wait(lambda: set(names) <= set(workers_alive()), 90, 0.2):
            raise SystemExit(f"N={n}: not every worker came up within 90 s (logs: {log_dir})")
        # Created once the workers are up, so that their start-up is not counted as lateness, and at a random
        # point of their tick: a fixed-period ticker's lateness is set by that phase (every fire of a run lands
        # at the same point of the tick), and a fixed delay would measure the same phase every time.
        phase = random.uniform(0, tick)
        time.sleep(phase)
        schedule = schedule_create(name=f"bench every {interval} s", job_type="system:noop", interval_seconds=interval)
        timing = schedule_timing(schedule)
        assert timing.anchor is not None
        window_end = timing.anchor + timedelta(seconds=round(minutes * 60))
        due, _ = timing.between(schedule.baseline_at, window_end, limit=100_000)
        print(
            f"N={n}: {n} worker(s) up; schedule created {phase:.1f} s later, every {interval} s from "
            f"{timing.anchor:%H:%M:%S}, "
            f"{len(due)} fire times due until {window_end:%H:%M:%S}",
            flush=True,
        )
        settle = window_end + timedelta(seconds=2 * tick + 2)
        while (remaining := (settle - datetime.now(settle.tzinfo)).total_seconds()) > 0:
            time.sleep(min(remaining, 5))
            dead = [w.pid for w in workers if w.poll() is not None]
            if dead:
                raise SystemExit(f"N={n}: worker(s) {dead} exited during the run (logs: {log_dir})")
    finally:
        leftover = stop_workers(workers)

    due_set = set(due)
    fires = list(ScheduleFire.objects.filter(schedule=schedule, fire_time__lte=window_end))
    rows_per_time = Counter(fire.fire_time for fire in fires)
    outcomes = Counter(str(fire.outcome) for fire in fires)
    enqueued = {fire.fire_time: fire for fire in fires if fire.outcome == FireOutcome.ENQUEUED and fire.job_id}
    records = JobRecord.objects.filter(job_type="system:noop", created_at__lte=window_end + timedelta(seconds=60))
    jobs = {record.id: record for record in records}
    named = Counter(fire.job_id for fire in enqueued.values())
    per_time: Counter[datetime] = Counter({t: 1 for t, fire in enqueued.items() if fire.job_id in jobs})
    anchor = timing.anchor
    for record in jobs.values():
        if record.id not in named:  # a job no fire row names: counted against the fire time it followed
            k = int((record.created_at - anchor).total_seconds() // interval)
            fire_time = anchor + timedelta(seconds=k * interval)
            if fire_time <= window_end:
                per_time[fire_time] += 1
    counts = [per_time.get(t, 0) for t in due]
    duplicates = sum(max(0, c - 1) for c in per_time.values())
    duplicates += sum(c - 1 for c in rows_per_time.values() if c > 1) + sum(c - 1 for c in named.values() if c > 1)
    lateness, start_lateness, succeeded = [], [], 0
    for t, fire in enqueued.items():
        job = jobs.get(fire.job_id)
        if job is None or t not in due_set:
            continue
        lateness.append((job.created_at - t).total_seconds())
        if job.started_at is not None:
            start_lateness.append((job.started_at - t).total_seconds())
        succeeded += job.status == JobStatus.SUCCEEDED
    return RoundResult(
        workers=n,
        due=len(due),
        fired=sum(1 for t in due if t in enqueued),
        jobs=sum(per_time.values()),
        jobs_per_fire=(min(counts, default=0), max(counts, default=0)),
        duplicates=duplicates,
        missed=sum(1 for t in due if t not in enqueued),
        outcomes=dict(outcomes),
        lateness=lateness,
        start_lateness=start_lateness,
        succeeded=succeeded,
        leftover_processes=leftover,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="worker counts to run, in turn")
    parser.add_argument("--minutes", type=float, default=2.0, help="window of due fire times per worker count")
    parser.add_argument("--interval", type=int, default=10, help="the schedule's interval in seconds (>= 10)")
    args = parser.parse_args()
    setup_django()
    from trenova_jobs.conf import setting_int

    tick = setting_int("TRENOVA_JOBS_SCHEDULE_TICK")
    late_target = tick + 1.0
    log_dir = Path(tempfile.mkdtemp(prefix="trenova-bench-schedules-"))
    print(f"ticker tick {tick} s (TRENOVA_JOBS_SCHEDULE_TICK), schedule every {args.interval} s", flush=True)
    results: list[RoundResult] = []
    try:
        for n in args.workers:
            result = run_round(n, minutes=args.minutes, interval=args.interval, tick=tick, log_dir=log_dir)
            results.append(result)
            print(
                f"N={n}: {result.fired}/{result.due} fire times, {result.jobs} jobs, outcomes {result.outcomes}, "
                f"{result.succeeded} succeeded, {result.leftover_processes} processes left after stop",
                flush=True,
            )
    finally:
        reset()

    print()
    header = (
        f"{'workers':>7}  {'fire times':>10}  {'jobs/fire':>9}  {'duplicates':>10}  {'missed':>6}  "
        f"{'late p50 s':>10}  {'p95 s':>6}  {'max s':>6}  {'start p95 s':>11}  {'left':>4}"
    )
    print(header)
    print(
        f"{'target':>7}  {'all':>10}  {'exactly 1':>9}  {'0':>10}  {'0':>6}  {'':>10}  "
        f"{'<=' + format(late_target, '.0f'):>6}  {'':>6}  {'(info)':>11}  {'0':>4}"
    )
    failed = False
    for r in results:
        lo, hi = r.jobs_per_fire
        per_fire = f"{lo}" if lo == hi else f"{lo}..{hi}"
        if r.lateness:
            p50, p95, top = statistics.median(r.lateness), percentile(r.lateness, 0.95), max(r.lateness)
            late = f"{p50:>10.2f}  {p95:>6.2f}  {top:>6.2f}"
        else:
            p95, late = float("inf"), f"{'-':>10}  {'-':>6}  {'-':>6}"
        start = f"{percentile(r.start_lateness, 0.95):>11.2f}" if r.start_lateness else f"{'-':>11}"
        print(
            f"{r.workers:>7}  {f'{r.fired}/{r.due}':>10}  {per_fire:>9}  {r.duplicates:>10}  {r.missed:>6}  "
            f"{late}  {start}  {r.leftover_processes:>4}"
        )
        met = not (r.duplicates or r.missed or r.leftover_processes) and (lo, hi) == (1, 1) and p95 <= late_target
        failed = failed or not met
    print()
    print(f"lateness = job record created_at - scheduled fire time; target p95 <= tick + 1 s = {late_target:.0f} s")
    print(f"duplicates = jobs beyond one per fire time (target 0); worker logs: {log_dir}")
    print("RESULT: " + ("some target missed" if failed else "all targets met"))


if __name__ == "__main__":
    main()
