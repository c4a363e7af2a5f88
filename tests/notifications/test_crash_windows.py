"""Notifications under real kills: the notification and job events commit with the outcome, once.

The notification is written in the outcome's transaction, so the windows are the job's own: a worker
killed after its handler returned but before the outcome was written (``after_horse_exit``) leaves
neither, and the rescuer writes both; one killed after the outcome (``after_settle``) leaves both, and
recovery must not add a second. One killed while the handler runs (supervisor, process group or work horse)
re-runs the job and only the final outcome notifies: tests/reliability/test_worker_kills.py.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from notifications.models import Notification, WebhookDelivery
from notifications.webhooks import webhook_endpoint_create
from tests.conftest import wait_for
from tests.patterns.factories import OrganizationFactory, UserFactory
from trenova_jobs import JobRecord, JobStatus, enqueue
from trenova_jobs.faults import fault_key
from trenova_jobs.liveness import inflight_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _victim(start_worker, point: str = ""):
    name = f"victim-{uuid.uuid4().hex[:6]}"
    env = {"TRENOVA_JOBS_FAULT_POINT": point} if point else {}
    return start_worker("default", "--name", name, env=env), name


def _kill_group(proc) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _status(record_id: str) -> str:
    return JobRecord.objects.values_list("status", flat=True).get(pk=record_id)


def _subscribed_org():
    org = OrganizationFactory()
    # The receiver is never reached: these tests count deliveries, not requests.
    webhook_endpoint_create(
        organization_id=org.pk, url="https://hooks.example.com/x", event_types=["job.succeeded", "job.failed"]
    )
    return org


@pytest.mark.parametrize(("job_type", "final"), [("test:sleep", "succeeded"), ("test:always_fail", "failed")])
def test_killed_before_the_outcome_was_written_notifies_once_after_recovery(redis_conn, start_worker, job_type, final):
    org, user = _subscribed_org(), UserFactory()
    victim, _ = _victim(start_worker, "after_horse_exit")
    record = enqueue(job_type, {"token": uuid.uuid4().hex}, user=user, organization_id=org.pk)
    wait_for(lambda: redis_conn.get(fault_key("after_horse_exit")), timeout=40, message="the handler to end")
    assert _status(record.id) == JobStatus.RUNNING
    assert not Notification.objects.filter(job_id=record.id).exists()  # nothing before the outcome
    _kill_group(victim)
    start_worker("default")
    wait_for(lambda: _status(record.id) == final, timeout=60, message=f"the record to be {final}")
    time.sleep(1)
    assert list(Notification.objects.filter(job_id=record.id).values_list("outcome", flat=True)) == [final]
    events = WebhookDelivery.objects.filter(event_type=f"job.{final}", payload__data__job__id=record.id)
    assert events.count() == 1


def test_killed_after_the_outcome_was_written_is_not_notified_again(redis_conn, start_worker):
    org, user = _subscribed_org(), UserFactory()
    victim, name = _victim(start_worker, "after_settle")
    record = enqueue("test:sleep", {"token": uuid.uuid4().hex}, user=user, organization_id=org.pk)
    wait_for(lambda: redis_conn.get(fault_key("after_settle")), timeout=30, message="the victim to settle")
    # Written together with the outcome: both are there before the kill.
    assert Notification.objects.filter(job_id=record.id).count() == 1
    _kill_group(victim)
    start_worker("default")
    wait_for(lambda: not redis_conn.exists(inflight_key(name)), timeout=40, message="the entry to be cleared")
    assert Notification.objects.filter(job_id=record.id).count() == 1
    assert WebhookDelivery.objects.filter(event_type="job.succeeded", payload__data__job__id=record.id).count() == 1
