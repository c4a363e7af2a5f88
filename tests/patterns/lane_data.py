"""A hand-built shipment history with known detection answers, shared by the detection, job and command tests.

Times are relative to the moment the data is built, with a 6-hour offset so that "N days ago" stays N
whole days while the test runs. Shipments are bulk-created: no triggers fire.

Organization A (default PatternConfig: min frequency 3, window 90 days, min score 0.70, recency on,
cooldown 30 days, non-exact lanes). Locations CHI, DAL, MEM; the score arithmetic is next to each lane.
Organization B has one lane of its own plus rows that point at A's master data, which must never leak
into A's analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from patterns.models import (
    BusinessUnit,
    Customer,
    DedicatedLane,
    DedicatedLaneStatus,
    EquipmentType,
    Location,
    Organization,
    ServiceType,
    Shipment,
    ShipmentStatus,
    ShipmentType,
    SuggestionStatus,
)
from tests.patterns import factories as f

OFFSET = timedelta(hours=6)


@dataclass
class Expected:
    """What analysing a lane must produce."""

    customer: Customer
    origin: Location
    destination: Location
    frequency: int
    score: Decimal
    outcome: str
    shipments: list[Shipment] = field(default_factory=list)  # in the window and counted, latest first


@dataclass
class LaneData:
    now: datetime
    org: Organization
    other_org: Organization
    bu: BusinessUnit
    bu2: BusinessUnit
    chi: Location
    dal: Location
    mem: Location
    std: ServiceType
    exp: ServiceType
    ftl: ShipmentType
    sleeper: EquipmentType
    daycab: EquipmentType
    dry: EquipmentType
    customers: dict[str, Customer]
    lanes: dict[str, Expected]
    other_lane: Expected
    examined: int
    other_examined: int
    pro: int = 0

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days) - OFFSET


def _shipment(data: LaneData, org: Organization, **fields: object) -> Shipment:
    data.pro += 1
    defaults = {
        "organization": org,
        "business_unit": data.bu,
        "pro_number": f"HB{data.pro:05d}",
        "status": ShipmentStatus.COMPLETED,
        "service_type": data.std,
        "shipment_type": data.ftl,
    }
    defaults.update(fields)
    return Shipment(**defaults)


def build_lane_data() -> LaneData:
    """Create the dataset; returns the objects and the expected outcome of every lane of org A."""
    org = f.OrganizationFactory(name="Acme Freight", slug="acme-freight")
    other = f.OrganizationFactory(name="Other Carrier", slug="other-carrier")
    bu = f.BusinessUnitFactory(organization=org, code="MAIN")
    bu2 = f.BusinessUnitFactory(organization=org, code="EAST")
    location = {code: f.LocationFactory(organization=org, code=code) for code in ("CHI", "DAL", "MEM")}
    customers = {
        code: f.CustomerFactory(organization=org, code=code)
        for code in ("ACME", "BOLT", "CORA", "DUNE", "ECHO", "FERN")
    }
    data = LaneData(
        now=timezone.now(),
        org=org,
        other_org=other,
        bu=bu,
        bu2=bu2,
        chi=location["CHI"],
        dal=location["DAL"],
        mem=location["MEM"],
        std=f.ServiceTypeFactory(organization=org, code="STD"),
        exp=f.ServiceTypeFactory(organization=org, code="EXP"),
        ftl=f.ShipmentTypeFactory(organization=org, code="FTL"),
        sleeper=f.TractorTypeFactory(organization=org, code="SLEEPER"),
        daycab=f.TractorTypeFactory(organization=org, code="DAYCAB"),
        dry=f.TrailerTypeFactory(organization=org, code="DRY53"),
        customers=customers,
        lanes={},
        other_lane=None,  # type: ignore[arg-type]
        examined=0,
        other_examined=0,
    )
    chi, dal, mem = data.chi, data.dal, data.mem
    rows: list[Shipment] = []
    counted: dict[str, list[Shipment]] = {}

    def lane(name: str, customer: str, origin: Location, destination: Location, days: list[float], **fields):
        """Counted shipments of one lane (one per entry of `days`); per-shipment fields may be lists."""
        for i, day in enumerate(days):
            per_row = {k: (v[i] if isinstance(v, list) else v) for k, v in fields.items()}
            row = _shipment(
                data,
                org,
                customer=customers[customer],
                origin_location=origin,
                destination_location=destination,
                planned_pickup_at=data.ago(day),
                **per_row,
            )
            rows.append(row)
            counted.setdefault(name, []).append(row)

    def noise(**fields) -> None:
        rows.append(_shipment(data, org, **fields))

    # L1 weekly, ACME CHI→DAL: 5 shipments 2, 9, 16, 23, 30 days ago at 2 500 each.
    #   frequency min(5/10, 0.4) = 0.4; recency 2 days ≤ 7 → 0.3; regularity floor(28 / 4) = 7 ≤ 30 → 0.2;
    #   value 12 500 > 10 000 → 0.1.  Score 1.0.
    # The one 2 days ago has no planned pickup: its business date is its creation time (set below), it
    # belongs to business unit EAST, and it is the latest, so the suggestion belongs to EAST.
    # Types: STD x3, EXP x2 → STD; tractor SLEEPER x2, DAYCAB x2, none x1 → tie, DAYCAB is the most
    # recent (2 days ago); trailer none x3, DRY53 x2 → none.
    lane(
        "L1",
        "ACME",
        chi,
        dal,
        [2, 9, 16, 23, 30],
        freight_charge_amount=Decimal("2500"),
        service_type=[data.exp, data.std, data.std, data.std, data.exp],
        tractor_type=[data.daycab, data.sleeper, data.sleeper, data.daycab, None],
        trailer_type=[None, data.dry, None, data.dry, None],
        business_unit=[bu2, bu, bu, bu, bu],
    )
    fallback = counted["L1"][0]
    fallback.planned_pickup_at = None
    # Outside the window on L1's lane: 95 days ago (window is 90) and planned 5 days ahead.
    noise(customer=customers["ACME"], origin_location=chi, destination_location=dal, planned_pickup_at=data.ago(95))
    noise(customer=customers["ACME"], origin_location=chi, destination_location=dal, planned_pickup_at=data.ago(-5))

    # L2 ACME DAL→CHI: 10, 20, 40 days ago at 1 000 each.
    #   0.3 (n = 3) + 0.2 (10 days ≤ 30) + 0.2 (floor(30 / 2) = 15) + 0 (3 000) = 0.7 = the minimum: qualifies.
    lane("L2", "ACME", dal, chi, [10, 20, 40], freight_charge_amount=Decimal("1000"))
    # Excluded from L2, which would otherwise have more shipments: Canceled, incomplete rows.
    for day in (15, 25):
        noise(
            customer=customers["ACME"],
            origin_location=dal,
            destination_location=chi,
            planned_pickup_at=data.ago(day),
            status=ShipmentStatus.CANCELED,
            freight_charge_amount=Decimal("9000"),
        )
    base = {"customer": customers["ACME"], "origin_location": dal, "destination_location": chi}
    noise(**{**base, "service_type": None}, planned_pickup_at=data.ago(12))
    noise(**{**base, "shipment_type": None}, planned_pickup_at=data.ago(13))
    noise(**{**base, "customer": None}, planned_pickup_at=data.ago(14))
    noise(**{**base, "origin_location": None}, planned_pickup_at=data.ago(16))
    noise(**{**base, "destination_location": None}, planned_pickup_at=data.ago(17))

    # L3 CORA CHI→DAL: 1, 8, 15, 22 days ago at 3 000: 0.4 + 0.3 + 0.2 (floor(21 / 3) = 7) + 0.1 (12 000)
    #   = 1.0, but an Active dedicated lane covers it.
    lane("L3", "CORA", chi, dal, [1, 8, 15, 22], freight_charge_amount=Decimal("3000"))
    # L4 CORA DAL→MEM: 5, 12, 19 days ago, never rated: 0.3 + 0.3 + 0.2 (floor(14 / 2) = 7) + 0 = 0.8.
    #   Only an Inactive lane covers it, which does not count.
    lane("L4", "CORA", dal, mem, [5, 12, 19], freight_charge_amount=None)
    # L5 DUNE CHI→DAL: 4, 11, …, 39 days ago at 1 000: 0.4 + 0.3 + 0.2 (floor(35 / 5) = 7) + 0 (6 000)
    #   = 0.9, but a Pending suggestion exists.
    lane("L5", "DUNE", chi, dal, [4, 11, 18, 25, 32, 39], freight_charge_amount=Decimal("1000"))
    # L6 ECHO CHI→DAL: 6, 13, 20 days ago at 5 000: 0.3 + 0.3 + 0.2 + 0.1 (15 000) = 0.9, rejected 10
    #   days ago (cooldown 30).
    lane("L6", "ECHO", chi, dal, [6, 13, 20], freight_charge_amount=Decimal("5000"))
    # L7 ECHO DAL→CHI: 25, 35, 45, 55 days ago: 0.4 + 0.2 (25 days) + 0.2 (floor(30 / 3) = 10) + 0 = 0.8;
    #   rejected 40 days ago, past the cooldown: suggested again.
    lane("L7", "ECHO", dal, chi, [25, 35, 45, 55], freight_charge_amount=Decimal("100"))
    # L8 FERN CHI→DAL: 1, 70, 80 days ago: 0.3 + 0.3 + 0.1 (floor(79 / 2) = 39 ≤ 60) + 0 = 0.7: qualifies.
    lane("L8", "FERN", chi, dal, [1, 70, 80], freight_charge_amount=Decimal("10"))
    # U1 BOLT CHI→MEM, just under the score: 35, 45, 55 days ago: 0.3 + 0.1 (35 days) + 0.2 (10) = 0.6.
    lane("U1", "BOLT", chi, mem, [35, 45, 55], freight_charge_amount=Decimal("100"))
    # U2 BOLT MEM→CHI, just under the frequency: 1 and 3 days ago at 8 000: 0.2 + 0.3 + 0.2 + 0.1 = 0.8
    #   scores enough, but 2 < 3 shipments.
    lane("U2", "BOLT", mem, chi, [1, 3], freight_charge_amount=Decimal("8000"))

    # Organization B: its own lane, X→Y, 1, 8, 15 days ago at 4 000: 0.3 + 0.3 + 0.2 + 0.1 (12 000) = 0.9.
    other_bu = f.BusinessUnitFactory(organization=other, code="MAIN")
    x, y = f.LocationFactory(organization=other, code="CHI"), f.LocationFactory(organization=other, code="DAL")
    zed = f.CustomerFactory(organization=other, code="ACME")
    other_std = f.ServiceTypeFactory(organization=other, code="STD")
    other_ftl = f.ShipmentTypeFactory(organization=other, code="FTL")
    other_rows = [
        _shipment(
            data,
            other,
            business_unit=other_bu,
            customer=zed,
            origin_location=x,
            destination_location=y,
            service_type=other_std,
            shipment_type=other_ftl,
            planned_pickup_at=data.ago(day),
            freight_charge_amount=Decimal("4000"),
        )
        for day in (1, 8, 15)
    ]
    # Rows of B that point at A's L2 lane (corrupt, but the organization filter must hold): a second
    # lane in B, with 2 shipments; in A they would make L2 five shipments.
    strays = [
        _shipment(
            data,
            other,
            business_unit=other_bu,
            customer=customers["ACME"],
            origin_location=dal,
            destination_location=chi,
            planned_pickup_at=data.ago(day),
            freight_charge_amount=Decimal("50000"),
        )
        for day in (3, 4)
    ]
    Shipment.objects.bulk_create(rows + other_rows + strays)
    Shipment.objects.filter(pk=fallback.pk).update(created_at=data.ago(2))

    # Lanes that exist already.
    DedicatedLane.objects.create(
        organization=org,
        business_unit=bu,
        name="Cora weekly",
        customer=customers["CORA"],
        origin_location=chi,
        destination_location=dal,
        service_type=data.exp,  # other types than the shipments': non-exact lanes match on customer and stops
        shipment_type=data.ftl,
    )
    DedicatedLane.objects.create(
        organization=org,
        business_unit=bu,
        name="Cora Memphis (paused)",
        status=DedicatedLaneStatus.INACTIVE,
        customer=customers["CORA"],
        origin_location=dal,
        destination_location=mem,
        service_type=data.std,
        shipment_type=data.ftl,
    )
    # B's Active lane on A's L1 route ids must not cover A's L1.
    DedicatedLane.objects.create(
        organization=other,
        business_unit=other_bu,
        name="Leaked",
        customer=customers["ACME"],
        origin_location=chi,
        destination_location=dal,
        service_type=data.std,
        shipment_type=data.ftl,
    )
    # A Pending suggestion for L5, named "CHI-DAL": L1's suggestion must pick another name.
    f.DedicatedLaneSuggestionFactory(
        organization=org,
        business_unit=bu,
        customer=customers["DUNE"],
        origin_location=chi,
        destination_location=dal,
        service_type=data.std,
        shipment_type=data.ftl,
        suggested_name="CHI-DAL",
    )
    _rejected(data, "ECHO", chi, dal, days_ago=10)
    _rejected(data, "ECHO", dal, chi, days_ago=40)

    def expected(name: str, customer: str, origin: Location, destination: Location, score: str, outcome: str):
        shipments = sorted(counted[name], key=lambda s: s.planned_pickup_at or data.ago(2), reverse=True)
        return Expected(customers[customer], origin, destination, len(shipments), Decimal(score), outcome, shipments)

    data.lanes = {
        "L1": expected("L1", "ACME", chi, dal, "1.0000", "created"),
        "L2": expected("L2", "ACME", dal, chi, "0.7000", "created"),
        "L3": expected("L3", "CORA", chi, dal, "1.0000", "active_lane"),
        "L4": expected("L4", "CORA", dal, mem, "0.8000", "created"),
        "L5": expected("L5", "DUNE", chi, dal, "0.9000", "pending_suggestion"),
        "L6": expected("L6", "ECHO", chi, dal, "0.9000", "recently_rejected"),
        "L7": expected("L7", "ECHO", dal, chi, "0.8000", "created"),
        "L8": expected("L8", "FERN", chi, dal, "0.7000", "created"),
    }
    data.examined = 10  # L1 to L8, U1, U2
    data.other_lane = Expected(zed, x, y, 3, Decimal("0.9000"), "created", other_rows)
    data.other_examined = 2  # X→Y and the strays' lane
    return data


def _rejected(data: LaneData, customer: str, origin: Location, destination: Location, *, days_ago: int) -> None:
    f.DedicatedLaneSuggestionFactory(
        organization=data.org,
        business_unit=data.bu,
        customer=data.customers[customer],
        origin_location=origin,
        destination_location=destination,
        service_type=data.std,
        shipment_type=data.ftl,
        status=SuggestionStatus.REJECTED,
        processed_by=f.UserFactory(),
        processed_at=data.now - timedelta(days=days_ago),
        reject_reason="Seasonal only.",
    )
