"""Pattern job types: payload validation, handlers called directly, and pattern:analyze on a real worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

import patterns.jobs
from patterns.jobs import (
    PatternAnalyzePayload,
    ShipmentStatusUpdatePayload,
    handle_pattern_analyze,
    handle_pattern_analyze_all,
    handle_pattern_expire_suggestions,
    handle_shipment_status_update,
)
from patterns.models import DedicatedLaneSuggestion, PatternConfig, ShipmentStatus, SuggestionStatus, TriggerReason
from patterns.services import pattern_analysis_enqueue
from tests.conftest import wait_for
from tests.patterns import factories as f
from tests.patterns.lane_data import build_lane_data
from trenova_jobs import enqueue
from trenova_jobs.errors import NonRetryableError, PayloadValidationError
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.payloads import EmptyPayload
from trenova_jobs.registry import JobContext, registry_get


def _ctx(job_type: str = "pattern:analyze") -> JobContext:
    return JobContext(
        job_id="job_DIRECT",
        job_type=job_type,
        attempt=1,
        max_retries=2,
        organization_id=None,
        business_unit_id=None,
        user_id=None,
    )


def _payload(**overrides: Any) -> dict[str, Any]:
    return {"organization_id": 1, "business_unit_id": None, "user_id": None, "trigger_reason": "manual", **overrides}


def test_job_types_are_registered_on_their_queues() -> None:
    expected = {"pattern:analyze": "pattern", "pattern:analyze_all": "pattern", "pattern:expire_suggestions": "system"}
    for name, queue in expected.items():
        spec = registry_get(name)
        assert (spec.queue, spec.max_retries) == (queue, 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_frequency": 0}, "min_frequency"),
        ({"min_frequency": 101}, "min_frequency"),
        ({"min_frequency": "5"}, "min_frequency"),
        ({"trigger_reason": ""}, "trigger_reason"),
        ({"trigger_reason": "because"}, "trigger_reason"),
        ({"start_date": "2025-01-01T00:00:00"}, "time zone"),
        ({"start_date": timezone.now(), "end_date": timezone.now() - timedelta(days=1)}, "before end_date"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_analyze_payloads_are_refused_at_enqueue(overrides: dict, message: str) -> None:
    with pytest.raises(PayloadValidationError, match=message):
        enqueue("pattern:analyze", _payload(**overrides))
    assert not JobRecord.objects.exists()


@pytest.mark.django_db
def test_business_unit_and_user_must_be_given_even_if_empty() -> None:
    with pytest.raises(PayloadValidationError, match="business_unit_id"):
        enqueue("pattern:analyze", {"organization_id": 1, "user_id": None, "trigger_reason": "manual"})


@pytest.mark.django_db
@pytest.mark.parametrize("window_days", [0, 366])
def test_analyze_all_window_is_bounded(window_days: int) -> None:
    with pytest.raises(PayloadValidationError, match="window_days"):
        enqueue("pattern:analyze_all", {"window_days": window_days})


@pytest.mark.django_db
def test_analyze_handler_returns_the_analysis_result() -> None:
    data = build_lane_data()
    payload = PatternAnalyzePayload(**_payload(organization_id=data.org.pk, min_frequency=3))
    result = handle_pattern_analyze(payload, _ctx())
    assert result["lanes_examined"] == 10
    assert result["lanes_qualified"] == 8
    assert result["suggestions_created"] == 5
    assert result["skipped"] == {"active_lane": 1, "pending_suggestion": 1, "recently_rejected": 1}
    assert result["job_id"] == "job_DIRECT" and result["trigger_reason"] == "manual"
    assert set(result["window"]) == {"start", "end"} and isinstance(result["duration_ms"], int)
    created = DedicatedLaneSuggestion.objects.filter(pattern_details__job_id="job_DIRECT")
    assert created.count() == 5


@pytest.mark.django_db
@pytest.mark.parametrize("missing", ["organization", "customer"])
def test_analyze_handler_fails_without_retries_when_rows_are_gone(missing: str) -> None:
    org = f.OrganizationFactory()
    payload = (
        _payload(organization_id=0) if missing == "organization" else _payload(organization_id=org.pk, customer_id=0)
    )
    with pytest.raises(NonRetryableError, match="does not exist"):
        handle_pattern_analyze(PatternAnalyzePayload(**payload), _ctx())


@pytest.mark.django_db
def test_analyze_all_enqueues_one_analysis_per_enabled_organization(monkeypatch: pytest.MonkeyPatch) -> None:
    enabled_default = f.OrganizationFactory()  # no configuration row: enabled
    enabled = f.PatternConfigFactory().organization
    disabled = PatternConfig.objects.create(organization=f.OrganizationFactory(), enabled=False).organization
    before = timezone.now()
    result = handle_pattern_analyze_all(registry_get("pattern:analyze_all").payload(window_days=30), _ctx())
    assert result["organizations"] == 2 and result["deduplicated"] == 0
    records = JobRecord.objects.filter(pk__in=result["job_ids"]).order_by("organization_id")
    assert [r.organization_id for r in records] == sorted([enabled_default.pk, enabled.pk])
    for record in records:
        assert record.job_type == "pattern:analyze" and record.queue == "pattern"
        assert record.unique_key == f"pattern:analyze:{record.organization_id}"
        assert record.payload["trigger_reason"] == "scheduled"
        assert record.payload["organization_id"] == record.organization_id
        start = timezone.datetime.fromisoformat(record.payload["start_date"])
        assert before - timedelta(days=30, seconds=1) <= start <= timezone.now() - timedelta(days=30)
    assert not JobRecord.objects.filter(organization_id=disabled.pk).exists()

    # Through the one enqueuing service, so every analysis job is asked for the same way.
    asked: list[dict[str, Any]] = []
    monkeypatch.setattr(
        patterns.jobs, "pattern_analysis_enqueue", lambda **kw: asked.append(kw) or pattern_analysis_enqueue(**kw)
    )
    # Run again while those are still queued: folded into them by the unique keys.
    again = handle_pattern_analyze_all(registry_get("pattern:analyze_all").payload(), _ctx("pattern:analyze_all"))
    assert again["deduplicated"] == 2 and sorted(again["job_ids"]) == sorted(result["job_ids"])
    assert sorted(kw["organization_id"] for kw in asked) == sorted([enabled_default.pk, enabled.pk])
    assert {kw["trigger_reason"] for kw in asked} == {TriggerReason.SCHEDULED}


@pytest.mark.django_db
def test_status_update_handler_words_the_notice_with_the_status_labels() -> None:
    shipment = f.ShipmentFactory(pro_number="PRO-1001", status=ShipmentStatus.COMPLETED)
    payload = ShipmentStatusUpdatePayload(
        shipment_id=shipment.pk,
        organization_id=shipment.organization_id,
        old_status=ShipmentStatus.IN_TRANSIT,
        new_status=ShipmentStatus.COMPLETED,
    )
    result = handle_shipment_status_update(payload, _ctx("shipment:status_update"))
    assert result == {
        "shipment_id": shipment.pk,
        "pro_number": "PRO-1001",
        "old_status": ShipmentStatus.IN_TRANSIT,
        "new_status": ShipmentStatus.COMPLETED,
        "current_status": ShipmentStatus.COMPLETED,
        "message": "Shipment PRO-1001 is now Completed (was In transit)",
    }


@pytest.mark.django_db
def test_status_update_handler_refuses_a_shipment_of_another_organization() -> None:
    shipment = f.ShipmentFactory()
    payload = ShipmentStatusUpdatePayload(
        shipment_id=shipment.pk,
        organization_id=f.OrganizationFactory().pk,
        old_status=ShipmentStatus.NEW,
        new_status=ShipmentStatus.ASSIGNED,
    )
    with pytest.raises(NonRetryableError, match="no longer exists"):
        handle_shipment_status_update(payload, _ctx("shipment:status_update"))


@pytest.mark.django_db
def test_expire_handler_reports_the_count() -> None:
    f.DedicatedLaneSuggestionFactory(stale=True)
    f.DedicatedLaneSuggestionFactory()
    assert handle_pattern_expire_suggestions(EmptyPayload(), _ctx("pattern:expire_suggestions")) == {"expired": 1}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_pattern_analyze_runs_on_a_real_worker(redis_conn, start_worker) -> None:
    data = build_lane_data()
    record = enqueue(
        "pattern:analyze",
        _payload(organization_id=data.org.pk, business_unit_id=data.bu.pk),
        organization_id=data.org.pk,
        unique_key=f"pattern:analyze:{data.org.pk}",
    )
    start_worker()
    wait_for(
        lambda: JobRecord.objects.values_list("status", flat=True).get(pk=record.pk) == JobStatus.SUCCEEDED,
        timeout=60,
        message="pattern:analyze to succeed",
    )
    done = JobRecord.objects.get(pk=record.pk)
    assert done.attempts == 1
    assert done.result["lanes_examined"] == 10
    assert done.result["suggestions_created"] == 5
    assert done.result["job_id"] == record.id
    suggestions = DedicatedLaneSuggestion.objects.filter(organization=data.org, pattern_details__job_id=record.id)
    assert suggestions.count() == 5
    assert set(suggestions.values_list("status", flat=True)) == {SuggestionStatus.PENDING}
    assert done.unique_lock is None  # released: later triggers get fresh work
