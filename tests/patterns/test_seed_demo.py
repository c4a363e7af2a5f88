"""`manage.py seed_demo`: counts, determinism, refusal without --flush, recurring lanes, tenancy, progress bars."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q

from patterns.demo import (
    DEMO_SLUG_PREFIX,
    PHASE_MASTER_DATA,
    PHASE_PLANNING,
    PHASE_SHIPMENTS,
    SEED_PHASES,
    demo_seed,
)
from patterns.models import (
    BusinessUnit,
    Customer,
    EquipmentType,
    Location,
    Membership,
    Organization,
    PatternConfig,
    Shipment,
    ShipmentStatus,
    Worker,
)
from tests.patterns.factories import ShipmentFactory

pytestmark = pytest.mark.django_db

REFERENCE_DATE = "2025-03-15"
NOW = datetime(2025, 3, 15, tzinfo=UTC)
SMALL = ["--shipments", "500", "--customers", "10", "--reference-date", REFERENCE_DATE]


class TerminalIO(StringIO):
    """A captured stdout that says it is a terminal, as a developer's shell is."""

    def isatty(self) -> bool:
        return True


def seed(*args: str, stdout: StringIO | None = None) -> str:
    out = stdout or StringIO()
    call_command("seed_demo", *args, stdout=out, no_color=True)
    return out.getvalue()


BAR_LABELS = ("Master data", "Planning shipments", "Writing shipments")


def visible(output: str) -> str:
    """Terminal output without escape sequences (cursor moves, styles) and carriage returns."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output).replace("\r", "\n")


def summary(output: str) -> str:
    """The summary lines, with the wall-clock duration masked."""
    return re.sub(r" in \d+\.\ds$", " in <t>", output[output.index("Seeded demo data") :], flags=re.M)


def demo(queryset: Any) -> Any:
    return queryset.filter(organization__slug__startswith=DEMO_SLUG_PREFIX)


def snapshot() -> list[tuple[Any, ...]]:
    """The demo shipments by content: no primary keys, no wall-clock timestamps."""
    return sorted(
        demo(Shipment.objects).values_list(
            "organization__slug",
            "pro_number",
            "customer__code",
            "customer__name",
            "origin_location__code",
            "destination_location__code",
            "service_type__code",
            "shipment_type__code",
            "tractor_type__code",
            "trailer_type__code",
            "status",
            "planned_pickup_at",
            "planned_delivery_at",
            "actual_delivery_at",
            "freight_charge_amount",
            "is_hazmat",
            "created_at",
        )
    )


def counts() -> dict[str, int]:
    return {
        "organizations": Organization.objects.filter(slug__startswith=DEMO_SLUG_PREFIX).count(),
        "customers": demo(Customer.objects).count(),
        "locations": demo(Location.objects).count(),
        "shipments": demo(Shipment.objects).count(),
        "users": get_user_model().objects.count(),
    }


def test_seed_creates_the_requested_data() -> None:
    output = seed(*SMALL)

    orgs = Organization.objects.filter(slug__startswith=DEMO_SLUG_PREFIX)
    assert orgs.count() == 2
    assert demo(Customer.objects).count() == 10
    assert demo(Shipment.objects).count() == 500
    assert demo(Location.objects).count() == 100  # 50 facilities per organization
    assert BusinessUnit.objects.filter(organization__in=orgs).count() == 2
    assert PatternConfig.objects.filter(organization__in=orgs).count() == 2
    assert demo(Worker.objects).count() > 0
    for org in orgs:
        classes = set(EquipmentType.objects.filter(organization=org).values_list("equipment_class", flat=True))
        assert classes == {"Tractor", "Trailer"}
        assert Shipment.objects.filter(organization=org).count() == 250
        assert Customer.objects.filter(organization=org).count() == 5
    assert "shipments:       500" in output
    assert "recurring lanes:" in output


def test_seed_creates_the_demo_admin_with_a_membership_in_the_first_organization() -> None:
    output = seed(*SMALL)
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password("admin")
    assert admin.membership.organization.slug == "demo-midwest-freight"
    assert admin.membership.business_unit.organization == admin.membership.organization
    assert "admin / admin" in output

    # After a flush the existing admin is kept and attached to the new first organization.
    output = seed(*SMALL, "--flush")
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert Membership.objects.get(user__username="admin").organization.slug == "demo-midwest-freight"
    assert "admin / admin" not in output


def test_no_admin_option_skips_the_superuser() -> None:
    seed(*SMALL, "--no-admin")
    assert not get_user_model().objects.filter(username="admin").exists()


def test_same_seed_same_day_gives_the_same_content_and_another_seed_differs() -> None:
    seed(*SMALL)
    first = snapshot()
    assert len(first) == 500

    seed(*SMALL, "--flush")
    assert snapshot() == first

    seed(*SMALL, "--flush", "--seed", "43")
    assert snapshot() != first


def test_a_second_run_without_flush_is_refused_and_changes_nothing() -> None:
    seed(*SMALL)
    before, content = counts(), snapshot()

    with pytest.raises(CommandError, match="--flush"):
        seed(*SMALL, "--seed", "7", "--shipments", "900")

    assert counts() == before
    assert snapshot() == content


def test_flush_removes_only_demo_organizations() -> None:
    own = ShipmentFactory()
    seed(*SMALL)
    seed(*SMALL, "--flush", "--organizations", "1", "--customers", "3", "--shipments", "50")

    assert Organization.objects.filter(slug__startswith=DEMO_SLUG_PREFIX).count() == 1
    assert demo(Shipment.objects).count() == 50
    assert Shipment.objects.filter(pk=own.pk).exists()
    assert Customer.objects.filter(pk=own.customer_id).exists()


def test_recurring_lanes_are_planted() -> None:
    seed(*SMALL)
    lanes = (
        demo(Shipment.objects)
        .values("organization", "customer", "origin_location", "destination_location")
        .annotate(n=Count("id"), services=Count("service_type", distinct=True))
        .filter(n__gte=5)
    )
    assert lanes.count() >= 2
    # Recurring lanes keep their service and shipment type, like a standing order.
    assert any(lane["services"] == 1 for lane in lanes)

    # The headline lane: a weekly Chicago -> Dallas run for one customer of the first carrier.
    weekly = list(
        Shipment.objects.filter(
            organization__slug="demo-midwest-freight",
            origin_location__code="CHI-01",
            destination_location__code="DAL-01",
        )
        .order_by("planned_pickup_at")
        .values_list("customer", "planned_pickup_at")
    )
    assert len(weekly) >= 10
    assert len({customer for customer, _ in weekly}) == 1
    gaps = [b - a for (_, a), (_, b) in pairwise(weekly)]
    assert all(timedelta(days=6) <= gap <= timedelta(days=8) for gap in gaps)


def test_rows_are_consistent_and_stay_inside_their_organization() -> None:
    seed(*SMALL, "--organizations", "3", "--days", "60")
    shipments = demo(Shipment.objects)
    assert shipments.count() == 500

    assert not shipments.filter(origin_location=F("destination_location")).exists()
    assert not shipments.filter(planned_delivery_at__lt=F("planned_pickup_at")).exists()
    for relation in [
        "business_unit",
        "customer",
        "origin_location",
        "destination_location",
        "service_type",
        "shipment_type",
        "tractor_type",
        "trailer_type",
    ]:
        foreign = shipments.filter(**{f"{relation}__isnull": False}).exclude(
            **{f"{relation}__organization": F("organization")}
        )
        assert not foreign.exists(), relation
    assert not shipments.exclude(Q(tractor_type__isnull=True) | Q(tractor_type__equipment_class="Tractor")).exists()
    assert not shipments.exclude(Q(trailer_type__isnull=True) | Q(trailer_type__equipment_class="Trailer")).exists()

    # PRO numbers are unique per organization (the constraint) and distinct across them (the prefix).
    assert shipments.values("pro_number").distinct().count() == 500

    # History within --days, open loads at most two weeks ahead, and statuses that fit the dates.
    assert not shipments.filter(planned_pickup_at__lt=NOW - timedelta(days=60)).exists()
    assert not shipments.filter(planned_pickup_at__gt=NOW + timedelta(days=14)).exists()
    future = shipments.filter(planned_pickup_at__gte=NOW)
    assert future.exists()
    assert set(future.values_list("status", flat=True)) <= {"New", "Assigned", "Canceled"}
    delivered = shipments.filter(planned_delivery_at__lt=NOW)
    finished = delivered.filter(status__in=[ShipmentStatus.COMPLETED, ShipmentStatus.BILLED]).count()
    assert finished >= 0.8 * delivered.count()
    assert delivered.filter(status=ShipmentStatus.CANCELED).exists()
    assert not shipments.filter(status__in=["Completed", "Billed"], actual_delivery_at__isnull=True).exists()
    # Creation times are backdated before pickup and never in the future.
    assert not shipments.filter(created_at__gt=NOW).exists()
    assert not shipments.filter(created_at__gt=F("planned_pickup_at")).exists()


def test_default_reference_date_is_today() -> None:
    seed("--shipments", "20", "--customers", "2", "--no-admin")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    latest = demo(Shipment.objects).order_by("-planned_pickup_at").first()
    assert latest is not None
    assert latest.planned_pickup_at <= today + timedelta(days=15)
    assert latest.planned_pickup_at >= today - timedelta(days=120)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--organizations", "0"], "--organizations"),
        (["--organizations", "3", "--customers", "2"], "--customers"),
        (["--shipments", "-1"], "--shipments"),
        (["--days", "0"], "--days"),
    ],
)
def test_bad_arguments_are_clear_errors(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        seed(*args)
    assert not Organization.objects.filter(slug__startswith=DEMO_SLUG_PREFIX).exists()


def test_without_a_terminal_only_the_summary_is_printed() -> None:
    output = seed(*SMALL)
    assert output.splitlines()[0].startswith("Seeded demo data (seed 42, now 2025-03-15 00:00 UTC) in ")
    assert len(output.splitlines()) == 8  # headline, six counts, the demo superuser
    assert "\x1b" not in output and "Writing shipments" not in output


def test_progress_flag_shows_a_bar_per_phase_through_the_commands_stdout() -> None:
    output = visible(seed(*SMALL, "--progress"))
    lines = output.splitlines()
    # The bars are redrawn as the work goes on; the last drawing of each is the finished one.
    last = {label: max(i for i, line in enumerate(lines) if label in line) for label in BAR_LABELS}
    assert "2/2" in lines[last["Master data"]] and "100%" in lines[last["Master data"]]
    assert "500/500" in lines[last["Planning shipments"]]
    assert "500/500" in lines[last["Writing shipments"]] and "100%" in lines[last["Writing shipments"]]
    # An intermediate drawing shows the shipments half written (one organization of two done).
    assert any("Writing shipments" in line and "250/500" in line for line in lines)
    # The summary follows the bars, as without them.
    assert lines.index(next(line for line in lines if line.startswith("Seeded demo data"))) > max(last.values())
    assert "shipments:       500" in output


def test_a_terminal_gets_progress_unless_no_progress_and_then_prints_what_a_pipe_gets() -> None:
    on_terminal = visible(seed(*SMALL, "--organizations", "1", stdout=TerminalIO()))
    assert "Writing shipments" in on_terminal and "500/500" in on_terminal

    plain = seed(*SMALL, "--flush", "--no-admin")
    quiet = seed(*SMALL, "--flush", "--no-admin", "--no-progress", stdout=TerminalIO())
    assert "\x1b" not in quiet and "Writing shipments" not in quiet
    assert summary(quiet) == summary(plain)


def test_flush_shows_a_spinner_that_leaves_only_its_line() -> None:
    seed(*SMALL)
    output = seed(*SMALL, "--flush", "--progress")
    assert "Deleting the existing demo organizations" in visible(output)
    assert "Flushed 2 demo organization(s)." in output


def test_demo_seed_reports_every_phase_from_zero_to_its_total() -> None:
    reports: list[tuple[str, int, int]] = []
    demo_seed(
        seed=1,
        shipments=5000,
        customers=6,
        organizations=2,
        days=60,
        now=NOW,
        create_admin=False,
        progress=lambda phase, done, total: reports.append((phase, done, total)),
    )
    # Every phase is announced at 0 before any work, in order.
    assert reports[:3] == [(PHASE_MASTER_DATA, 0, 2), (PHASE_PLANNING, 0, 5000), (PHASE_SHIPMENTS, 0, 5000)]
    for phase in SEED_PHASES:
        done = [d for p, d, _ in reports if p == phase]
        assert done == sorted(done) and done[-1] == {PHASE_MASTER_DATA: 2}.get(phase, 5000)
    # Shipments are reported as each batch is written (2 000 rows at most): 2 x 2 500 rows is 4 batches.
    written = [d for p, d, _ in reports if p == PHASE_SHIPMENTS]
    assert written == [0, 2000, 2500, 4500, 5000]
    # Master data is done for every organization before the first shipment is planned.
    first_planned = next(i for i, (p, d, _) in enumerate(reports) if p == PHASE_PLANNING and d)
    assert (PHASE_MASTER_DATA, 2, 2) in reports[:first_planned]
    assert demo(Shipment.objects).count() == 5000
