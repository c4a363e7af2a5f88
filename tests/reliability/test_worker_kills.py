"""A worker SIGKILLed while its handler runs, in each kill mode: the job re-runs, never twice at once, and its
outcome is signalled and notified once.

The kill modes: the supervisor alone (its work horse and rq's scheduler child die with it through
``PR_SET_PDEATHSIG``), the whole process group, and the work horse alone (rq's horse calls ``setsid()``, so
it is in no group of the worker's; its supervisor lives on and settles the attempt). Each kill is checked
against /proc. The handler notes every run's pid, start and end in Redis. Moved here from
tests/trenova_jobs/test_crash_windows.py (which covers the windows before and after the handler) and extended
with the notification, which tests/notifications/test_crash_windows.py checked for the group kill only.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from notifications.models import Notification
from tests.conftest import wait_for
from tests.patterns.factories import UserFactory
from tests.reliability.processes import children, pid_alive
from trenova_jobs import enqueue
from trenova_jobs.liveness import inflight_key
from trenova_jobs.models import JobRecord, JobStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _runs(redis_conn, token: str) -> tuple[list[int], list[float], list[float]]:
    pids = [int(p) for p in redis_conn.lrange(f"test:{token}:pids", 0, -1)]
    starts = [float(x) for x in redis_conn.lrange(f"test:{token}:starts", 0, -1)]
    ends = [float(x) for x in redis_conn.lrange(f"test:{token}:ends", 0, -1)]
    return pids, starts, ends


@pytest.mark.parametrize("kill", ["supervisor", "group", "horse"])
def test_a_worker_killed_while_its_handler_runs_reruns_it_once_never_twice_at_once_and_notifies_once(
    redis_conn, start_worker, kill
):
    user = UserFactory()
    name = f"victim-{uuid.uuid4().hex[:6]}"
    victim = start_worker("default", "--name", name)
    token = uuid.uuid4().hex
    record = enqueue("test:sleep", {"token": token, "seconds": 120}, user=user)
    wait_for(lambda: redis_conn.lrange(f"test:{token}:pids", 0, -1), timeout=30, message="the first attempt")
    horse = int(redis_conn.lindex(f"test:{token}:pids", 0))
    helpers = [pid for pid in children(victim.pid) if pid != horse]  # rq's scheduler child
    assert helpers, "the victim should have a scheduler child"
    if kill == "supervisor":
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
    elif kill == "group":
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
    else:
        os.kill(horse, signal.SIGKILL)
    # The kill really killed what it meant to: the horse is in a session of its own, so only
    # PR_SET_PDEATHSIG takes it down with its supervisor; the scheduler child goes the same way.
    wait_for(lambda: not pid_alive(horse), timeout=5, message="the work horse to die")
    if kill == "horse":
        assert victim.poll() is None and pid_alive(victim.pid)  # the supervisor lives on
    else:
        wait_for(lambda: not any(pid_alive(p) for p in helpers), timeout=5, message="the scheduler child to die")
        start_worker("default")
    killed_at = time.time()

    wait_for(
        lambda: JobRecord.objects.get(pk=record.id).status == JobStatus.SUCCEEDED, timeout=60, message="the re-run"
    )
    assert JobRecord.objects.get(pk=record.id).attempts == 2
    pids, starts, ends = _runs(redis_conn, token)
    assert len(pids) == 2 and pids[0] != pids[1]
    assert len(ends) == 1 and ends[0] > starts[1]  # the first never finished; the second ran alone
    assert starts[1] >= killed_at - 0.5
    # The outcome is written with its notification in one transaction: both are there now, once. Only the
    # final outcome notifies (the killed attempt was retried, not failed).
    assert list(Notification.objects.filter(job_id=record.id).values_list("outcome", flat=True)) == ["succeeded"]
    assert Notification.objects.get(job_id=record.id).user_id == user.pk
    assert redis_conn.get(f"test:signal:succeeded:{record.id}") == b"1"
    assert redis_conn.get(f"test:signal:failed:{record.id}") is None
    wait_for(lambda: not redis_conn.exists(inflight_key(name)), timeout=10, message="the victim's in-flight list")
