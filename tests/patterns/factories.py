"""factory-boy factories for the TMS domain; related rows always share the object's organization."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from factory.django import DjangoModelFactory, Password

from patterns.models import (
    BusinessUnit,
    Customer,
    DedicatedLane,
    DedicatedLaneStatus,
    DedicatedLaneSuggestion,
    EquipmentClass,
    EquipmentType,
    Location,
    Membership,
    Organization,
    PatternConfig,
    ServiceType,
    Shipment,
    ShipmentStatus,
    ShipmentType,
    SuggestionStatus,
    Worker,
)

# Related rows are built in the organization of the object being built (`..organization`).
SAME_ORG = factory.SelfAttribute("..organization")


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Faker("company")
    slug = factory.Sequence(lambda n: f"org-{n}")


class BusinessUnitFactory(DjangoModelFactory):
    class Meta:
        model = BusinessUnit

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.LazyAttribute(lambda o: f"{o.city} Terminal")
    code = factory.Sequence(lambda n: f"BU{n}")

    class Params:
        city = factory.Faker("city")


class UserFactory(DjangoModelFactory):
    """A user; `UserFactory(organization=org)` also gives it a membership in that organization."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = Password("password")

    @factory.post_generation
    def organization(obj: Any, create: bool, extracted: Organization | None, **kwargs: Any) -> None:
        if not create or extracted is None:
            return
        business_unit = extracted.business_units.order_by("pk").first() or BusinessUnitFactory(organization=extracted)
        MembershipFactory(user=obj, organization=extracted, business_unit=business_unit)


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    business_unit = factory.SubFactory(BusinessUnitFactory, organization=SAME_ORG)


# --- Master data -----------------------------------------------------------------------------------


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"CUST{n:05d}")
    name = factory.Faker("company")


class LocationFactory(DjangoModelFactory):
    class Meta:
        model = Location

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"LOC-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"{o.city} Distribution Center")
    city = factory.Faker("city")
    state = factory.Faker("state_abbr", include_territories=False, include_freely_associated_states=False)
    postal_code = factory.Faker("postcode")


class ServiceTypeFactory(DjangoModelFactory):
    class Meta:
        model = ServiceType

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"SVC{n}")
    description = "Standard service"


class ShipmentTypeFactory(DjangoModelFactory):
    class Meta:
        model = ShipmentType

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"SHT{n}")
    description = "Full truckload"


class EquipmentTypeFactory(DjangoModelFactory):
    class Meta:
        model = EquipmentType

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"EQ{n}")
    equipment_class = EquipmentClass.TRACTOR
    description = factory.LazyAttribute(lambda o: f"{o.equipment_class} {o.code}")


class TractorTypeFactory(EquipmentTypeFactory):
    code = factory.Sequence(lambda n: f"TRC{n}")
    equipment_class = EquipmentClass.TRACTOR


class TrailerTypeFactory(EquipmentTypeFactory):
    code = factory.Sequence(lambda n: f"TRL{n}")
    equipment_class = EquipmentClass.TRAILER


class WorkerFactory(DjangoModelFactory):
    class Meta:
        model = Worker

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"DRV{n:04d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")


# --- Shipments, lanes, configuration ---------------------------------------------------------------


class ShipmentFactory(DjangoModelFactory):
    """A rated, planned shipment between two distinct locations of its organization."""

    class Meta:
        model = Shipment

    class Params:
        transit_hours = factory.Faker("random_int", min=4, max=72)

    organization = factory.SubFactory(OrganizationFactory)
    business_unit = factory.SubFactory(BusinessUnitFactory, organization=SAME_ORG)
    customer = factory.SubFactory(CustomerFactory, organization=SAME_ORG)
    pro_number = factory.Sequence(lambda n: f"PRO{n:08d}")
    status = ShipmentStatus.NEW
    # Two SubFactory calls build two rows, so origin and destination always differ.
    origin_location = factory.SubFactory(LocationFactory, organization=SAME_ORG)
    destination_location = factory.SubFactory(LocationFactory, organization=SAME_ORG)
    service_type = factory.SubFactory(ServiceTypeFactory, organization=SAME_ORG)
    shipment_type = factory.SubFactory(ShipmentTypeFactory, organization=SAME_ORG)
    tractor_type = factory.SubFactory(TractorTypeFactory, organization=SAME_ORG)
    trailer_type = factory.SubFactory(TrailerTypeFactory, organization=SAME_ORG)
    planned_pickup_at = factory.Faker("date_time_between", start_date="-30d", end_date="+7d", tzinfo=UTC)
    planned_delivery_at = factory.LazyAttribute(
        lambda o: o.planned_pickup_at + timedelta(hours=o.transit_hours) if o.planned_pickup_at else None
    )
    actual_delivery_at = None
    freight_charge_amount = factory.Faker(
        "pydecimal", right_digits=2, min_value=Decimal("250"), max_value=Decimal("9000")
    )
    is_hazmat = False
    owner = None


class DedicatedLaneFactory(DjangoModelFactory):
    """An Active lane without drivers; `with_drivers=True` adds two and turns auto-assign on."""

    class Meta:
        model = DedicatedLane

    class Params:
        with_drivers = factory.Trait(
            primary_worker=factory.SubFactory(WorkerFactory, organization=SAME_ORG),
            secondary_worker=factory.SubFactory(WorkerFactory, organization=SAME_ORG),
            auto_assign=True,
        )

    organization = factory.SubFactory(OrganizationFactory)
    business_unit = factory.SubFactory(BusinessUnitFactory, organization=SAME_ORG)
    name = factory.Sequence(lambda n: f"Lane {n}")
    status = DedicatedLaneStatus.ACTIVE
    customer = factory.SubFactory(CustomerFactory, organization=SAME_ORG)
    origin_location = factory.SubFactory(LocationFactory, organization=SAME_ORG)
    destination_location = factory.SubFactory(LocationFactory, organization=SAME_ORG)
    service_type = factory.SubFactory(ServiceTypeFactory, organization=SAME_ORG)
    shipment_type = factory.SubFactory(ShipmentTypeFactory, organization=SAME_ORG)
    tractor_type = None
    trailer_type = None
    primary_worker = None
    secondary_worker = None
    auto_assign = False


class PatternConfigFactory(DjangoModelFactory):
    """The default pattern configuration, saved for one organization."""

    class Meta:
        model = PatternConfig
        django_get_or_create = ("organization",)

    organization = factory.SubFactory(OrganizationFactory)


def _days_from_now(days: float) -> datetime:
    return timezone.now() + timedelta(days=days)


class DedicatedLaneSuggestionFactory(DjangoModelFactory):
    """A Pending, unexpired suggestion; traits `rejected`, `accepted` and `stale` (Pending past expiry)."""

    class Meta:
        model = DedicatedLaneSuggestion

    class Params:
        rejected = factory.Trait(
            status=SuggestionStatus.REJECTED,
            processed_by=factory.SubFactory(UserFactory),
            processed_at=factory.LazyFunction(timezone.now),
            reject_reason="Customer contract ends soon.",
        )
        accepted = factory.Trait(
            status=SuggestionStatus.ACCEPTED,
            processed_by=factory.SubFactory(UserFactory),
            processed_at=factory.LazyFunction(timezone.now),
            created_dedicated_lane=factory.SubFactory(
                DedicatedLaneFactory,
                organization=SAME_ORG,
                business_unit=factory.SelfAttribute("..business_unit"),
                customer=factory.SelfAttribute("..customer"),
                origin_location=factory.SelfAttribute("..origin_location"),
                destination_location=factory.SelfAttribute("..destination_location"),
                service_type=factory.SelfAttribute("..service_type"),
                shipment_type=factory.SelfAttribute("..shipment_type"),
            ),
        )
        stale = factory.Trait(expires_at=factory.LazyFunction(lambda: _days_from_now(-1)))

    organization = factory.SubFactory(OrganizationFactory)
    business_unit = factory.SubFactory(BusinessUnitFactory, organization=SAME_ORG)
    status = SuggestionStatus.PENDING
    customer = factory.SubFactory(CustomerFactory, organization=SAME_ORG)
    origin_location = factory.SubFactory(LocationFactory, organization=SAME_ORG)
    destination_location = factory.SubFactory(LocationFactory, organization=SAME_ORG)
    service_type = factory.SubFactory(ServiceTypeFactory, organization=SAME_ORG)
    shipment_type = factory.SubFactory(ShipmentTypeFactory, organization=SAME_ORG)
    tractor_type = None
    trailer_type = None
    confidence_score = Decimal("0.8500")
    frequency = 6
    total_freight_charge = Decimal("12000.0000")
    average_freight_charge = Decimal("2000.0000")
    first_shipment_date = factory.LazyFunction(lambda: _days_from_now(-36))
    last_shipment_date = factory.LazyFunction(lambda: _days_from_now(-1))
    suggested_name = factory.Sequence(lambda n: f"Suggested lane {n}")
    pattern_details = factory.LazyFunction(dict)
    expires_at = factory.LazyFunction(lambda: _days_from_now(30))
