"""compliance:check: the hazmat fields, the check that flags what open hazmat shipments lack, and the notices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from patterns.jobs import ComplianceCheckPayload, handle_compliance_check
from patterns.models import HazmatClass, Shipment, ShipmentStatus
from patterns.services.compliance import hazmat_issues, shipments_compliance_check
from tests.conftest import wait_for
from tests.patterns import factories as f
from trenova_jobs import NonRetryableError, enqueue
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.registry import JobContext, registry_get

COMPLETE = {
    "is_hazmat": True,
    "hazmat_un_number": "UN1203",
    "hazmat_class": HazmatClass.FLAMMABLE_LIQUIDS,
    "hazmat_emergency_contact": "CHEMTREC 1-800-424-9300",
}
ALL_MISSING = ["UN number missing", "hazard class missing", "emergency contact missing"]


def _ctx() -> JobContext:
    return JobContext(
        job_id="job_DIRECT",
        job_type="compliance:check",
        attempt=1,
        max_retries=3,
        organization_id=None,
        business_unit_id=None,
        user_id=None,
    )


def _hazmat(**fields) -> Shipment:
    return f.ShipmentFactory(**{**COMPLETE, **fields})


def _notices() -> list[JobRecord]:
    return list(JobRecord.objects.filter(job_type="compliance:check").order_by("created_at", "id"))


def _issues(shipment: Shipment) -> list[str]:
    return Shipment.objects.values_list("compliance_issues", flat=True).get(pk=shipment.pk)


def test_registered_on_the_compliance_queue_with_three_retries() -> None:
    spec = registry_get("compliance:check")
    assert (spec.queue, spec.max_retries) == ("compliance", 3)


# --- The fields ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["un1203", "UN120", "UN12034", "1203", "UN 1203"])
def test_un_numbers_are_un_and_four_digits(value: str) -> None:
    shipment = _hazmat(hazmat_un_number="UN1203")
    shipment.hazmat_un_number = value
    with pytest.raises(ValidationError) as excinfo:
        shipment.full_clean()
    assert "hazmat_un_number" in excinfo.value.message_dict
    if len(value) <= 6:  # (longer ones do not fit the column)
        # The database refuses it too, whatever path the write takes.
        with pytest.raises(IntegrityError, match="shipment_hazmat_un_number_format"), transaction.atomic():
            Shipment.objects.filter(pk=shipment.pk).update(hazmat_un_number=value)


@pytest.mark.django_db
def test_hazard_class_is_one_of_the_nine() -> None:
    assert HazmatClass.values == [str(n) for n in range(1, 10)]
    assert HazmatClass("3").label == "3 — Flammable liquids"
    shipment = _hazmat()
    shipment.full_clean()
    with pytest.raises(IntegrityError, match="shipment_hazmat_class_valid"), transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(hazmat_class="0")


def test_every_new_field_has_help_text() -> None:
    for name in (
        "hazmat_un_number",
        "hazmat_class",
        "hazmat_emergency_contact",
        "compliance_issues",
        "compliance_checked_at",
    ):
        assert Shipment._meta.get_field(name).help_text, name


def test_issues_name_each_missing_field() -> None:
    assert hazmat_issues({}) == ALL_MISSING
    assert hazmat_issues({**COMPLETE, "hazmat_emergency_contact": "   "}) == ["emergency contact missing"]
    assert hazmat_issues(COMPLETE) == []


# --- The check -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_check_flags_open_hazmat_shipments_lacking_data_and_clears_the_rest() -> None:
    owner = f.UserFactory()
    bare = _hazmat(pro_number="PRO-1", owner=owner, hazmat_un_number="", hazmat_class="", hazmat_emergency_contact="")
    no_contact = _hazmat(pro_number="PRO-2", status=ShipmentStatus.DELAYED, hazmat_emergency_contact="")
    complete = _hazmat(pro_number="PRO-3", owner=owner)
    fixed = _hazmat(pro_number="PRO-4", owner=owner, compliance_issues=["UN number missing"])
    closed_flagged = _hazmat(
        pro_number="PRO-5",
        status=ShipmentStatus.COMPLETED,
        hazmat_un_number="",
        compliance_issues=["UN number missing"],
    )
    no_longer_hazmat = f.ShipmentFactory(pro_number="PRO-6", compliance_issues=["UN number missing"])
    left_alone = [
        _hazmat(status=ShipmentStatus.BILLED, hazmat_un_number=""),  # closed: not checked, nothing to clear
        f.ShipmentFactory(),  # not hazmat
    ]
    started = timezone.now()
    updated_before = {s.pk: s.updated_at for s in [complete, *left_alone]}

    result = shipments_compliance_check(batch_size=2).as_json()

    assert _issues(bare) == ALL_MISSING
    assert _issues(no_contact) == ["emergency contact missing"]
    for shipment in (complete, fixed, closed_flagged, no_longer_hazmat, *left_alone):
        assert _issues(shipment) == [], shipment.pro_number
    assert {k: v for k, v in result.items() if k != "message"} == {
        "checked": 4,
        "flagged": 2,
        "newly_flagged": 2,
        "cleared": 3,
        "notices": 1,
        "shipments": [
            {"id": bare.pk, "pro_number": "PRO-1", "issues": ALL_MISSING},
            {"id": no_contact.pk, "pro_number": "PRO-2", "issues": ["emergency contact missing"]},
        ],
    }
    assert result["message"] == (
        "2 hazmat shipments are missing compliance data (2 newly flagged): PRO-1, PRO-2; 3 cleared"
    )
    checked = dict(Shipment.objects.filter(compliance_checked_at__gte=started).values_list("pk", "updated_at"))
    assert set(checked) == {bare.pk, no_contact.pk, complete.pk, fixed.pk, closed_flagged.pk, no_longer_hazmat.pk}
    assert checked[complete.pk] == updated_before[complete.pk]  # only checked: the shipment itself did not change
    assert {s.pk: s.updated_at for s in Shipment.objects.filter(pk__in=[x.pk for x in left_alone])} == {
        s.pk: updated_before[s.pk] for s in left_alone
    }
    [notice] = _notices()  # PRO-2 has no owner; cleared shipments get no notice
    assert notice.payload == {"shipment_id": bare.pk, "organization_id": bare.organization_id}
    assert (notice.user_id, notice.queue, notice.unique_key) == (owner.pk, "compliance", f"compliance:check:{bare.pk}")
    assert (notice.organization_id, notice.business_unit_id) == (bare.organization_id, bare.business_unit_id)

    # Again: the same issues are not news.
    again = shipments_compliance_check()
    assert (again.checked, again.flagged, again.newly_flagged, again.cleared, again.notices) == (4, 2, 0, 0, 0)
    assert len(_notices()) == 1


@pytest.mark.django_db
def test_changed_issues_are_news_once_the_earlier_notice_is_done() -> None:
    owner = f.UserFactory()
    shipment = _hazmat(owner=owner, hazmat_un_number="", hazmat_emergency_contact="")
    assert shipments_compliance_check().notices == 1
    Shipment.objects.filter(pk=shipment.pk).update(hazmat_un_number="UN1993")
    # The first notice still waits (it words the shipment as it is when it runs): no second one.
    waiting = shipments_compliance_check()
    assert (waiting.newly_flagged, waiting.notices) == (1, 0)
    assert _issues(shipment) == ["emergency contact missing"]
    JobRecord.objects.filter(job_type="compliance:check").update(
        status=JobStatus.SUCCEEDED, unique_lock=None, finished_at=timezone.now()
    )
    Shipment.objects.filter(pk=shipment.pk).update(hazmat_class="", compliance_issues=["something else"])
    assert shipments_compliance_check().notices == 1
    assert len(_notices()) == 2


@pytest.mark.django_db
def test_the_notice_says_what_is_missing_now() -> None:
    shipment = _hazmat(pro_number="PRO-7", hazmat_un_number="", hazmat_emergency_contact="")
    payload = ComplianceCheckPayload(shipment_id=shipment.pk, organization_id=shipment.organization_id)
    assert handle_compliance_check(payload, _ctx()) == "Hazmat shipment PRO-7 is missing: UN number, emergency contact."
    Shipment.objects.filter(pk=shipment.pk).update(hazmat_un_number="UN1203", hazmat_emergency_contact="CHEMTREC")
    assert handle_compliance_check(payload, _ctx()) == "Hazmat shipment PRO-7 has no compliance issues any more."
    Shipment.objects.filter(pk=shipment.pk).delete()
    with pytest.raises(NonRetryableError, match="no longer exists"):
        handle_compliance_check(payload, _ctx())


@pytest.mark.django_db
def test_the_check_handler_returns_the_check_result() -> None:
    assert handle_compliance_check(ComplianceCheckPayload(), _ctx())["message"] == "No open hazmat shipments to check"
    _hazmat()
    result = handle_compliance_check(ComplianceCheckPayload(), _ctx())
    assert result["message"] == "The one open hazmat shipment has its compliance data"
    _hazmat()
    result = handle_compliance_check(ComplianceCheckPayload(), _ctx())
    assert result["message"] == "All 2 open hazmat shipments have their compliance data"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_check_and_notice_on_a_real_worker_notify_the_owner_once(redis_conn, start_worker) -> None:
    owner = f.UserFactory()
    shipment = _hazmat(pro_number="PRO-77", owner=owner, hazmat_class="")
    start_worker("compliance")
    check = enqueue("compliance:check", {})

    def succeeded(record_id: str) -> JobRecord | None:
        record = JobRecord.objects.get(pk=record_id)
        return record if record.status == JobStatus.SUCCEEDED else None

    done = wait_for(lambda: succeeded(check.id), timeout=60, message="the compliance check")
    assert done.result["newly_flagged"] == 1 and done.result["notices"] == 1
    notice = JobRecord.objects.get(job_type="compliance:check", payload__shipment_id=shipment.pk)
    wait_for(lambda: succeeded(notice.id), timeout=60, message="the compliance notice")
    notification = wait_for(lambda: Notification.objects.filter(user=owner).first(), timeout=10)
    assert (notification.title, notification.message, notification.priority) == (
        "Hazmat Compliance Issue",
        "Hazmat shipment PRO-77 is missing: hazard class.",
        "high",
    )
    assert notification.event_type == "shipment.compliance" and notification.tags == ["shipments", "compliance"]


@pytest.mark.django_db
def test_the_admin_shows_the_hazmat_fields_and_keeps_the_check_results_read_only(admin_client: Client) -> None:
    shipment = _hazmat(hazmat_un_number="", compliance_issues=["UN number missing"])
    shipment.compliance_checked_at = timezone.now() - timedelta(minutes=5)
    shipment.save()
    response = admin_client.get(reverse("admin:patterns_shipment_change", args=[shipment.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Hazardous materials" in html
    assert 'name="hazmat_un_number"' in html and 'name="hazmat_class"' in html
    assert 'name="hazmat_emergency_contact"' in html
    assert 'name="compliance_issues"' not in html and "UN number missing" in html
