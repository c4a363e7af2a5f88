"""Job outcomes become exactly one notification for the job's user, with real workers and real databases."""

from __future__ import annotations

import time
import uuid

import pytest
from django.test import override_settings

from notifications.models import Notification
from notifications.services import notification_for_job_create
from tests.conftest import wait_for
from tests.patterns.factories import OrganizationFactory, UserFactory
from tests.patterns.lane_data import build_lane_data
from trenova_jobs import JobRecord, JobStatus, enqueue, job_succeeded

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _finished(record_id: str, status: str, timeout: float = 40) -> JobRecord:
    wait_for(
        lambda: JobRecord.objects.values_list("status", flat=True).get(pk=record_id) == status,
        timeout=timeout,
        message=f"{record_id} to be {status}",
    )
    return JobRecord.objects.get(pk=record_id)


def _notifications(record_id: str) -> list[Notification]:
    return list(Notification.objects.filter(job_id=record_id).order_by("pk"))


def test_a_job_that_succeeds_sends_one_notification_with_its_configured_title_and_priority(redis_conn, start_worker):
    org = OrganizationFactory()
    user = UserFactory(organization=org)
    start_worker()
    record = enqueue("system:noop", {"value": 42}, user=user, organization_id=org.pk)
    _finished(record.id, JobStatus.SUCCEEDED)
    # Written in the same transaction as the outcome: there when the status is.
    [notification] = _notifications(record.id)
    assert notification.user == user
    assert notification.organization == org
    assert notification.title == "System Noop Completed"
    assert notification.message == f"System noop job {record.id} has completed successfully: value: 42"
    assert notification.priority == "low"  # system:noop's success priority
    assert notification.event_type == "system.noop"
    assert notification.outcome == "succeeded"
    assert notification.data["job_type"] == "system:noop"
    assert notification.read_at is None


def test_a_job_that_fails_twice_then_succeeds_sends_only_the_success(redis_conn, start_worker):
    user = UserFactory()
    start_worker()
    record = enqueue("test:flaky", {"token": uuid.uuid4().hex, "fail_times": 2}, user=user)
    done = _finished(record.id, JobStatus.SUCCEEDED)
    assert done.attempts == 3
    [notification] = _notifications(record.id)
    assert notification.outcome == "succeeded"
    assert notification.title == "Test Flaky Completed"
    assert notification.event_type == "job.unknown"  # no config shipped for test types: the generic one


def test_a_job_that_exhausts_its_retries_sends_one_failure_with_the_failure_priority(redis_conn, start_worker):
    user = UserFactory()
    start_worker()
    record = enqueue("test:always_fail", {"token": uuid.uuid4().hex}, user=user)
    failed = _finished(record.id, JobStatus.FAILED)
    assert failed.attempts == 3
    time.sleep(1)  # a late or duplicate notification would show up here
    [notification] = _notifications(record.id)
    assert notification.outcome == "failed"
    assert notification.priority == "high"
    assert notification.title == "Test Always Fail Failed"
    assert notification.message.startswith(f"Test always fail job {record.id} has failed: ")
    assert "always fails" in notification.message


def test_a_job_without_a_user_sends_none(redis_conn, start_worker):
    start_worker()
    record = enqueue("system:noop", {})
    _finished(record.id, JobStatus.SUCCEEDED)
    time.sleep(0.5)
    assert Notification.objects.count() == 0


def test_a_replayed_outcome_still_yields_one_notification(redis_conn, start_worker):
    user = UserFactory()
    start_worker()
    record = enqueue("system:noop", {}, user=user)
    done = _finished(record.id, JobStatus.SUCCEEDED)
    assert len(_notifications(record.id)) == 1
    # The signal sent again (a redelivered job settled twice, a replayed receiver) and the service called again.
    job_succeeded.send(sender=JobRecord, record=done)
    assert notification_for_job_create(record=done, outcome="succeeded") is None
    assert len(_notifications(record.id)) == 1


def test_a_pattern_analysis_notice_is_a_readable_summary(redis_conn, start_worker):
    data = build_lane_data()
    user = UserFactory(organization=data.org)
    record = enqueue(
        "pattern:analyze",
        {"organization_id": data.org.pk, "business_unit_id": None, "user_id": user.pk, "trigger_reason": "manual"},
        user=user,
        organization_id=data.org.pk,
    )
    start_worker()
    done = _finished(record.id, JobStatus.SUCCEEDED, timeout=60)
    [notification] = _notifications(record.id)
    created, examined = done.result["suggestions_created"], done.result["lanes_examined"]
    assert notification.message == (
        f"Pattern analyze job {record.id} has completed successfully: "
        f"{created} new dedicated-lane suggestions from {examined} lanes examined"
    )
    assert notification.title == "Pattern Analyze Completed"
    assert notification.priority == "low"
    assert notification.tags == ["patterns"]


@override_settings(
    TRENOVA_NOTIFICATIONS={
        "system:noop": {"title_template": "Noop done!", "use_custom_title": True, "use_custom_message": True}
    }
)
def test_custom_title_and_message_flags_render_as_configured():
    # In-process: override_settings does not reach a worker process; the receiver is the same code.
    user = UserFactory()
    record = JobRecord.objects.create(
        job_type="system:noop", queue="default", status=JobStatus.SUCCEEDED, user=user, result="It ran."
    )
    notification = notification_for_job_create(record=record, outcome="succeeded")
    assert notification is not None
    assert (notification.title, notification.message) == ("Noop done!", "It ran.")
