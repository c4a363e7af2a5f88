"""Deterministic demo data: carriers with master data, recurring customer lanes and random noise.

`demo_seed()` writes it, `demo_flush()` removes it, `demo_exists()` tells whether it is there.
Demo organizations are recognised by the slug prefix `demo-`; nothing else is ever touched, except
that the `admin` demo superuser is created (or given a membership) when missing.

Shipments are written with `bulk_create`, which skips model signals: seeding does not enqueue one
pattern analysis per shipment (run `manage.py analyze_patterns` or the scheduled job afterwards).

A large seed takes a while; `demo_seed(progress=...)` reports each phase's rows as they are done
(`SeedProgress`), which `manage.py seed_demo` shows as progress bars on a terminal.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import NamedTuple

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Least

from patterns.models import (
    BusinessUnit,
    Customer,
    DedicatedLane,
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
    Worker,
)

DEMO_SLUG_PREFIX = "demo-"
DEMO_ADMIN_USERNAME = "admin"
DEMO_ADMIN_PASSWORD = "admin"

# Rows per INSERT, and the shipments turned into model instances at a time (bounding memory on large
# seeds). 2 000 shipments x 19 columns stays under PostgreSQL's 65 535 parameters; Django lowers it
# further on SQLite, whose variable limit is smaller (DatabaseOperations.bulk_batch_size).
BULK_BATCH_SIZE = 2000
# Noise rows planned between two progress reports.
PLAN_REPORT_EVERY = 10_000

FUTURE_DAYS = 14  # open (New/Assigned) shipments are planned up to two weeks ahead


# The phases `demo_seed` reports, in the order they start, and what their counts count.
PHASE_MASTER_DATA = "master data"  # organizations with their customers, locations, types and drivers
PHASE_PLANNING = "planning shipments"  # shipment rows generated in memory
PHASE_SHIPMENTS = "writing shipments"  # shipments inserted, backdated and constraint-checked
SEED_PHASES = (PHASE_MASTER_DATA, PHASE_PLANNING, PHASE_SHIPMENTS)

# progress(phase, done, total): called once per phase with done=0 before any work, then whenever
# more of it is done; `done` counts from the start of the seed and reaches `total` at the end.
SeedProgress = Callable[[str, int, int], None]


class DemoDataExistsError(Exception):
    """Demo organizations are already in the database; flush them first."""


@dataclass(frozen=True)
class DemoSummary:
    organizations: list[str]
    business_units: int
    customers: int
    locations: int
    workers: int
    shipments: int
    recurring_lanes: int
    recurring_shipments: int
    admin_created: bool
    now: datetime


# --- Reference data --------------------------------------------------------------------------------


class _OrgSpec(NamedTuple):
    slug: str
    name: str
    prefix: str  # PRO number prefix
    division: str
    headline_lane: tuple[str, str] | None  # stops of the first planted lane, run weekly


_ORGANIZATIONS = [
    _OrgSpec("demo-midwest-freight", "Midwest Freight Lines", "MFL", "Chicago Division", ("CHI-01", "DAL-01")),
    _OrgSpec("demo-lone-star", "Lone Star Logistics", "LSL", "Dallas Division", ("DAL-01", "MEM-01")),
    _OrgSpec("demo-peach-state", "Peach State Carriers", "PSC", "Atlanta Division", ("ATL-01", "CHI-01")),
    _OrgSpec("demo-cascade", "Cascade Transport", "CST", "Seattle Division", ("SEA-01", "OAK-01")),
]

# (code, city, state, ZIP, facilities): 42 cities, 50 facilities.
_CITIES = [
    ("CHI", "Chicago", "IL", "60607", 2),
    ("DAL", "Dallas", "TX", "75207", 2),
    ("ATL", "Atlanta", "GA", "30318", 2),
    ("MEM", "Memphis", "TN", "38118", 2),
    ("HOU", "Houston", "TX", "77029", 2),
    ("LAX", "Los Angeles", "CA", "90058", 2),
    ("IND", "Indianapolis", "IN", "46241", 2),
    ("CMH", "Columbus", "OH", "43207", 2),
    ("MKC", "Kansas City", "MO", "64120", 1),
    ("STL", "St. Louis", "MO", "63147", 1),
    ("DEN", "Denver", "CO", "80216", 1),
    ("PHX", "Phoenix", "AZ", "85043", 1),
    ("SLC", "Salt Lake City", "UT", "84104", 1),
    ("SEA", "Seattle", "WA", "98108", 1),
    ("PDX", "Portland", "OR", "97218", 1),
    ("OAK", "Oakland", "CA", "94621", 1),
    ("SAC", "Sacramento", "CA", "95828", 1),
    ("LAS", "Las Vegas", "NV", "89115", 1),
    ("ABQ", "Albuquerque", "NM", "87105", 1),
    ("ELP", "El Paso", "TX", "79927", 1),
    ("SAT", "San Antonio", "TX", "78219", 1),
    ("OKC", "Oklahoma City", "OK", "73108", 1),
    ("OMA", "Omaha", "NE", "68117", 1),
    ("MSP", "Minneapolis", "MN", "55413", 1),
    ("MKE", "Milwaukee", "WI", "53207", 1),
    ("DET", "Detroit", "MI", "48209", 1),
    ("CLE", "Cleveland", "OH", "44135", 1),
    ("PIT", "Pittsburgh", "PA", "15204", 1),
    ("PHL", "Philadelphia", "PA", "19153", 1),
    ("EWR", "Newark", "NJ", "07114", 1),
    ("BOS", "Boston", "MA", "02210", 1),
    ("BAL", "Baltimore", "MD", "21224", 1),
    ("RIC", "Richmond", "VA", "23234", 1),
    ("CLT", "Charlotte", "NC", "28208", 1),
    ("BNA", "Nashville", "TN", "37210", 1),
    ("SDF", "Louisville", "KY", "40213", 1),
    ("BHM", "Birmingham", "AL", "35210", 1),
    ("JAX", "Jacksonville", "FL", "32254", 1),
    ("ORL", "Orlando", "FL", "32824", 1),
    ("MIA", "Miami", "FL", "33166", 1),
    ("MSY", "New Orleans", "LA", "70123", 1),
    ("LIT", "Little Rock", "AR", "72206", 1),
]
_FACILITY_KINDS = ["Distribution Center", "Cross-Dock", "Terminal", "Warehouse", "Rail Ramp"]

_CUSTOMER_NAMES = [
    "Great Lakes Paper Co.",
    "Lone Prairie Beverage",
    "Peachtree Home Goods",
    "Midsouth Appliance Supply",
    "Heartland Grain Cooperative",
    "Summit Outdoor Gear",
    "Blue Ridge Furniture",
    "Prairie Fresh Foods",
    "Cascade Timber Products",
    "Gulf Coast Chemicals",
    "Riverbend Plastics",
    "Keystone Steel Works",
    "Magnolia Textiles",
    "Sierra Solar Supply",
    "Harbor Point Imports",
    "Red Rock Building Materials",
    "Northstar Auto Parts",
    "Evergreen Packaging",
    "Bluebonnet Dairy",
    "Capitol Office Supply",
    "Frontier Pet Nutrition",
    "Silver Creek Beverages",
    "Ozark Poultry Farms",
    "Iron Range Mining Supply",
    "Coastal Paints & Coatings",
    "Mesa Electronics",
    "Twin Cities Medical Supply",
    "Bayou Seafood Distributors",
    "Liberty Tire Wholesale",
    "Granite State Brewing",
    "Desert Bloom Nurseries",
    "Big Sky Lumber",
    "Tidewater Marine Supply",
    "Appalachian Hardwoods",
    "Sunbelt Pharmacy Distribution",
    "Golden Valley Produce",
    "Rustbelt Fasteners",
    "Plainsman Seed Co.",
    "Copperline Wire & Cable",
    "Lakeshore Candy Works",
    "Cumberland Glassworks",
    "High Plains Feed & Supply",
    "Mission Bay Cosmetics",
    "Everglade Citrus Growers",
    "Timberline Cabinets",
    "Canyon State Cement",
]

_FIRST_NAMES = ["James", "Maria", "Robert", "Linda", "Michael", "Angela", "David", "Rosa", "Carlos", "Tanya"]
_LAST_NAMES = ["Johnson", "Garcia", "Williams", "Nguyen", "Brown", "Martinez", "Davis", "Lopez", "Miller", "Ward"]
_WORKERS_PER_ORG = 8

_SERVICE_TYPES = [("STD", "Standard"), ("EXP", "Expedited")]
_SHIPMENT_TYPES = [("FTL", "Full truckload"), ("LTL", "Less than truckload")]
_TRACTOR_TYPES = [("SLEEPER", "Sleeper cab"), ("DAYCAB", "Day cab")]
_TRAILER_TYPES = [("DRY53", "53' dry van"), ("REEFER53", "53' refrigerated van"), ("FLAT48", "48' flatbed")]

# Recurring cadences as repeating day gaps, with their weights: weekly, every 3-4 days, fortnightly.
_CADENCES: list[tuple[tuple[int, ...], int]] = [((7,), 5), ((3, 4), 2), ((14,), 3)]


# --- Public surface --------------------------------------------------------------------------------


def demo_exists() -> bool:
    return Organization.objects.filter(slug__startswith=DEMO_SLUG_PREFIX).exists()


@transaction.atomic
def demo_flush() -> int:
    """Delete the demo organizations and everything in them; returns how many organizations went."""
    org_ids = list(Organization.objects.filter(slug__startswith=DEMO_SLUG_PREFIX).values_list("pk", flat=True))
    if not org_ids:
        return 0
    # Shipments, lanes and memberships PROTECT the rows they point at, and Django refuses to cascade
    # through PROTECT even when both sides are going; so delete from the leaves inwards.
    for model in _flush_order():
        model._default_manager.filter(organization_id__in=org_ids).delete()
    Organization.objects.filter(pk__in=org_ids).delete()
    return len(org_ids)


@transaction.atomic
def demo_seed(
    *,
    seed: int,
    shipments: int,
    customers: int,
    organizations: int,
    days: int,
    now: datetime,
    create_admin: bool = True,
    progress: SeedProgress | None = None,
) -> DemoSummary:
    """Create the demo data. `shipments` and `customers` are totals, split evenly over organizations.

    The same arguments (including `now`) always produce the same content; primary keys and
    created/updated times of master data differ between runs. `progress` is told how far each of
    `SEED_PHASES` has got (it does not change what is written).
    """
    if organizations < 1:
        raise ValueError("organizations must be at least 1.")
    if customers < organizations:
        raise ValueError("customers must be at least the number of organizations (one each).")
    if shipments < 0 or days < 1:
        raise ValueError("shipments must be >= 0 and days >= 1.")
    if demo_exists():
        raise DemoDataExistsError("Demo data already exists.")

    customer_counts = _split(customers, organizations)
    shipment_counts = _split(shipments, organizations)
    totals = {"business_units": 0, "customers": 0, "locations": 0, "workers": 0}
    recurring_lanes = recurring_shipments = 0
    first_org: tuple[Organization, BusinessUnit] | None = None
    names: list[str] = []
    tracker = _Tracker(
        progress, {PHASE_MASTER_DATA: organizations, PHASE_PLANNING: shipments, PHASE_SHIPMENTS: shipments}
    )

    # Master data first for every organization, then the shipments: each organization keeps its own
    # random stream in the same order, so the content is the same as seeding them one after the other,
    # and the quick phase is over before the long one starts.
    worlds: list[tuple[_OrgSpec, random.Random, _World]] = []
    for index in range(organizations):
        spec = _org_spec(index)
        # One stream per organization: an organization's data does not depend on the others' sizes.
        rng = random.Random(f"{seed}:{index}")
        world = _create_master_data(rng, spec, customer_counts[index])
        worlds.append((spec, rng, world))
        tracker.advance(PHASE_MASTER_DATA, 1)
        first_org = first_org or (world.organization, world.business_unit)
        names.append(world.organization.name)
        totals["business_units"] += 1
        totals["customers"] += len(world.customer_ids)
        totals["locations"] += len(world.location_ids)
        totals["workers"] += _WORKERS_PER_ORG

    for (spec, rng, world), budget in zip(worlds, shipment_counts, strict=True):
        rows, lanes, planted = _shipment_rows(
            rng, world, spec, budget, days, now, planned=tracker.reporter(PHASE_PLANNING)
        )
        _insert_shipments(world, spec.prefix, rows, now, written=tracker.reporter(PHASE_SHIPMENTS))
        recurring_lanes += lanes
        recurring_shipments += planted

    admin_created = False
    if create_admin and first_org is not None:
        admin_created = _ensure_demo_admin(*first_org)

    return DemoSummary(
        organizations=names,
        shipments=shipments,
        recurring_lanes=recurring_lanes,
        recurring_shipments=recurring_shipments,
        admin_created=admin_created,
        now=now,
        **totals,
    )


class _Tracker:
    """Running totals per phase for a `SeedProgress` callback (which may be None)."""

    def __init__(self, progress: SeedProgress | None, totals: dict[str, int]) -> None:
        self._progress = progress
        self._totals = totals
        self._done = dict.fromkeys(totals, 0)
        for phase in totals:
            self._report(phase)

    def advance(self, phase: str, count: int) -> None:
        self._done[phase] += count
        self._report(phase)

    def reporter(self, phase: str) -> Callable[[int], None]:
        return lambda count: self.advance(phase, count)

    def _report(self, phase: str) -> None:
        if self._progress is not None:
            self._progress(phase, self._done[phase], self._totals[phase])


# --- Master data -----------------------------------------------------------------------------------


@dataclass
class _World:
    """One organization's master data, as primary keys ready for shipment rows."""

    organization: Organization
    business_unit: BusinessUnit
    customer_ids: list[int]
    location_ids: list[int]
    location_ids_by_code: dict[str, int]
    service_type_ids: list[int]
    shipment_type_ids: list[int]
    tractor_type_ids: list[int]
    trailer_type_ids: list[int]


def _org_spec(index: int) -> _OrgSpec:
    if index < len(_ORGANIZATIONS):
        return _ORGANIZATIONS[index]
    n = index + 1
    return _OrgSpec(f"{DEMO_SLUG_PREFIX}carrier-{n}", f"Demo Carrier {n}", f"D{n:02d}", "Main Division", None)


def _create_master_data(rng: random.Random, spec: _OrgSpec, customer_count: int) -> _World:
    org = Organization.objects.create(name=spec.name, slug=spec.slug)
    business_unit = BusinessUnit.objects.create(organization=org, name=spec.division, code="MAIN")
    PatternConfig.objects.create(organization=org)

    def coded(model: type[models.Model], rows: Sequence[tuple[str, ...]], **extra: str) -> list[int]:
        model._default_manager.bulk_create(
            [model(organization=org, code=code, description=description, **extra) for code, description in rows]
        )
        return _ids_by_code(model, org, [code for code, _ in rows])

    service_type_ids = coded(ServiceType, _SERVICE_TYPES)
    shipment_type_ids = coded(ShipmentType, _SHIPMENT_TYPES)
    tractor_type_ids = coded(EquipmentType, _TRACTOR_TYPES, equipment_class=EquipmentClass.TRACTOR)
    trailer_type_ids = coded(EquipmentType, _TRAILER_TYPES, equipment_class=EquipmentClass.TRAILER)

    customer_rows = _customer_rows(rng, customer_count)
    Customer.objects.bulk_create([Customer(organization=org, code=code, name=name) for code, name in customer_rows])
    customer_ids = _ids_by_code(Customer, org, [code for code, _ in customer_rows])

    locations = [
        Location(
            organization=org,
            code=f"{code}-{n:02d}",
            name=f"{city} {_FACILITY_KINDS[(i + n - 1) % len(_FACILITY_KINDS)]}",
            city=city,
            state=state,
            postal_code=postal_code,
        )
        for i, (code, city, state, postal_code, facilities) in enumerate(_CITIES)
        for n in range(1, facilities + 1)
    ]
    Location.objects.bulk_create(locations)
    location_codes = [location.code for location in locations]
    location_ids = _ids_by_code(Location, org, location_codes)

    Worker.objects.bulk_create(
        Worker(
            organization=org,
            code=f"DRV-{n:03d}",
            first_name=rng.choice(_FIRST_NAMES),
            last_name=rng.choice(_LAST_NAMES),
        )
        for n in range(1, _WORKERS_PER_ORG + 1)
    )
    return _World(
        organization=org,
        business_unit=business_unit,
        customer_ids=customer_ids,
        location_ids=location_ids,
        location_ids_by_code=dict(zip(location_codes, location_ids, strict=True)),
        service_type_ids=service_type_ids,
        shipment_type_ids=shipment_type_ids,
        tractor_type_ids=tractor_type_ids,
        trailer_type_ids=trailer_type_ids,
    )


def _customer_rows(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(code, name) pairs: real-looking names, codes like GREAT01, unique within the organization."""
    pool = rng.sample(_CUSTOMER_NAMES, len(_CUSTOMER_NAMES))
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i in range(count):
        base = pool[i % len(pool)]
        round_ = i // len(pool)
        name = base if round_ == 0 else f"{base} #{round_ + 1}"
        stem = "".join(ch for ch in base.upper() if ch.isalpha())[:5]
        n = round_ + 1
        while f"{stem}{n:02d}" in seen:
            n += 1
        code = f"{stem}{n:02d}"
        seen.add(code)
        rows.append((code, name))
    return rows


def _ids_by_code(model: type[models.Model], org: Organization, codes: list[str]) -> list[int]:
    """Primary keys in the order of `codes` (bulk_create does not return ids on every backend)."""
    by_code = dict(model._default_manager.filter(organization=org, code__in=codes).values_list("code", "pk"))
    return [by_code[code] for code in codes]


def _ensure_demo_admin(org: Organization, business_unit: BusinessUnit) -> bool:
    """Create the admin/admin superuser if missing and make sure it has a membership; True if created."""
    user_model = get_user_model()
    user = user_model._default_manager.filter(username=DEMO_ADMIN_USERNAME).first()
    created = user is None
    if user is None:
        user = user_model._default_manager.create_superuser(
            DEMO_ADMIN_USERNAME, f"{DEMO_ADMIN_USERNAME}@example.com", DEMO_ADMIN_PASSWORD
        )
    if not Membership.objects.filter(user=user).exists():
        # An organization admin too, so that the README's API examples (webhooks included) work as written.
        Membership.objects.create(user=user, organization=org, business_unit=business_unit, is_org_admin=True)
    return created


# --- Shipments -------------------------------------------------------------------------------------


class _Row(NamedTuple):
    pickup: datetime
    delivery: datetime
    actual_delivery: datetime | None
    status: str
    customer_id: int
    origin_id: int
    destination_id: int
    service_type_id: int
    shipment_type_id: int
    tractor_type_id: int | None
    trailer_type_id: int | None
    freight: Decimal | None
    is_hazmat: bool


def _shipment_rows(
    rng: random.Random,
    world: _World,
    spec: _OrgSpec,
    budget: int,
    days: int,
    now: datetime,
    *,
    planned: Callable[[int], None],
) -> tuple[list[_Row], int, int]:
    """Recurring lanes for about a third of the customers, then one-off noise up to `budget` rows.

    `planned(n)` is called as rows are added, n at a time.
    """
    rows: list[_Row] = []
    lanes = 0
    # Recurring lanes take at most 70% of the budget so that there is always noise around them.
    cap = int(budget * 0.7)
    recurring_customers = world.customer_ids[: max(1, round(len(world.customer_ids) / 3))]
    for customer_id in recurring_customers:
        for _ in range(2 if rng.random() < 0.3 else 1):
            headline = spec.headline_lane if lanes == 0 else None
            lane_rows = list(_recurring_lane(rng, world, customer_id, days, now, headline))
            if len(rows) + len(lane_rows) > cap:
                continue
            rows.extend(lane_rows)
            lanes += 1
    planted = len(rows)
    planned(planted)
    # islice over one generator draws the same random numbers as a single extend() would.
    noise = _noise(rng, world, budget - planted, days, now)
    while batch := list(islice(noise, PLAN_REPORT_EVERY)):
        rows.extend(batch)
        planned(len(batch))
    return rows, lanes, planted


def _recurring_lane(
    rng: random.Random,
    world: _World,
    customer_id: int,
    days: int,
    now: datetime,
    headline: tuple[str, str] | None = None,
) -> Iterator[_Row]:
    origin_id, destination_id = rng.sample(world.location_ids, 2)
    if headline:
        origin_id, destination_id = (world.location_ids_by_code[code] for code in headline)
    service_type_id = world.service_type_ids[0] if rng.random() < 0.8 else rng.choice(world.service_type_ids)
    shipment_type_id = world.shipment_type_ids[0] if rng.random() < 0.85 else rng.choice(world.shipment_type_ids)
    tractor_type_id = rng.choice(world.tractor_type_ids)
    trailer_type_id = rng.choice(world.trailer_type_ids)
    is_hazmat = rng.random() < 0.1
    base_cents = rng.randrange(120_000, 480_000)
    transit_hours = rng.randrange(8, 56)
    gaps = rng.choices([gaps for gaps, _ in _CADENCES], weights=[weight for _, weight in _CADENCES])[0]
    if headline:
        gaps = (7,)
    # A fixed weekday and time of day, like a real standing order.
    pickup = now - timedelta(days=days) + timedelta(days=rng.randrange(sum(gaps)), hours=rng.randrange(6, 16))
    end = now + timedelta(days=FUTURE_DAYS)
    k = 0
    while pickup < end:
        jittered = pickup + timedelta(minutes=15 * rng.randrange(-4, 5))
        cents = int(base_cents * rng.uniform(0.96, 1.04))
        yield _row(
            rng,
            now,
            jittered,
            transit_hours,
            customer_id,
            origin_id,
            destination_id,
            service_type_id,
            shipment_type_id,
            tractor_type_id,
            trailer_type_id,
            Decimal(cents).scaleb(-2),
            is_hazmat,
        )
        pickup += timedelta(days=gaps[k % len(gaps)])
        k += 1


def _noise(rng: random.Random, world: _World, count: int, days: int, now: datetime) -> Iterator[_Row]:
    customers = world.customer_ids
    locations = world.location_ids
    start = now - timedelta(days=days)
    for _ in range(count):
        origin_id, destination_id = rng.sample(locations, 2)
        if rng.random() < 0.92:
            day = start + timedelta(days=rng.randrange(days))
        else:
            day = now + timedelta(days=rng.randrange(FUTURE_DAYS))
        pickup = day + timedelta(hours=rng.randrange(5, 20), minutes=15 * rng.randrange(4))
        yield _row(
            rng,
            now,
            pickup,
            rng.randrange(4, 72),
            rng.choice(customers),
            origin_id,
            destination_id,
            rng.choice(world.service_type_ids),
            rng.choice(world.shipment_type_ids),
            rng.choice(world.tractor_type_ids) if rng.random() < 0.9 else None,
            rng.choice(world.trailer_type_ids) if rng.random() < 0.9 else None,
            Decimal(rng.randrange(35_000, 650_000)).scaleb(-2),
            rng.random() < 0.03,
        )


def _row(
    rng: random.Random,
    now: datetime,
    pickup: datetime,
    transit_hours: int,
    customer_id: int,
    origin_id: int,
    destination_id: int,
    service_type_id: int,
    shipment_type_id: int,
    tractor_type_id: int | None,
    trailer_type_id: int | None,
    freight: Decimal | None,
    is_hazmat: bool,
) -> _Row:
    delivery = pickup + timedelta(hours=max(2, transit_hours + rng.randrange(-2, 3)))
    actual: datetime | None = None
    roll = rng.random()
    if pickup >= now:
        # Not picked up yet: open, sometimes canceled, sometimes not yet rated.
        status = (
            ShipmentStatus.CANCELED if roll < 0.03 else ShipmentStatus.ASSIGNED if roll < 0.4 else ShipmentStatus.NEW
        )
        if status == ShipmentStatus.NEW and rng.random() < 0.2:
            freight = None
    elif delivery > now:
        status = ShipmentStatus.DELAYED if roll < 0.15 else ShipmentStatus.IN_TRANSIT
    elif roll < 0.04:
        status = ShipmentStatus.CANCELED
    else:
        # Older loads have been invoiced; recent ones are mostly delivered but not yet billed.
        billed_share = 0.85 if now - delivery > timedelta(days=10) else 0.3
        status = ShipmentStatus.BILLED if rng.random() < billed_share else ShipmentStatus.COMPLETED
        actual = delivery + timedelta(minutes=15 * rng.randrange(-8, 25))
    return _Row(
        pickup,
        delivery,
        actual,
        status,
        customer_id,
        origin_id,
        destination_id,
        service_type_id,
        shipment_type_id,
        tractor_type_id,
        trailer_type_id,
        freight,
        is_hazmat,
    )


def _insert_shipments(
    world: _World, prefix: str, rows: list[_Row], now: datetime, *, written: Callable[[int], None]
) -> None:
    """Insert, backdate and check the shipments a batch at a time, calling `written(n)` after each batch."""
    # PRO numbers follow pickup order, as if issued when each load was booked.
    rows.sort(key=lambda row: row.pickup)
    org_id = world.organization.pk
    business_unit_id = world.business_unit.pk
    booked = Least(F("planned_pickup_at") - timedelta(days=2), Value(now))
    touched = Least(Coalesce(F("actual_delivery_at"), F("planned_pickup_at") - timedelta(days=2)), Value(now))
    for start in range(0, len(rows), BULK_BATCH_SIZE):
        batch = rows[start : start + BULK_BATCH_SIZE]
        pro_numbers = [f"{prefix}{start + i + 1:07d}" for i in range(len(batch))]
        Shipment.objects.bulk_create(
            [
                Shipment(
                    organization_id=org_id,
                    business_unit_id=business_unit_id,
                    pro_number=pro_number,
                    status=row.status,
                    customer_id=row.customer_id,
                    origin_location_id=row.origin_id,
                    destination_location_id=row.destination_id,
                    service_type_id=row.service_type_id,
                    shipment_type_id=row.shipment_type_id,
                    tractor_type_id=row.tractor_type_id,
                    trailer_type_id=row.trailer_type_id,
                    planned_pickup_at=row.pickup,
                    planned_delivery_at=row.delivery,
                    actual_delivery_at=row.actual_delivery,
                    freight_charge_amount=row.freight,
                    is_hazmat=row.is_hazmat,
                )
                for pro_number, row in zip(pro_numbers, batch, strict=True)
            ],
            batch_size=BULK_BATCH_SIZE,
        )
        # bulk_create stamps created_at/updated_at with the wall clock; backdate them to the plan so that
        # the admin's date hierarchy and the detection's fallback business date look like real history.
        # Batch by batch rather than in one UPDATE at the end, so that the progress reported is the work.
        Shipment.objects.filter(organization_id=org_id, pro_number__in=pro_numbers).update(
            created_at=booked, updated_at=touched
        )
        _check_deferred_constraints()
        written(len(batch))


def _check_deferred_constraints() -> None:
    """Run the foreign key checks PostgreSQL has queued so far, instead of all of them at COMMIT.

    Shipments' foreign keys are DEFERRABLE INITIALLY DEFERRED: PostgreSQL queues one check per row and
    key and runs them at COMMIT, which on a large seed is a long silent wait after the last progress
    report (and a trigger queue that grows with the seed). SET CONSTRAINTS ALL IMMEDIATE runs them now.
    Elsewhere it is skipped: SQLite's check scans the whole table each time, and demo seeds there are small.
    """
    if connection.vendor == "postgresql":
        connection.check_constraints()


# --- Helpers ---------------------------------------------------------------------------------------


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _flush_order() -> list[type[models.Model]]:
    """Organization-scoped patterns models, leaves first; models added later go before the known ones."""
    known: list[type[models.Model]] = [
        Shipment,
        DedicatedLane,
        Membership,
        Customer,
        Location,
        ServiceType,
        ShipmentType,
        EquipmentType,
        Worker,
        PatternConfig,
        BusinessUnit,
    ]
    others = [
        model
        for model in apps.get_app_config("patterns").get_models()
        if model not in known and any(f.name == "organization" and f.is_relation for f in model._meta.fields)
    ]
    return others + known
