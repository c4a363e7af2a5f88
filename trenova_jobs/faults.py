"""Fault points: named steps where a test can stop a real worker and kill it exactly there.

``fault_point("after_dequeue")`` does nothing unless ``settings.TRENOVA_JOBS_FAULT_POINT`` names that
point (only the test settings read it, from the environment of the worker a test starts). Then the
process notes its pid in Redis under ``fault_key(name)`` and waits to be killed; ``"raise:<name>"``
raises instead, to test how the worker handles an unexpected error there.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from redis import Redis

FAULT_PREFIX = "trenova:fault:"


def fault_key(name: str) -> str:
    return f"{FAULT_PREFIX}{name}"


class InjectedFault(RuntimeError):
    """Raised at a fault point configured as ``raise:<name>``."""


def fault_point(name: str, connection: Redis | None = None) -> None:
    wanted = getattr(settings, "TRENOVA_JOBS_FAULT_POINT", "")
    if not wanted:
        return
    if wanted == f"raise:{name}":
        raise InjectedFault(f"fault injected at {name}")
    if wanted != name:
        return
    if connection is None:
        from trenova_jobs.queues import redis_connection

        connection = redis_connection()
    connection.set(fault_key(name), os.getpid())
    while True:  # until the test kills this process
        time.sleep(3600)
