"""Shared fixtures: real PostgreSQL (pytest-django), a real Redis database flushed per test, real workers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fresh_enqueue_memory() -> Iterator[None]:
    """Each test starts with no remembered unique-key holds (the database they referred to is gone)."""
    from trenova_jobs.holds import delayed_holds_clear
    from trenova_jobs.outbox import push_pause_clear

    delayed_holds_clear()
    push_pause_clear()
    yield
    delayed_holds_clear()
    push_pause_clear()


@pytest.fixture
def redis_conn() -> Iterator[redis.Redis]:
    """The test Redis database (REDIS_URL, db 15 by default), emptied before and after the test."""
    conn = redis.Redis.from_url(settings.REDIS_URL)
    if conn.connection_pool.connection_kwargs.get("db", 0) == 0:
        pytest.fail("Refusing to flush Redis database 0; point REDIS_URL at a test database.")
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


def wait_for(predicate: Callable[[], object], *, timeout: float, interval: float = 0.1, message: str = "") -> object:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for {message or predicate}")
        time.sleep(interval)


def _database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _killpg(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


@pytest.fixture
def start_worker(redis_conn: redis.Redis) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start real ``manage.py rqworker`` processes against the test database and Redis.

    Each runs in its own process group so a test can SIGKILL the worker together with its work horse.
    Use with ``@pytest.mark.django_db(transaction=True)`` so the worker sees committed rows.
    Logs go to ``var/worker-*.log``.
    """
    procs: list[subprocess.Popen] = []
    (REPO_ROOT / "var").mkdir(exist_ok=True)

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        full_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings_test",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        log_path = REPO_ROOT / "var" / f"worker-{os.getpid()}-{len(procs)}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "manage.py", "rqworker", *args],
                cwd=REPO_ROOT,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc.log_path = log_path  # type: ignore[attr-defined]
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            _killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        _killpg(proc.pid, signal.SIGKILL)  # rq's scheduler child may outlive its parent


class PrivateRedis:
    """A redis-server on its own port that a test may stop and start (to simulate an outage)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), timeout=10, message=f"redis-server on port {self.port}")
        client.close()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
        self._proc = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def private_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateRedis]:
    """Point every queue at a private redis-server (running at first) that the test controls."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = PrivateRedis(port)
    server.start()
    for config in settings.RQ_QUEUES.values():
        monkeypatch.setitem(config, "URL", server.url)
    yield server
    server.stop()
