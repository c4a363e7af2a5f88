"""Run pattern detection for an organization (or one customer) now, in this process, and print the lanes found.

Usage:
    manage.py analyze_patterns --org 3                      # the organization's configured window
    manage.py analyze_patterns --org 3 --customer 42        # one customer only
    manage.py analyze_patterns --org 3 --days 30            # the last 30 days (1 to 365)
    manage.py analyze_patterns --org 3 --min-frequency 5 --limit 100

Uses the organization's pattern configuration (defaults when it has none); --days and --min-frequency
override it for this run. Creates Pending suggestions exactly as the background job does (trigger reason
"command"), and runs even when detection is disabled for the organization. Prints progress, then a
table of the qualified lanes, best first, with each one's outcome (created, or why it was skipped).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Model
from django.utils import timezone

from patterns.errors import AnalysisInputError
from patterns.models import Customer, EquipmentType, Location, Organization, ServiceType, ShipmentType
from patterns.services import AnalysisResult, analyze_patterns

TRIGGER_REASON = "command"


class Command(BaseCommand):
    help = "Run pattern detection synchronously for an organization or customer and print the qualified lanes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", type=int, required=True, metavar="ID", help="Organization id.")
        parser.add_argument("--customer", type=int, metavar="ID", help="Only this customer (of the organization).")
        parser.add_argument("--days", type=int, metavar="N", help="Look back N days (1–365; default: configured).")
        parser.add_argument("--min-frequency", type=int, metavar="N", help="Shipments a lane needs (1–100).")
        parser.add_argument("--limit", type=int, default=50, metavar="N", help="Rows of the table (default 50).")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(pk=options["org"]).first()
        if organization is None:
            raise CommandError(f"Organization {options['org']} does not exist.")
        customer_id = options["customer"]
        if customer_id is not None and not Customer.objects.filter(pk=customer_id, organization=organization).exists():
            raise CommandError(f"Customer {customer_id} does not exist in organization {organization.pk}.")
        days = options["days"]
        if days is not None and not 1 <= days <= 365:
            raise CommandError("--days must be between 1 and 365.")
        min_frequency = options["min_frequency"]
        if min_frequency is not None and not 1 <= min_frequency <= 100:
            raise CommandError("--min-frequency must be between 1 and 100.")
        if options["limit"] < 0:
            raise CommandError("--limit cannot be negative.")

        scope = f", customer {customer_id}" if customer_id else ""
        self.stdout.write(f"Analysing {organization} (id {organization.pk}){scope}")
        try:
            result = analyze_patterns(
                organization_id=organization.pk,
                customer_id=customer_id,
                start=timezone.now() - timedelta(days=days) if days else None,
                min_frequency=min_frequency,
                trigger_reason=TRIGGER_REASON,
                progress=lambda message: self.stdout.write(f"  … {message}"),
            )
        except AnalysisInputError as exc:
            raise CommandError(str(exc)) from exc
        self._table(result, limit=options["limit"])
        self._summary(result)

    def _table(self, result: AnalysisResult, *, limit: int) -> None:
        lanes = result.lanes[:limit]
        if not lanes:
            self.stdout.write("No lane qualified.")
            return
        stops = {lane.origin_location_id for lane in lanes} | {lane.destination_location_id for lane in lanes}
        codes = _codes(
            [
                (Customer, {lane.customer_id for lane in lanes}),
                (Location, stops),
                (ServiceType, {lane.service_type_id for lane in lanes}),
                (ShipmentType, {lane.shipment_type_id for lane in lanes}),
                (EquipmentType, {lane.tractor_type_id for lane in lanes} | {lane.trailer_type_id for lane in lanes}),
            ]
        )
        header = ("#", "Customer", "Lane", "Types", "Shipments", "First", "Last", "Freight", "Score", "Outcome")
        rows = [
            (
                str(rank),
                codes[Customer][lane.customer_id],
                f"{codes[Location][lane.origin_location_id]} → {codes[Location][lane.destination_location_id]}",
                "/".join(
                    [
                        codes[ServiceType][lane.service_type_id],
                        codes[ShipmentType][lane.shipment_type_id],
                        codes[EquipmentType].get(lane.tractor_type_id, "-"),
                        codes[EquipmentType].get(lane.trailer_type_id, "-"),
                    ]
                ),
                str(lane.frequency),
                f"{lane.first_shipment_date:%Y-%m-%d}",
                f"{lane.last_shipment_date:%Y-%m-%d}",
                f"{lane.total_freight_charge:,.2f}",
                f"{lane.confidence_score:.4f}",
                lane.outcome.replace("_", " "),
            )
            for rank, lane in enumerate(lanes, start=1)
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        right = {0, 4, 7, 8}  # numbers

        def line(cells: tuple[str, ...]) -> str:
            padded = (
                c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            return "  ".join(padded)

        self.stdout.write("")
        self.stdout.write(line(header).rstrip())
        self.stdout.write("  ".join("-" * w for w in widths))
        for row in rows:
            self.stdout.write(line(row).rstrip())
        if len(result.lanes) > limit:
            self.stdout.write(f"… and {len(result.lanes) - limit} more (use --limit).")

    def _summary(self, result: AnalysisResult) -> None:
        skipped = ", ".join(f"{count} {reason.replace('_', ' ')}" for reason, count in result.skipped.items())
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.lanes_examined} lanes examined, {result.lanes_qualified} qualified, "
                f"{result.suggestions_created} suggestions created (skipped: {skipped}) "
                f"in {result.duration_ms} ms; window {result.window_start:%Y-%m-%d %H:%M} – "
                f"{result.window_end:%Y-%m-%d %H:%M} UTC."
            )
        )


def _codes(wanted: list[tuple[type[Model], set[int | None]]]) -> dict[type[Model], dict[int, str]]:
    """Codes by id for each model, one query per model."""
    return {
        model: dict(model._default_manager.filter(pk__in={i for i in ids if i}).values_list("pk", "code"))
        for model, ids in wanted
    }
