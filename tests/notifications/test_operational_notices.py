"""Notifications of the operational job types: shipment delays, hazmat compliance, the two system jobs.

Each result is the one its handler returns (real services, real rows); the notification is the one the
outcome receiver writes for the job's user.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from notifications.config import message_summary, notice_render, notification_config
from notifications.services import notification_for_job_create
from patterns.jobs import ComplianceCheckPayload, ShipmentDelayPayload, handle_compliance_check, handle_shipment_delay
from patterns.models import ShipmentStatus
from tests.patterns import factories as f
from trenova_jobs.jobs import handle_system_cleanup_temp_files, handle_system_prune_job_records
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.payloads import EmptyPayload
from trenova_jobs.registry import JobContext

pytestmark = pytest.mark.django_db


def _ctx(job_type: str) -> JobContext:
    return JobContext("job_DIRECT", job_type, 1, 3, None, None, None)


def _notify(job_type: str, result: object, *, user, outcome: str = "succeeded", error: str = ""):
    status = JobStatus.SUCCEEDED if outcome == "succeeded" else JobStatus.FAILED
    record = JobRecord.objects.create(
        job_type=job_type, queue="default", status=status, user=user, result=result, error=error
    )
    notification = notification_for_job_create(record=record, outcome=outcome)
    assert notification is not None
    return notification


def test_a_delay_notice_is_the_owner_s_message_under_the_delay_title() -> None:
    owner = f.UserFactory()
    shipment = f.ShipmentFactory(owner=owner, status=ShipmentStatus.DELAYED, pro_number="PRO-55")
    text = handle_shipment_delay(
        ShipmentDelayPayload(shipment_id=shipment.pk, organization_id=shipment.organization_id), _ctx("shipment:delay")
    )
    notification = _notify("shipment:delay", text, user=owner)
    assert (notification.title, notification.message, notification.priority) == (
        "Shipment Delay Notice!",
        text,
        "medium",
    )
    assert notification.message.startswith("Shipment PRO-55 (") and notification.message.endswith("is now Delayed.")


def test_a_delay_sweep_run_for_someone_reads_as_its_message() -> None:
    user = f.UserFactory()
    past = timezone.now() - timedelta(hours=2)
    f.ShipmentFactory(pro_number="PRO-9", planned_pickup_at=past - timedelta(hours=5), planned_delivery_at=past)
    result = handle_shipment_delay(ShipmentDelayPayload(), _ctx("shipment:delay"))
    notification = _notify("shipment:delay", result, user=user)
    assert notification.message == "1 shipment marked Delayed (past planned delivery): PRO-9"


def test_a_compliance_notice_is_urgent_and_says_what_is_missing() -> None:
    owner = f.UserFactory()
    shipment = f.ShipmentFactory(owner=owner, is_hazmat=True, pro_number="PRO-7", hazmat_class="3")
    text = handle_compliance_check(
        ComplianceCheckPayload(shipment_id=shipment.pk, organization_id=shipment.organization_id),
        _ctx("compliance:check"),
    )
    notification = _notify("compliance:check", text, user=owner)
    assert (notification.title, notification.message) == (
        "Hazmat Compliance Issue",
        "Hazmat shipment PRO-7 is missing: UN number, emergency contact.",
    )
    assert (notification.priority, notification.event_type, notification.tags) == (
        "high",
        "shipment.compliance",
        ["shipments", "compliance"],
    )
    failed = _notify("compliance:check", None, user=owner, outcome="failed", error="NonRetryableError: gone")
    assert (failed.title, failed.priority, failed.message) == (
        "Hazmat Compliance Issue",
        "high",
        "NonRetryableError: gone",
    )


def test_a_temp_cleanup_reads_as_a_sentence(tmp_path: Path, settings) -> None:
    old = tmp_path / "tmp" / "old"
    old.parent.mkdir()
    old.write_bytes(b"x" * 3000)
    stamp = time.time() - 48 * 3600
    os.utime(old, (stamp, stamp))
    settings.TRENOVA_TEMP_DIR = str(tmp_path / "tmp")
    result = handle_system_cleanup_temp_files(EmptyPayload(), _ctx("system:cleanup_temp_files"))
    notification = _notify("system:cleanup_temp_files", result, user=f.UserFactory())
    assert notification.title == "System Cleanup Temp Files Completed"
    assert notification.message.endswith(
        f"has completed successfully: deleted 1 file (2.9 KB) older than 24 h under {tmp_path / 'tmp'}"
    )
    assert (notification.priority, notification.tags, notification.event_type) == (
        "low",
        ["system"],
        "system.temp_files_cleaned",
    )


def test_a_prune_reads_as_a_sentence_and_its_failure_is_urgent() -> None:
    result = handle_system_prune_job_records(EmptyPayload(), _ctx("system:prune_job_records"))
    user = f.UserFactory()
    notification = _notify("system:prune_job_records", result, user=user)
    assert notification.message.endswith(
        "has completed successfully: deleted 0 finished job records older than 30 days"
    )
    assert (notification.priority, notification.tags) == ("low", ["system"])
    failed = _notify("system:prune_job_records", None, user=user, outcome="failed", error="OperationalError: gone")
    assert failed.priority == "high" and failed.title == "System Prune Job Records Failed"


def test_message_summary_lowercases_only_a_sentence_start() -> None:
    assert message_summary({"message": "Deleted 3 files"}) == "deleted 3 files"
    assert message_summary({"message": "UN numbers checked"}) == "UN numbers checked"
    assert message_summary("Done") == "done"
    assert message_summary(None) == "no result"


def test_the_configs_render_without_a_database() -> None:
    notice = notice_render(
        config=notification_config("compliance:check"),
        job_type="compliance:check",
        job_id="job_1",
        outcome="succeeded",
        result={"message": "2 hazmat shipments are missing compliance data (1 newly flagged): PRO-1, PRO-2"},
        error="",
    )
    assert notice.message == "2 hazmat shipments are missing compliance data (1 newly flagged): PRO-1, PRO-2"
