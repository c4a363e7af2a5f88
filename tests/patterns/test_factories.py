"""The factories build valid rows whose related rows share one organization."""

from __future__ import annotations

from typing import Any

import pytest

from patterns.models import EquipmentClass, Membership, PatternConfig
from tests.patterns import factories as f

pytestmark = pytest.mark.django_db

ALL_FACTORIES = [
    f.OrganizationFactory,
    f.BusinessUnitFactory,
    f.UserFactory,
    f.MembershipFactory,
    f.CustomerFactory,
    f.LocationFactory,
    f.ServiceTypeFactory,
    f.ShipmentTypeFactory,
    f.EquipmentTypeFactory,
    f.TractorTypeFactory,
    f.TrailerTypeFactory,
    f.WorkerFactory,
    f.ShipmentFactory,
    f.DedicatedLaneFactory,
    f.PatternConfigFactory,
]

# Organization-scoped relations of each model that must point into the row's own organization.
SCOPED_RELATIONS = {
    "BusinessUnit": [],
    "Membership": ["business_unit"],
    "Shipment": [
        "business_unit",
        "customer",
        "origin_location",
        "destination_location",
        "service_type",
        "shipment_type",
        "tractor_type",
        "trailer_type",
    ],
    "DedicatedLane": [
        "business_unit",
        "customer",
        "origin_location",
        "destination_location",
        "service_type",
        "shipment_type",
        "primary_worker",
        "secondary_worker",
    ],
}


@pytest.mark.parametrize("factory", ALL_FACTORIES, ids=lambda factory: factory.__name__)
def test_factory_builds_a_valid_saved_row(factory: Any) -> None:
    obj = factory()
    assert obj.pk is not None
    obj.full_clean()


@pytest.mark.parametrize("factory", ALL_FACTORIES, ids=lambda factory: factory.__name__)
def test_two_rows_from_one_factory_do_not_collide(factory: Any) -> None:
    first, second = factory(), factory()
    assert first.pk != second.pk


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (f.MembershipFactory, {}),
        (f.ShipmentFactory, {}),
        (f.DedicatedLaneFactory, {}),
        (f.DedicatedLaneFactory, {"with_drivers": True}),
    ],
    ids=["membership", "shipment", "lane", "lane-with-drivers"],
)
def test_related_rows_share_the_organization(factory: Any, kwargs: dict[str, Any]) -> None:
    obj = factory(**kwargs)
    for name in SCOPED_RELATIONS[type(obj).__name__]:
        related = getattr(obj, name)
        if related is not None:
            assert related.organization_id == obj.organization_id, name


def test_related_rows_follow_an_organization_passed_in() -> None:
    org = f.OrganizationFactory()
    shipment = f.ShipmentFactory(organization=org)
    assert shipment.customer.organization == org
    assert shipment.business_unit.organization == org
    assert shipment.origin_location.organization == org


def test_shipment_factory_builds_a_planned_shipment_between_two_places() -> None:
    shipment = f.ShipmentFactory()
    assert shipment.origin_location_id != shipment.destination_location_id
    assert shipment.planned_delivery_at >= shipment.planned_pickup_at
    assert shipment.freight_charge_amount >= 0
    assert shipment.tractor_type.equipment_class == EquipmentClass.TRACTOR
    assert shipment.trailer_type.equipment_class == EquipmentClass.TRAILER


def test_shipment_factory_keeps_an_origin_passed_in_distinct_from_the_destination() -> None:
    origin = f.LocationFactory()
    shipment = f.ShipmentFactory(organization=origin.organization, origin_location=origin)
    assert shipment.origin_location == origin
    assert shipment.destination_location != origin
    shipment.full_clean()


def test_lane_with_drivers_has_two_different_drivers_and_auto_assign() -> None:
    lane = f.DedicatedLaneFactory(with_drivers=True)
    assert lane.auto_assign
    assert lane.primary_worker is not None and lane.secondary_worker is not None
    assert lane.primary_worker != lane.secondary_worker
    lane.full_clean()


def test_tractor_and_trailer_factories_set_the_class() -> None:
    assert f.TractorTypeFactory().equipment_class == EquipmentClass.TRACTOR
    assert f.TrailerTypeFactory().equipment_class == EquipmentClass.TRAILER


def test_user_factory_with_organization_creates_a_membership() -> None:
    org = f.OrganizationFactory()
    business_unit = f.BusinessUnitFactory(organization=org)
    user = f.UserFactory(organization=org)
    membership = Membership.objects.get(user=user)
    assert membership.organization == org
    assert membership.business_unit == business_unit
    assert user.check_password("password")


def test_user_factory_without_organization_has_no_membership() -> None:
    user = f.UserFactory()
    assert not Membership.objects.filter(user=user).exists()


def test_pattern_config_factory_saves_the_defaults_once_per_organization() -> None:
    org = f.OrganizationFactory()
    config = f.PatternConfigFactory(organization=org)
    assert f.PatternConfigFactory(organization=org).pk == config.pk
    assert PatternConfig.objects.filter(organization=org).count() == 1
    assert config.min_frequency == 3
