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
from django.utils import timezone

from patterns import selectors
from patterns.errors import AnalysisInputError
from patterns.lanes import LANE_TYPES, column
from patterns.models import ANALYSIS_WINDOW_DAYS, MIN_FREQUENCY, TriggerReason
from patterns.services import AnalysisResult, analyze_patterns


class Command(BaseCommand):
    help = "Run pattern detection synchronously for an organization or customer and print the qualified lanes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", type=int, required=True, metavar="ID", help="Organization id.")
        parser.add_argument("--customer", type=int, metavar="ID", help="Only this customer (of the organization).")
        parser.add_argument(
            "--days", type=int, metavar="N", help=f"Look back N days ({ANALYSIS_WINDOW_DAYS}; default: configured)."
        )
        parser.add_argument("--min-frequency", type=int, metavar="N", help=f"Shipments a lane needs ({MIN_FREQUENCY}).")
        parser.add_argument("--limit", type=int, default=50, metavar="N", help="Rows of the table (default 50).")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = selectors.organization_get(organization_id=options["org"])
        if organization is None:
            raise CommandError(f"Organization {options['org']} does not exist.")
        customer_id = options["customer"]
        if customer_id is not None and not selectors.customer_exists(
            organization_id=organization.pk, customer_id=customer_id
        ):
            raise CommandError(f"Customer {customer_id} does not exist in organization {organization.pk}.")
        days = options["days"]
        if days is not None and days not in ANALYSIS_WINDOW_DAYS:
            raise CommandError(f"--days must be {ANALYSIS_WINDOW_DAYS.between()}.")
        min_frequency = options["min_frequency"]
        if min_frequency is not None and min_frequency not in MIN_FREQUENCY:
            raise CommandError(f"--min-frequency must be {MIN_FREQUENCY.between()}.")
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
                trigger_reason=TriggerReason.COMMAND,
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
        codes = selectors.lane_codes(lanes=lanes)

        def code(name: str, pk: int | None) -> str:
            return "-" if pk is None else codes[name][pk]

        header = ("#", "Customer", "Lane", "Types", "Shipments", "First", "Last", "Freight", "Score", "Outcome")
        rows = [
            (
                str(rank),
                code("customer", lane.customer_id),
                f"{code('origin_location', lane.origin_location_id)} → "
                f"{code('destination_location', lane.destination_location_id)}",
                "/".join(code(name, getattr(lane, column(name))) for name in LANE_TYPES),
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
