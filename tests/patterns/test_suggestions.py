"""Lane suggestions: database constraints, accept/reject/expire services, listing, concurrent analyses."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from patterns import selectors
from patterns.errors import (
    LaneNameClashError,
    SuggestionExpiredError,
    SuggestionStateError,
    SuggestionValidationError,
)
from patterns.models import DedicatedLane, DedicatedLaneStatus, DedicatedLaneSuggestion, SuggestionStatus
from patterns.services import analyze_patterns, suggestion_accept, suggestion_reject, suggestions_expire
from tests.patterns import factories as f
from tests.patterns.lane_data import build_lane_data

SuggestionFactory = f.DedicatedLaneSuggestionFactory


def _violates(name: str, **fields) -> None:
    with pytest.raises(IntegrityError, match=name), transaction.atomic():
        SuggestionFactory(**fields)


# --- Constraints -----------------------------------------------------------------------------------


@pytest.mark.django_db
class TestConstraints:
    def test_valid_rows_in_every_status(self) -> None:
        SuggestionFactory()
        SuggestionFactory(rejected=True)
        SuggestionFactory(accepted=True)
        SuggestionFactory(status=SuggestionStatus.EXPIRED)

    def test_pending_is_not_processed(self) -> None:
        _violates("suggestion_pending_not_processed", processed_by=f.UserFactory(), processed_at=timezone.now())
        _violates("suggestion_pending_not_processed", processed_at=timezone.now())

    def test_accepted_and_rejected_name_who_and_when(self) -> None:
        _violates("suggestion_decided_is_processed", rejected=True, processed_by=None)
        _violates("suggestion_decided_is_processed", rejected=True, processed_at=None)
        _violates("suggestion_decided_is_processed", accepted=True, processed_at=None)

    def test_accepted_if_and_only_if_a_lane_was_created(self) -> None:
        _violates("suggestion_accepted_iff_lane", accepted=True, created_dedicated_lane=None)
        lane = f.DedicatedLaneFactory()
        _violates(
            "suggestion_accepted_iff_lane",
            organization=lane.organization,
            rejected=True,
            created_dedicated_lane=lane,
        )

    @pytest.mark.parametrize("score", [Decimal("-0.0001"), Decimal("1.0001")])
    def test_score_between_zero_and_one(self, score: Decimal) -> None:
        _violates("suggestion_score_range", confidence_score=score)

    def test_frequency_at_least_one(self) -> None:
        _violates("suggestion_frequency_positive", frequency=0)

    def test_origin_differs_from_destination(self) -> None:
        location = f.LocationFactory()
        _violates(
            "suggestion_origin_differs_from_destination",
            organization=location.organization,
            origin_location=location,
            destination_location=location,
        )

    def test_status_is_known(self) -> None:
        _violates("suggestion_status_valid", status="Maybe")

    def test_one_pending_suggestion_per_lane_even_without_equipment_types(self) -> None:
        first = SuggestionFactory()
        same_lane = {
            name: getattr(first, name)
            for name in (
                "organization",
                "business_unit",
                "customer",
                "origin_location",
                "destination_location",
                "service_type",
                "shipment_type",
            )
        }
        _violates("suggestion_one_pending_per_lane", **same_lane)  # tractor and trailer both NULL
        # Other statuses, or another tractor type, are other rows.
        SuggestionFactory(**same_lane, rejected=True)
        SuggestionFactory(**same_lane, rejected=True)
        SuggestionFactory(**same_lane, status=SuggestionStatus.EXPIRED)
        tractor = f.TractorTypeFactory(organization=first.organization)
        SuggestionFactory(**same_lane, tractor_type=tractor)
        _violates("suggestion_one_pending_per_lane", **same_lane, tractor_type=tractor)


# --- Accept ----------------------------------------------------------------------------------------


@pytest.mark.django_db
class TestAccept:
    def test_accept_creates_an_active_lane_and_records_the_decision(self) -> None:
        tractor = f.TractorTypeFactory()
        suggestion = SuggestionFactory(
            organization=tractor.organization, tractor_type=tractor, suggested_name="CHI-DAL"
        )
        user = f.UserFactory(organization=suggestion.organization)
        lane = suggestion_accept(suggestion=suggestion, user=user)
        assert lane.pk and lane.status == DedicatedLaneStatus.ACTIVE and lane.name == "CHI-DAL"
        for name in (
            "organization_id",
            "business_unit_id",
            "customer_id",
            "origin_location_id",
            "destination_location_id",
            "service_type_id",
            "shipment_type_id",
            "tractor_type_id",
            "trailer_type_id",
        ):
            assert getattr(lane, name) == getattr(suggestion, name), name
        suggestion.refresh_from_db()
        assert suggestion.status == SuggestionStatus.ACCEPTED
        assert suggestion.processed_by == user and suggestion.processed_at is not None
        assert suggestion.created_dedicated_lane == lane

    def test_accept_with_a_name_and_drivers(self) -> None:
        suggestion = SuggestionFactory()
        org = suggestion.organization
        primary, secondary = f.WorkerFactory(organization=org), f.WorkerFactory(organization=org)
        lane = suggestion_accept(
            suggestion=suggestion,
            user=f.UserFactory(),
            name="  Acme weekly  ",
            primary_worker=primary,
            secondary_worker=secondary,
            auto_assign=True,
        )
        lane.refresh_from_db()
        assert (lane.name, lane.primary_worker, lane.secondary_worker, lane.auto_assign) == (
            "Acme weekly",
            primary,
            secondary,
            True,
        )
        assert suggestion.status == SuggestionStatus.ACCEPTED  # the caller's instance is updated

    def test_a_name_clash_changes_nothing(self) -> None:
        suggestion = SuggestionFactory(suggested_name="CHI-DAL")
        f.DedicatedLaneFactory(organization=suggestion.organization, name="chi-dal")
        with pytest.raises(LaneNameClashError, match="'CHI-DAL' already exists"):
            suggestion_accept(suggestion=suggestion, user=f.UserFactory())
        suggestion.refresh_from_db()
        assert suggestion.status == SuggestionStatus.PENDING and suggestion.processed_at is None
        assert DedicatedLane.objects.filter(organization=suggestion.organization).count() == 1
        # Another name works.
        suggestion_accept(suggestion=suggestion, user=f.UserFactory(), name="CHI-DAL 2")

    def test_a_lane_name_in_another_organization_is_no_clash(self) -> None:
        f.DedicatedLaneFactory(name="CHI-DAL")
        suggestion = SuggestionFactory(suggested_name="CHI-DAL")
        assert suggestion_accept(suggestion=suggestion, user=f.UserFactory()).name == "CHI-DAL"

    @pytest.mark.parametrize(
        ("drivers", "message"),
        [
            ({"auto_assign": True}, "auto assign: Auto-assign requires a primary worker."),
            ({"same": True}, "secondary worker: The secondary worker must differ"),
            ({"foreign": True}, "primary worker: This belongs to another organization."),
        ],
    )
    def test_invalid_drivers_change_nothing(self, drivers: dict, message: str) -> None:
        suggestion = SuggestionFactory()
        org = suggestion.organization
        kwargs: dict = {}
        if drivers.get("auto_assign"):
            kwargs["auto_assign"] = True
        if drivers.get("same"):
            worker = f.WorkerFactory(organization=org)
            kwargs.update(primary_worker=worker, secondary_worker=worker)
        if drivers.get("foreign"):
            kwargs["primary_worker"] = f.WorkerFactory()
        with pytest.raises(SuggestionValidationError) as error:
            suggestion_accept(suggestion=suggestion, user=f.UserFactory(), **kwargs)
        assert message in str(error.value)
        suggestion.refresh_from_db()
        assert suggestion.status == SuggestionStatus.PENDING
        assert not DedicatedLane.objects.filter(organization=org).exists()

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101])
    def test_a_bad_name_is_refused(self, name: str) -> None:
        with pytest.raises(SuggestionValidationError, match="1 to 100 characters"):
            suggestion_accept(suggestion=SuggestionFactory(), user=f.UserFactory(), name=name)

    @pytest.mark.parametrize("traits", [{"rejected": True}, {"accepted": True}, {"status": SuggestionStatus.EXPIRED}])
    def test_only_pending_suggestions_can_be_accepted(self, traits: dict) -> None:
        suggestion = SuggestionFactory(**traits)
        with pytest.raises(SuggestionStateError, match="only Pending suggestions"):
            suggestion_accept(suggestion=suggestion, user=f.UserFactory())

    def test_a_pending_suggestion_past_its_expiry_cannot_be_accepted(self) -> None:
        suggestion = SuggestionFactory(stale=True)
        with pytest.raises(SuggestionExpiredError, match="expired on"):
            suggestion_accept(suggestion=suggestion, user=f.UserFactory())
        assert not DedicatedLane.objects.exists()

    def test_a_stale_instance_is_judged_by_the_database(self) -> None:
        suggestion = SuggestionFactory()
        stale_copy = DedicatedLaneSuggestion.objects.get(pk=suggestion.pk)
        suggestion_reject(suggestion=suggestion, user=f.UserFactory())
        with pytest.raises(SuggestionStateError):
            suggestion_accept(suggestion=stale_copy, user=f.UserFactory())

    def test_a_user_is_required(self) -> None:
        with pytest.raises(SuggestionValidationError, match="saved user"):
            suggestion_accept(suggestion=SuggestionFactory(), user=None)  # type: ignore[arg-type]


# --- Reject and expire -----------------------------------------------------------------------------


@pytest.mark.django_db
class TestRejectAndExpire:
    def test_reject_records_reason_user_and_time(self) -> None:
        suggestion = SuggestionFactory()
        user = f.UserFactory()
        before = timezone.now()
        suggestion_reject(suggestion=suggestion, user=user, reason="  Seasonal only. ")
        suggestion.refresh_from_db()
        assert suggestion.status == SuggestionStatus.REJECTED
        assert suggestion.reject_reason == "Seasonal only."
        assert suggestion.processed_by == user and suggestion.processed_at >= before
        assert suggestion.created_dedicated_lane is None

    def test_a_stale_pending_suggestion_can_still_be_rejected(self) -> None:
        suggestion = suggestion_reject(suggestion=SuggestionFactory(stale=True), user=f.UserFactory())
        assert suggestion.status == SuggestionStatus.REJECTED

    @pytest.mark.parametrize("traits", [{"rejected": True}, {"accepted": True}, {"status": SuggestionStatus.EXPIRED}])
    def test_only_pending_suggestions_can_be_rejected(self, traits: dict) -> None:
        suggestion = SuggestionFactory(**traits)
        with pytest.raises(SuggestionStateError):
            suggestion_reject(suggestion=suggestion, user=f.UserFactory(), reason="no")
        suggestion.refresh_from_db()
        assert suggestion.reject_reason != "no"

    def test_expire_flips_pending_suggestions_past_their_date_in_every_organization(self) -> None:
        stale = [SuggestionFactory(stale=True), SuggestionFactory(stale=True)]
        fresh = SuggestionFactory()
        rejected = SuggestionFactory(rejected=True, expires_at=timezone.now() - timedelta(days=3))
        assert stale[0].organization != stale[1].organization
        assert suggestions_expire() == 2
        assert {s.status for s in DedicatedLaneSuggestion.objects.filter(pk__in=[s.pk for s in stale])} == {"Expired"}
        fresh.refresh_from_db()
        rejected.refresh_from_db()
        assert (fresh.status, rejected.status) == ("Pending", "Rejected")
        assert suggestions_expire() == 0

    def test_expire_can_be_limited_to_one_organization(self) -> None:
        mine, theirs = SuggestionFactory(stale=True), SuggestionFactory(stale=True)
        assert suggestions_expire(organization_id=mine.organization_id) == 1
        theirs.refresh_from_db()
        assert theirs.status == SuggestionStatus.PENDING


@pytest.mark.django_db
def test_suggestion_list_is_best_first_and_hides_expired_rows_unless_asked() -> None:
    org = f.OrganizationFactory()
    low = SuggestionFactory(organization=org, confidence_score=Decimal("0.7"), frequency=9)
    high = SuggestionFactory(organization=org, confidence_score=Decimal("0.9"), frequency=3)
    tie = SuggestionFactory(organization=org, confidence_score=Decimal("0.7"), frequency=12)
    stale = SuggestionFactory(organization=org, stale=True)
    expired = SuggestionFactory(organization=org, status=SuggestionStatus.EXPIRED)
    SuggestionFactory()  # another organization
    assert list(selectors.suggestion_list(organization_id=org.pk)) == [high, tie, low]
    everything = selectors.suggestion_list(organization_id=org.pk, include_expired=True)
    assert set(everything) == {low, high, tie, stale, expired}
    assert list(selectors.suggestion_list(organization_id=org.pk, status="Expired", include_expired=True)) == [expired]


# --- Concurrent analyses ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_analyses_never_create_two_pending_suggestions_for_a_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    data = build_lane_data()
    # Both analyses read "no pending suggestion" before either inserts: the database must decide.
    barrier = threading.Barrier(2, timeout=30)
    read_open_keys = selectors.open_suggestion_keys

    def open_keys_then_wait(**kwargs):
        keys = read_open_keys(**kwargs)
        barrier.wait()
        return keys

    monkeypatch.setattr(selectors, "open_suggestion_keys", open_keys_then_wait)
    results, errors = [], []

    def run() -> None:
        try:
            results.append(analyze_patterns(organization_id=data.org.pk, trigger_reason="manual"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(r.suggestions_created for r in results) == [0, 5]
    assert sorted(r.skipped["pending_suggestion"] for r in results) == [1, 6]
    pending = DedicatedLaneSuggestion.objects.filter(organization=data.org, status=SuggestionStatus.PENDING)
    lanes = list(pending.values_list("customer_id", "origin_location_id", "destination_location_id"))
    assert len(lanes) == len(set(lanes)) == 6
