"""What /proc and Redis say about a worker's processes: that a kill killed what it meant to, that a worker is up."""

from __future__ import annotations

from pathlib import Path
from subprocess import Popen

from redis import Redis

from trenova_jobs.liveness import WORKERS_KEY


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def workers_beating(connection: Redis, names: list[str], procs: list[Popen]) -> bool:
    """True once every named worker has beaten; fails at once, with its log, if one exited instead."""
    for proc in procs:
        if proc.poll() is not None:
            log = Path(proc.log_path).read_text()[-4000:]  # type: ignore[attr-defined]
            raise AssertionError(f"worker exited with {proc.returncode} before beating:\n{log}")
    return all(connection.zscore(WORKERS_KEY, name) is not None for name in names)
