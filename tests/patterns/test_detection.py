"""Pattern detection against a hand-built history with known answers (see tests/patterns/lane_data.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patterns.errors import AnalysisInputError
from patterns.models import (
    DedicatedLane,
    DedicatedLaneSuggestion,
    PatternConfig,
    Shipment,
    SuggestionStatus,
    TriggerReason,
)
from patterns.services import analyze_patterns
from patterns.services.detection import SHIPMENT_IDS_KEPT, suggested_name
from tests.patterns import factories as f
from tests.patterns.lane_data import LaneData, build_lane_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def data() -> LaneData:
    return build_lane_data()


def _analyze(data: LaneData, **kwargs):
    return analyze_patterns(
        organization_id=kwargs.pop("organization_id", data.org.pk), trigger_reason="manual", **kwargs
    )


def _suggestion(data: LaneData, name: str) -> DedicatedLaneSuggestion:
    lane = data.lanes[name]
    return DedicatedLaneSuggestion.objects.get(
        organization=data.org,
        status=SuggestionStatus.PENDING,
        customer=lane.customer,
        origin_location=lane.origin,
        destination_location=lane.destination,
    )


def test_the_hand_built_history_gives_the_known_answers(data: LaneData) -> None:
    result = _analyze(data, job_id="job_TEST")

    assert result.lanes_examined == data.examined == 10
    assert result.lanes_qualified == 8
    assert result.suggestions_created == 5
    assert result.skipped == {"active_lane": 1, "pending_suggestion": 1, "recently_rejected": 1}
    # Best first: score, then frequency, then the most recent.
    by_key = {(e.customer.pk, e.origin.pk, e.destination.pk): name for name, e in data.lanes.items()}
    order = [by_key[(lane.customer_id, lane.origin_location_id, lane.destination_location_id)] for lane in result.lanes]
    assert order == ["L1", "L3", "L5", "L6", "L7", "L4", "L8", "L2"]
    for lane in result.lanes:
        expected = data.lanes[by_key[(lane.customer_id, lane.origin_location_id, lane.destination_location_id)]]
        assert (lane.frequency, lane.confidence_score, lane.outcome) == (
            expected.frequency,
            expected.score,
            expected.outcome,
        ), expected

    # The lanes just under a threshold and the other organization's lanes produced nothing.
    assert DedicatedLaneSuggestion.objects.filter(organization=data.org, customer__code="BOLT").count() == 0
    assert not DedicatedLaneSuggestion.objects.filter(organization=data.other_org).exists()
    assert DedicatedLaneSuggestion.objects.filter(organization=data.org, status=SuggestionStatus.PENDING).count() == 6


def test_a_suggestion_carries_the_lane_figures_and_its_evidence(data: LaneData) -> None:
    result = _analyze(data, job_id="job_TEST")
    l1 = _suggestion(data, "L1")
    expected = data.lanes["L1"]
    assert l1.confidence_score == Decimal("1.0000")
    assert l1.frequency == 5
    # Business dates: the creation time of the fallback shipment (2 days ago) … 30 days ago; the
    # shipments 95 days ago (outside the window) and 5 days ahead (after now) are not counted.
    assert l1.last_shipment_date == data.ago(2)
    assert l1.first_shipment_date == data.ago(30)
    assert l1.total_freight_charge == Decimal("12500.0000")
    assert l1.average_freight_charge == Decimal("2500.0000")
    # Most common types; a tie (SLEEPER 2, DAYCAB 2) goes to the most recent; "none" can be most common.
    assert (l1.service_type, l1.shipment_type, l1.tractor_type, l1.trailer_type) == (
        data.std,
        data.ftl,
        data.daycab,
        None,
    )
    assert l1.business_unit == data.bu2  # the latest shipment's
    assert l1.status == SuggestionStatus.PENDING and l1.processed_by is None
    assert l1.suggested_name == "CHI-DAL ACME"  # "CHI-DAL" is the pending L5 suggestion's name
    assert data.now + timedelta(days=30) <= l1.expires_at <= timezone.now() + timedelta(days=30)
    details = l1.pattern_details
    assert details["shipment_ids"] == [s.pk for s in expected.shipments]
    assert details["trigger_reason"] == "manual"
    assert details["job_id"] == "job_TEST"
    assert details["detected_at"] == result.detected_at.isoformat()
    assert details["config"] == {
        "enabled": True,
        "min_frequency": 3,
        "analysis_window_days": 90,
        "min_confidence_score": "0.7000",
        "suggestion_ttl_days": 30,
        "require_exact_match": False,
        "weight_recent_shipments": True,
        "rejection_cooldown_days": 30,
    }
    assert details["window"] == {"start": result.window_start.isoformat(), "end": result.window_end.isoformat()}
    assert result.window_end - result.window_start == timedelta(days=90)

    l4 = _suggestion(data, "L4")  # never rated
    assert (l4.total_freight_charge, l4.average_freight_charge) == (Decimal("0"), None)
    assert l4.suggested_name == "DAL-MEM"
    names = {name: _suggestion(data, name).suggested_name for name in ("L2", "L7", "L8")}
    assert names == {"L7": "DAL-CHI", "L8": "CHI-DAL FERN", "L2": "DAL-CHI ACME"}


def test_analysing_again_creates_nothing_new(data: LaneData) -> None:
    _analyze(data)
    again = _analyze(data)
    assert again.suggestions_created == 0
    assert again.skipped == {"active_lane": 1, "pending_suggestion": 6, "recently_rejected": 1}
    assert DedicatedLaneSuggestion.objects.filter(organization=data.org, status=SuggestionStatus.PENDING).count() == 6


def test_the_other_organization_sees_only_its_own_shipments(data: LaneData) -> None:
    result = _analyze(data, organization_id=data.other_org.pk)
    assert (result.lanes_examined, result.lanes_qualified, result.suggestions_created) == (2, 1, 1)
    suggestion = DedicatedLaneSuggestion.objects.get(organization=data.other_org)
    expected = data.other_lane
    assert (suggestion.customer, suggestion.origin_location, suggestion.destination_location) == (
        expected.customer,
        expected.origin,
        expected.destination,
    )
    assert (suggestion.frequency, suggestion.confidence_score) == (3, Decimal("0.9000"))
    assert suggestion.pattern_details["shipment_ids"] == [s.pk for s in expected.shipments]
    assert suggestion.suggested_name == "CHI-DAL"  # A's names and suggestions do not count in B
    assert not DedicatedLaneSuggestion.objects.filter(organization=data.org).exclude(
        customer__code__in=["DUNE", "ECHO"]
    )


def test_one_customer_only(data: LaneData) -> None:
    result = _analyze(data, customer_id=data.customers["ACME"].pk)
    assert (result.lanes_examined, result.lanes_qualified, result.suggestions_created) == (2, 2, 2)
    assert set(
        DedicatedLaneSuggestion.objects.filter(organization=data.org, status="Pending").values_list(
            "customer__code", flat=True
        )
    ) == {"ACME", "DUNE"}


def test_min_frequency_override_applies_to_this_run_only(data: LaneData) -> None:
    # With 2, U2 (2 shipments, 0.2 + 0.3 + 0.2 + 0.1 = 0.8) qualifies too.
    result = _analyze(data, min_frequency=2)
    assert result.min_frequency == 2
    assert result.lanes_qualified == 9 and result.suggestions_created == 6
    assert _suggestion(data, "L1").pattern_details["config"]["min_frequency"] == 2
    # With 5, only L1 (5) and L5 (6, pending) are frequent enough.
    DedicatedLaneSuggestion.objects.filter(organization=data.org, pattern_details__has_key="detected_at").delete()
    result = _analyze(data, min_frequency=5)
    assert (result.lanes_qualified, result.suggestions_created, result.skipped["pending_suggestion"]) == (2, 1, 1)


def test_window_override(data: LaneData) -> None:
    # The last 21 days (and 6 hours): L1 keeps 2, 9 and 16 days ago: 0.3 + 0.3 + floor(14 / 2) = 7 → 0.2
    # + 7 500 → 0 = 0.8.
    result = _analyze(data, start=data.ago(16) - timedelta(minutes=1), customer_id=data.customers["ACME"].pk)
    assert result.lanes_examined == 2  # L2 keeps one shipment (10 days ago)
    assert [(lane.frequency, lane.confidence_score) for lane in result.lanes] == [(3, Decimal("0.8000"))]
    # An explicit end: 25 … 41 days ago holds L2's 40-day-old shipment only, and L1's 30 days ago.
    result = _analyze(data, start=data.ago(41), end=data.ago(25), customer_id=data.customers["ACME"].pk)
    assert (result.lanes_examined, result.lanes_qualified) == (2, 0)


def test_configuration_is_read_per_organization(data: LaneData) -> None:
    PatternConfig.objects.create(
        organization=data.org, weight_recent_shipments=False, min_confidence_score=Decimal("0.5"), min_frequency=4
    )
    # Without recency: L1 0.7, L3 0.7, L5 0.6, L7 0.6 (ECHO, past the cooldown); U1 has 3 shipments < 4.
    result = _analyze(data)
    scores = {(lane.customer_id, lane.origin_location_id): lane.confidence_score for lane in result.lanes}
    assert scores == {
        (data.customers["ACME"].pk, data.chi.pk): Decimal("0.7000"),
        (data.customers["CORA"].pk, data.chi.pk): Decimal("0.7000"),
        (data.customers["DUNE"].pk, data.chi.pk): Decimal("0.6000"),
        (data.customers["ECHO"].pk, data.dal.pk): Decimal("0.6000"),
    }
    other = _analyze(data, organization_id=data.other_org.pk)  # defaults
    assert other.lanes[0].confidence_score == Decimal("0.9000")


def test_a_disabled_organization_is_analysed_only_on_request(data: LaneData) -> None:
    PatternConfig.objects.create(organization=data.org, enabled=False)
    skipped = analyze_patterns(organization_id=data.org.pk, trigger_reason="shipment_created")
    assert skipped.disabled and skipped.lanes_examined == 0
    assert not DedicatedLaneSuggestion.objects.filter(organization=data.org, status="Pending").exclude(
        customer__code="DUNE"
    )
    manual = analyze_patterns(organization_id=data.org.pk, trigger_reason="manual")
    assert not manual.disabled and manual.suggestions_created == 5


@pytest.mark.parametrize("reason", ["scheduled", "shipment_created", "shipment_completed", "bulk_import"])
def test_automatic_reasons_skip_a_disabled_organization(reason: str) -> None:
    org = PatternConfig.objects.create(organization=f.OrganizationFactory(), enabled=False).organization
    result = analyze_patterns(organization_id=org.pk, trigger_reason=TriggerReason(reason))
    assert result.disabled and result.as_json()["trigger_reason"] == reason


@pytest.mark.parametrize("reason", ["manual", "admin", "api", "command"])
def test_a_person_asking_runs_even_when_detection_is_disabled(reason: str) -> None:
    org = PatternConfig.objects.create(organization=f.OrganizationFactory(), enabled=False).organization
    result = analyze_patterns(organization_id=org.pk, trigger_reason=TriggerReason(reason))
    assert not result.disabled and result.as_json()["trigger_reason"] == reason


def test_a_stale_pending_suggestion_is_expired_and_the_lane_suggested_again(data: LaneData) -> None:
    DedicatedLaneSuggestion.objects.filter(organization=data.org, status="Pending").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    result = _analyze(data)
    assert result.skipped["pending_suggestion"] == 0 and result.suggestions_created == 6
    assert DedicatedLaneSuggestion.objects.filter(organization=data.org, status="Expired").count() == 1


def test_exact_matching_splits_lanes_by_type_and_needs_the_same_types_to_be_covered() -> None:
    org = f.OrganizationFactory()
    PatternConfig.objects.create(organization=org, require_exact_match=True)
    customer = f.CustomerFactory(organization=org)
    origin, destination = f.LocationFactory(organization=org), f.LocationFactory(organization=org)
    std, exp = f.ServiceTypeFactory(organization=org), f.ServiceTypeFactory(organization=org)
    ftl = f.ShipmentTypeFactory(organization=org)
    bu = f.BusinessUnitFactory(organization=org)
    now = timezone.now()
    rows = [
        Shipment(
            organization=org,
            business_unit=bu,
            pro_number=f"X{i}",
            customer=customer,
            origin_location=origin,
            destination_location=destination,
            service_type=service,
            shipment_type=ftl,
            planned_pickup_at=now - timedelta(days=day, hours=6),
            freight_charge_amount=Decimal("100"),
        )
        for i, (service, day) in enumerate([(std, 1), (std, 8), (std, 15), (exp, 2), (exp, 9), (exp, 16)])
    ]
    Shipment.objects.bulk_create(rows)
    # An Active lane with the EXP type and a tractor type covers nothing (no shipment has a tractor type).
    DedicatedLane.objects.create(
        organization=org,
        business_unit=bu,
        name="Express",
        customer=customer,
        origin_location=origin,
        destination_location=destination,
        service_type=exp,
        shipment_type=ftl,
        tractor_type=f.TractorTypeFactory(organization=org),
    )
    result = analyze_patterns(organization_id=org.pk, trigger_reason="manual")
    # Each type: 0.3 + 0.3 + 0.2 (floor(14 / 2) = 7) + 0 = 0.8.
    assert (result.lanes_examined, result.lanes_qualified, result.suggestions_created) == (2, 2, 2)
    assert {s.service_type_id for s in DedicatedLaneSuggestion.objects.filter(organization=org)} == {std.pk, exp.pk}
    assert all(lane.confidence_score == Decimal("0.8000") for lane in result.lanes)

    # Now an Active lane with exactly the EXP lane's types covers it.
    DedicatedLaneSuggestion.objects.filter(organization=org).delete()
    DedicatedLane.objects.filter(name="Express").update(tractor_type=None)
    result = analyze_patterns(organization_id=org.pk, trigger_reason="manual")
    assert (result.suggestions_created, result.skipped["active_lane"]) == (1, 1)


def test_shipment_ids_are_capped_to_the_latest() -> None:
    org = f.OrganizationFactory()
    shipment = f.ShipmentFactory(organization=org, planned_pickup_at=timezone.now() - timedelta(days=1))
    now = timezone.now()
    clones = []
    for i in range(SHIPMENT_IDS_KEPT + 20):
        clones.append(
            Shipment(
                organization=org,
                business_unit=shipment.business_unit,
                pro_number=f"C{i}",
                customer=shipment.customer,
                origin_location=shipment.origin_location,
                destination_location=shipment.destination_location,
                service_type=shipment.service_type,
                shipment_type=shipment.shipment_type,
                planned_pickup_at=now - timedelta(days=2, minutes=i),
            )
        )
    Shipment.objects.bulk_create(clones)
    result = analyze_patterns(organization_id=org.pk, trigger_reason="manual")
    ids = DedicatedLaneSuggestion.objects.get(organization=org).pattern_details["shipment_ids"]
    assert result.lanes[0].frequency == SHIPMENT_IDS_KEPT + 21
    assert len(ids) == SHIPMENT_IDS_KEPT
    assert ids == [shipment.pk] + [c.pk for c in clones[: SHIPMENT_IDS_KEPT - 1]]


def test_shipments_are_read_by_two_queries_however_many_lanes(data: LaneData) -> None:
    def shipment_queries() -> tuple[int, int]:
        DedicatedLaneSuggestion.objects.filter(pattern_details__has_key="detected_at").delete()
        with CaptureQueriesContext(connection) as ctx:
            _analyze(data)
        reads = [q["sql"] for q in ctx.captured_queries if "patterns_shipment" in q["sql"]]
        return len(reads), len(ctx.captured_queries)

    reads, total = shipment_queries()
    assert reads == 2
    for i in range(20):  # twenty more qualifying customers
        customer = f.CustomerFactory(organization=data.org)
        Shipment.objects.bulk_create(
            Shipment(
                organization=data.org,
                business_unit=data.bu,
                pro_number=f"MORE{i}-{day}",
                customer=customer,
                origin_location=data.chi,
                destination_location=data.mem,
                service_type=data.std,
                shipment_type=data.ftl,
                planned_pickup_at=data.ago(day),
            )
            for day in (1, 8, 15)
        )
    assert shipment_queries() == (2, total)


@pytest.mark.parametrize("exact", [False, True])
def test_postgresql_and_portable_paths_agree(data: LaneData, monkeypatch: pytest.MonkeyPatch, exact: bool) -> None:
    PatternConfig.objects.create(organization=data.org, require_exact_match=exact)
    fast = _analyze(data)
    assert fast.lanes_qualified == (7 if exact else 8)  # exact: L1 splits into five one-shipment lanes
    DedicatedLaneSuggestion.objects.filter(pattern_details__has_key="detected_at").delete()
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with CaptureQueriesContext(connection) as ctx:
        portable = _analyze(data)
    assert not any("GROUPING" in q["sql"] or "unnest" in q["sql"] for q in ctx.captured_queries)

    def comparable(result):
        return [
            {k: v for k, v in vars(lane).items() if k != "suggestion_id"} for lane in result.lanes
        ], result.lanes_examined

    assert comparable(portable) == comparable(fast)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"organization_id": 0}, "Organization 0 does not exist"),
        ({"min_frequency": 0}, "min_frequency must be between 1 and 100"),
        ({"min_frequency": 101}, "min_frequency must be between 1 and 100"),
        ({"start": timezone.now().replace(tzinfo=None)}, "timezone-aware"),
        ({"start": timezone.now() + timedelta(days=1)}, "start must be before its end"),
        ({"trigger_reason": "because"}, "Unknown trigger reason 'because'"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs: dict, message: str) -> None:
    org = f.OrganizationFactory()
    kwargs = {"organization_id": org.pk, "trigger_reason": "manual", **kwargs}
    with pytest.raises(AnalysisInputError, match=message):
        analyze_patterns(**kwargs)


def test_a_customer_of_another_organization_is_refused() -> None:
    org, other = f.OrganizationFactory(), f.OrganizationFactory()
    customer = f.CustomerFactory(organization=other)
    with pytest.raises(AnalysisInputError, match="does not exist in organization"):
        analyze_patterns(organization_id=org.pk, customer_id=customer.pk, trigger_reason="manual")


def test_an_empty_organization_examines_nothing() -> None:
    result = analyze_patterns(organization_id=f.OrganizationFactory().pk, trigger_reason="manual")
    assert (result.lanes_examined, result.lanes_qualified, result.suggestions_created) == (0, 0, 0)
    assert result.as_json()["skipped"] == {"active_lane": 0, "pending_suggestion": 0, "recently_rejected": 0}


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        (set(), "CHI-DAL"),
        ({"chi-dal"}, "CHI-DAL ACME"),
        ({"chi-dal", "chi-dal acme"}, "CHI-DAL ACME #2"),
        ({"chi-dal", "chi-dal acme", "chi-dal acme #2"}, "CHI-DAL ACME #3"),
    ],
)
def test_suggested_names_never_clash(taken: set[str], expected: str) -> None:
    assert suggested_name(origin="CHI", destination="DAL", customer="ACME", taken=taken) == expected
