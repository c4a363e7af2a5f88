"""Who is alive: workers beat into one sorted set, work horses beat per job, children die with their parent.

A worker's main process adds itself to ``WORKERS_KEY`` with the Redis server's clock as score every
``ttl / 3`` seconds; a worker whose score is older than the TTL is presumed dead. Counting live workers is
one ``ZCOUNT`` (no keyspace scan), and using the server's clock makes hosts' clock skew irrelevant.

A work horse beats ``running_key(job_id)`` while its handler runs. Recovery never re-runs an attempt
whose horse still beats, even if its supervisor is gone; and on Linux the horse and rq's scheduler child
ask the kernel to SIGKILL them when their parent dies (``PR_SET_PDEATHSIG``): rq's horse calls
``setsid()``, so killing the worker's process group would otherwise leave it running.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from redis import Redis
from redis.exceptions import WatchError

from trenova_jobs.logs import log_event

WORKERS_KEY = "trenova:workers"
RUNNING_PREFIX = "trenova:running:"
INFLIGHT_PREFIX = "trenova:inflight:"

# ZADD with the server's clock: TIME is allowed in scripts since Redis 5 (effects replication).
_BEAT_SCRIPT = """
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], t[1] + t[2] / 1000000, ARGV[1])
return t[1]
"""
_DEAD_SCRIPT = """
local t = redis.call('TIME')
local now = t[1] + t[2] / 1000000
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[1])))
"""
_ALIVE_SCRIPT = """
local t = redis.call('TIME')
local now = t[1] + t[2] / 1000000
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')
"""


def running_key(job_id: str) -> str:
    return f"{RUNNING_PREFIX}{job_id}"


def inflight_key(worker_name: str) -> str:
    """The list a worker moves each job id into as it dequeues it, and removes it from once settled."""
    return f"{INFLIGHT_PREFIX}{worker_name}"


def worker_beat(connection: Redis, worker_name: str) -> None:
    connection.eval(_BEAT_SCRIPT, 1, WORKERS_KEY, worker_name)


def worker_forget(connection: Redis, worker_name: str) -> None:
    connection.zrem(WORKERS_KEY, worker_name)


def worker_forget_if_idle(connection: Redis, worker_name: str) -> bool:
    """Forget a (dead) worker once its in-flight list is empty; True when it was forgotten.

    The list is WATCHed until the worker leaves ``WORKERS_KEY``, so an id that lands in it meanwhile
    keeps the worker known (and its list swept).
    """
    key = inflight_key(worker_name)
    with connection.pipeline() as pipe:
        try:
            pipe.watch(key)
            if pipe.llen(key):
                return False
            pipe.multi()
            pipe.zrem(WORKERS_KEY, worker_name)
            pipe.execute()
        except WatchError:
            return False
    return True


def live_worker_names(connection: Redis, ttl: int) -> list[str]:
    return sorted(name.decode() for name in connection.eval(_ALIVE_SCRIPT, 1, WORKERS_KEY, ttl))


def dead_worker_names(connection: Redis, ttl: int) -> list[str]:
    """Workers whose last beat is older than ``ttl`` seconds (they may still have in-flight jobs)."""
    return sorted(name.decode() for name in connection.eval(_DEAD_SCRIPT, 1, WORKERS_KEY, ttl))


def worker_alive(connection: Redis, worker_name: str, ttl: int) -> bool:
    return worker_name in live_worker_names(connection, ttl) if worker_name else False


def horse_running(connection: Redis, job_id: str) -> bool:
    return bool(connection.exists(running_key(job_id)))


class Beat:
    """A daemon thread that calls ``beat()`` now and every ``interval`` seconds until stopped.

    A failed beat (Redis down) is logged and tried again at the next tick: the process lives on, and
    its beats resume when Redis answers again.
    """

    def __init__(self, beat: Callable[[], None], interval: float, name: str, on_stop: Callable[[], None]) -> None:
        self._beat = beat
        self._interval = interval
        self._on_stop = on_stop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self, *, beat_now: bool = True) -> None:
        if beat_now:
            try:
                self._beat()
            except Exception:
                log_event("beat_failed", logging.WARNING, thread=self._thread.name, exc_info=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            self._on_stop()
        except Exception:  # shutting down: the beat expires by itself
            log_event("beat_stop_failed", logging.DEBUG, thread=self._thread.name)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception:
                log_event("beat_failed", logging.WARNING, thread=self._thread.name, exc_info=True)


def worker_beat_start(connection: Redis, worker_name: str, ttl: int) -> Beat:
    beat = Beat(
        lambda: worker_beat(connection, worker_name),
        ttl / 4,
        "trenova-liveness",
        on_stop=lambda: worker_forget(connection, worker_name),
    )
    beat.start()
    return beat


def horse_beat_start(connection: Redis, job_id: str, worker_name: str, ttl: int) -> Beat:
    """Keep ``running_key(job_id)`` alive from a thread of the horse.

    The first beat rides in rq's own start-of-job pipeline (``horse_beat_first``), and the key is left to
    expire when the horse ends: a finished job's key delays nothing but the recovery of a supervisor
    that died in the same instant, by at most ``ttl``.
    """
    key = running_key(job_id)
    beat = Beat(lambda: connection.set(key, worker_name, ex=ttl), ttl / 4, "trenova-horse-liveness", lambda: None)
    beat.start(beat_now=False)
    return beat


def horse_beat_first(pipeline: Any, job_id: str, worker_name: str, ttl: int) -> None:
    pipeline.set(running_key(job_id), worker_name, ex=ttl)


_PR_SET_PDEATHSIG = 1
# Loaded once, in the parent: a fork then costs one system call, not a dlopen.
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies; exit now if it died already.

    Linux only (prctl); elsewhere recovery still waits for the horse's own beat to lapse.
    """
    if _libc is not None and _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log_event("pdeathsig_failed", logging.WARNING, errno=ctypes.get_errno())
    if os.getppid() != parent_pid:
        # The parent died between fork and prctl: the kernel will not tell us any more.
        os._exit(1)
