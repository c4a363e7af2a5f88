"""Database constraints and model validation of the TMS domain models."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from patterns.lanes import LANE_FIELDS
from patterns.models import (
    ANALYSIS_WINDOW_DAYS,
    MIN_FREQUENCY,
    Bounds,
    DedicatedLane,
    DedicatedLaneSuggestion,
    LaneFields,
    PatternConfig,
    Shipment,
    TriggerReason,
)
from tests.patterns.factories import (
    BusinessUnitFactory,
    CustomerFactory,
    DedicatedLaneFactory,
    EquipmentTypeFactory,
    LocationFactory,
    MembershipFactory,
    OrganizationFactory,
    ServiceTypeFactory,
    ShipmentFactory,
    ShipmentTypeFactory,
    UserFactory,
    WorkerFactory,
)

pytestmark = pytest.mark.django_db


def assert_rejected(update: dict[str, Any], queryset: Any, constraint: str) -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        queryset.update(**update)


# --- Shipment check constraints --------------------------------------------------------------------


def test_shipment_origin_equal_to_destination_is_rejected_on_save() -> None:
    shipment = ShipmentFactory()
    shipment.destination_location = shipment.origin_location
    with pytest.raises(IntegrityError, match="shipment_origin_differs_from_destination"), transaction.atomic():
        shipment.save()


@pytest.mark.parametrize(
    ("update", "constraint"),
    [
        pytest.param(
            {"destination_location": F("origin_location")},
            "shipment_origin_differs_from_destination",
            id="origin-equals-destination",
        ),
        pytest.param(
            {"freight_charge_amount": Decimal("-0.01")}, "shipment_freight_charge_not_negative", id="negative-freight"
        ),
        pytest.param(
            {"planned_delivery_at": F("planned_pickup_at") - timedelta(minutes=1)},
            "shipment_delivery_not_before_pickup",
            id="delivery-first",
        ),
        pytest.param({"status": "Lost"}, "shipment_status_valid", id="invalid-status"),
    ],
)
def test_shipment_check_constraints_reject_bad_rows(update: dict[str, Any], constraint: str) -> None:
    shipment = ShipmentFactory()
    assert_rejected(update, Shipment.objects.filter(pk=shipment.pk), constraint)


@pytest.mark.parametrize(
    "update",
    [
        pytest.param({"freight_charge_amount": Decimal("0")}, id="zero-freight"),
        pytest.param({"freight_charge_amount": None}, id="unrated"),
        pytest.param({"planned_delivery_at": F("planned_pickup_at")}, id="delivery-equals-pickup"),
        pytest.param({"planned_pickup_at": None}, id="no-pickup"),
        pytest.param({"destination_location": None}, id="no-destination"),
        pytest.param({"status": "Billed"}, id="billed"),
    ],
)
def test_shipment_check_constraints_accept_edge_rows(update: dict[str, Any]) -> None:
    shipment = ShipmentFactory()
    assert Shipment.objects.filter(pk=shipment.pk).update(**update) == 1


# --- DedicatedLane check constraints ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        pytest.param("same-stops", "dedicated_lane_origin_differs_from_destination", id="origin-equals-destination"),
        pytest.param("same-workers", "dedicated_lane_workers_differ", id="primary-equals-secondary"),
        pytest.param("auto-assign-alone", "dedicated_lane_auto_assign_needs_primary", id="auto-assign-without-primary"),
        pytest.param("bad-status", "dedicated_lane_status_valid", id="invalid-status"),
    ],
)
def test_dedicated_lane_check_constraints_reject_bad_rows(change: str, constraint: str) -> None:
    lane = DedicatedLaneFactory()
    worker = WorkerFactory(organization=lane.organization)
    update = {
        "same-stops": {"destination_location": lane.origin_location},
        "same-workers": {"primary_worker": worker, "secondary_worker": worker},
        "auto-assign-alone": {"auto_assign": True, "primary_worker": None},
        "bad-status": {"status": "Paused"},
    }[change]
    assert_rejected(update, DedicatedLane.objects.filter(pk=lane.pk), constraint)


def test_dedicated_lane_with_two_drivers_and_auto_assign_is_accepted() -> None:
    lane = DedicatedLaneFactory(with_drivers=True)
    lane.refresh_from_db()
    assert lane.auto_assign and lane.primary_worker != lane.secondary_worker


def test_dedicated_lane_auto_assign_with_primary_only_is_accepted() -> None:
    lane = DedicatedLaneFactory(primary_worker=WorkerFactory(), auto_assign=True)
    assert DedicatedLane.objects.filter(pk=lane.pk, auto_assign=True).exists()


# --- PatternConfig range constraints ---------------------------------------------------------------

# (field, rejected values, accepted boundary values, constraint)
RANGES = [
    ("min_frequency", [0, 101], [1, 100], "pattern_config_min_frequency_range"),
    ("analysis_window_days", [0, 366], [1, 365], "pattern_config_window_range"),
    (
        "min_confidence_score",
        [Decimal("-0.0001"), Decimal("1.0001")],
        [Decimal("0"), Decimal("1")],
        "pattern_config_min_confidence_range",
    ),
    ("suggestion_ttl_days", [0, 366], [1, 365], "pattern_config_ttl_range"),
    # -1 is also caught by the unsigned check Django adds for PositiveIntegerField: either will do.
    ("rejection_cooldown_days", [-1, 366], [0, 365], "rejection_cooldown_days|pattern_config_cooldown_range"),
]


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [pytest.param(f, v, c, id=f"{f}={v}") for f, bad, _, c in RANGES for v in bad],
)
def test_pattern_config_out_of_range_is_rejected(field: str, value: Any, constraint: str) -> None:
    org = OrganizationFactory()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        PatternConfig.objects.create(organization=org, **{field: value})


@pytest.mark.parametrize(
    ("field", "value"), [pytest.param(f, v, id=f"{f}={v}") for f, _, good, _ in RANGES for v in good]
)
def test_pattern_config_range_boundaries_are_accepted(field: str, value: Any) -> None:
    config = PatternConfig.objects.create(organization=OrganizationFactory(), **{field: value})
    config.refresh_from_db()
    assert getattr(config, field) == value
    config.full_clean()


@pytest.mark.parametrize(
    ("field", "value"), [pytest.param(f, v, id=f"{f}={v}") for f, bad, _, _ in RANGES for v in bad]
)
def test_pattern_config_validators_name_the_field(field: str, value: Any) -> None:
    config = PatternConfig(organization=OrganizationFactory(), **{field: value})
    with pytest.raises(ValidationError) as excinfo:
        config.full_clean()
    assert set(excinfo.value.message_dict) == {field}


# --- Unique constraints ----------------------------------------------------------------------------


def test_pro_number_is_unique_per_organization() -> None:
    first = ShipmentFactory(pro_number="PRO-1")
    with pytest.raises(IntegrityError, match="shipment_pro_number_unique_per_org"), transaction.atomic():
        ShipmentFactory(organization=first.organization, pro_number="PRO-1")
    ShipmentFactory(pro_number="PRO-1")  # another organization
    assert Shipment.objects.filter(pro_number="PRO-1").count() == 2


@pytest.mark.parametrize(
    "factory",
    [
        BusinessUnitFactory,
        CustomerFactory,
        LocationFactory,
        ServiceTypeFactory,
        ShipmentTypeFactory,
        EquipmentTypeFactory,
        WorkerFactory,
    ],
    ids=lambda f: f.__name__.removesuffix("Factory"),
)
def test_codes_are_unique_per_organization(factory: Any) -> None:
    first = factory(code="X1")
    with pytest.raises(IntegrityError, match="code_unique_per_org"), transaction.atomic():
        factory(organization=first.organization, code="X1")
    other = factory(code="X1")
    assert other.organization != first.organization


def test_dedicated_lane_name_is_unique_per_organization_ignoring_case() -> None:
    lane = DedicatedLaneFactory(name="Chi-Dal")
    with pytest.raises(IntegrityError, match="dedicated_lane_name_unique_per_org_ci"), transaction.atomic():
        DedicatedLaneFactory(organization=lane.organization, name="CHI-DAL")
    DedicatedLaneFactory(name="CHI-DAL")  # another organization
    assert DedicatedLane.objects.filter(name__iexact="chi-dal").count() == 2


def test_one_pattern_config_per_organization() -> None:
    org = OrganizationFactory()
    PatternConfig.objects.create(organization=org)
    with pytest.raises(IntegrityError, match="organization_id"), transaction.atomic():
        PatternConfig.objects.create(organization=org, min_frequency=5)


def test_one_membership_per_user() -> None:
    membership = MembershipFactory()
    with pytest.raises(IntegrityError, match="user_id"), transaction.atomic():
        MembershipFactory(user=membership.user)


def test_organization_slug_is_unique() -> None:
    OrganizationFactory(slug="acme")
    with pytest.raises(IntegrityError, match="slug"), transaction.atomic():
        OrganizationFactory(slug="acme")


# --- Model validation (full_clean) -----------------------------------------------------------------


def test_shipment_clean_rejects_same_origin_and_destination() -> None:
    shipment = ShipmentFactory()
    shipment.destination_location = shipment.origin_location
    with pytest.raises(ValidationError) as excinfo:
        shipment.full_clean()
    assert set(excinfo.value.message_dict) == {"destination_location"}


def test_shipment_clean_rejects_delivery_before_pickup() -> None:
    shipment = ShipmentFactory()
    shipment.planned_delivery_at = shipment.planned_pickup_at - timedelta(hours=1)
    with pytest.raises(ValidationError) as excinfo:
        shipment.full_clean()
    assert set(excinfo.value.message_dict) == {"planned_delivery_at"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("freight_charge_amount", Decimal("-1")), ("status", "Lost")],
)
def test_shipment_field_validation_names_the_field(field: str, value: Any) -> None:
    shipment = ShipmentFactory()
    setattr(shipment, field, value)
    with pytest.raises(ValidationError) as excinfo:
        shipment.full_clean()
    assert set(excinfo.value.message_dict) == {field}


def test_dedicated_lane_clean_reports_each_problem_on_its_field() -> None:
    lane = DedicatedLaneFactory()
    worker = WorkerFactory(organization=lane.organization)
    lane.destination_location = lane.origin_location
    lane.primary_worker = lane.secondary_worker = worker
    with pytest.raises(ValidationError) as excinfo:
        lane.full_clean()
    assert set(excinfo.value.message_dict) == {"destination_location", "secondary_worker"}


def test_dedicated_lane_clean_requires_primary_for_auto_assign() -> None:
    lane = DedicatedLaneFactory()
    lane.auto_assign = True
    with pytest.raises(ValidationError) as excinfo:
        lane.full_clean()
    assert set(excinfo.value.message_dict) == {"auto_assign"}


def test_dedicated_lane_clean_reports_a_name_clash_in_any_case() -> None:
    existing = DedicatedLaneFactory(name="Chi-Dal")
    clash = DedicatedLaneFactory.build(
        organization=existing.organization,
        business_unit=existing.business_unit,
        customer=existing.customer,
        origin_location=existing.origin_location,
        destination_location=existing.destination_location,
        service_type=existing.service_type,
        shipment_type=existing.shipment_type,
        name="CHI-DAL",
    )
    with pytest.raises(ValidationError) as excinfo:
        clash.full_clean()
    assert set(excinfo.value.message_dict) == {"name"}

    existing.full_clean()  # the lane does not clash with itself
    elsewhere = DedicatedLaneFactory(name="Other")
    elsewhere.name = "chi-dal"
    elsewhere.full_clean()  # another organization may use the name


def test_membership_clean_rejects_business_unit_of_another_organization() -> None:
    user = UserFactory()
    membership = MembershipFactory.build(
        user=user, organization=OrganizationFactory(), business_unit=BusinessUnitFactory()
    )
    with pytest.raises(ValidationError) as excinfo:
        membership.full_clean()
    assert set(excinfo.value.message_dict) == {"business_unit"}


# --- PatternConfig.for_organization ----------------------------------------------------------------

# What an organization without a configuration row gets (the settings table in docs/architecture.md).
DEFAULTS = {
    "enabled": True,
    "min_frequency": 3,
    "analysis_window_days": 90,
    "min_confidence_score": Decimal("0.70"),
    "suggestion_ttl_days": 30,
    "require_exact_match": False,
    "weight_recent_shipments": True,
    "rejection_cooldown_days": 30,
}


def test_for_organization_without_a_row_returns_unsaved_defaults() -> None:
    org = OrganizationFactory()
    config = PatternConfig.for_organization(org.pk)
    assert config.pk is None
    assert config.organization_id == org.pk
    assert {field: getattr(config, field) for field in DEFAULTS} == DEFAULTS
    assert not PatternConfig.objects.exists()


def test_for_organization_returns_the_saved_row() -> None:
    org = OrganizationFactory()
    saved = PatternConfig.objects.create(organization=org, min_frequency=7)
    PatternConfig.objects.create(organization=OrganizationFactory(), min_frequency=9)
    config = PatternConfig.for_organization(org.pk)
    assert config.pk == saved.pk
    assert config.min_frequency == 7


def test_saved_defaults_equal_the_documented_ones() -> None:
    config = PatternConfig.objects.create(organization=OrganizationFactory())
    config.refresh_from_db()
    assert {field: getattr(config, field) for field in DEFAULTS} == DEFAULTS


@pytest.mark.django_db
def test_related_rows_of_another_organization_are_refused_by_validation():
    shipment = ShipmentFactory.build()
    shipment.customer = CustomerFactory()  # a customer of a new, different organization
    with pytest.raises(ValidationError) as excinfo:
        shipment.full_clean()
    assert excinfo.value.message_dict["customer"] == ["This belongs to another organization."]

    lane = DedicatedLaneFactory()
    lane.primary_worker = WorkerFactory()  # another organization's driver
    with pytest.raises(ValidationError) as excinfo:
        lane.full_clean()
    assert "primary_worker" in excinfo.value.message_dict


# --- The lane shape, trigger reasons and setting ranges --------------------------------------------


def test_lanes_and_suggestions_share_the_lane_shape_each_in_its_own_words() -> None:
    for model in (DedicatedLane, DedicatedLaneSuggestion):
        assert issubclass(model, LaneFields)
        for name in LANE_FIELDS:
            field = model._meta.get_field(name)
            assert field.null == (name in ("tractor_type", "trailer_type")), (model, name)
            assert field.help_text, (model, name)
    lane_texts = {name: DedicatedLane._meta.get_field(name).help_text for name in LANE_FIELDS}
    suggestion_texts = {name: DedicatedLaneSuggestion._meta.get_field(name).help_text for name in LANE_FIELDS}
    assert lane_texts["customer"] == "Customer served."
    assert suggestion_texts["customer"] == "Customer whose shipments recur."
    # Each customer keeps its own reverse accessors.
    customer = CustomerFactory()
    assert customer.dedicated_lanes.count() == 0 and customer.lane_suggestions.count() == 0


@pytest.mark.parametrize(
    ("reason", "manual"),
    [
        ("manual", True),
        ("admin", True),
        ("api", True),
        ("command", True),
        ("scheduled", False),
        ("shipment_created", False),
        ("shipment_completed", False),
        ("bulk_import", False),
    ],
)
def test_trigger_reasons_tell_whether_a_person_asked(reason: str, manual: bool) -> None:
    assert TriggerReason(reason).is_manual is manual
    assert str(TriggerReason(reason)) == reason


@pytest.mark.parametrize(
    ("bounds", "inside", "outside"),
    [(MIN_FREQUENCY, [1, 100], [0, 101, True, "5", None]), (ANALYSIS_WINDOW_DAYS, [1, 365], [0, 366])],
)
def test_bounds_are_inclusive_and_take_only_numbers(bounds: Bounds[int], inside: list, outside: list) -> None:
    assert all(value in bounds for value in inside)
    assert not any(value in bounds for value in outside)
