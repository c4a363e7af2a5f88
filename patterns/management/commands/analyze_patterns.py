"""Run pattern detection for an organization (or one customer) now, in this process, and print the lanes found.

Usage:
    manage.py analyze_patterns --org 3                      # the organization's configured window
    manage.py analyze_patterns --org 3 --customer 42        # one customer only
    manage.py analyze_patterns --org 3 --days 30            # the last 30 days (1 to 365)
    manage.py analyze_patterns --org 3 --min-frequency 5 --limit 100
    manage.py analyze_patterns --org 3 --no-progress        # plain output even on a terminal

Uses the organization's pattern configuration (defaults when it has none); --days and --min-frequency
override it for this run. Creates Pending suggestions exactly as the background job does (trigger reason
"command"), and runs even when detection is disabled for the organization. Prints progress, then a
table of the qualified lanes, best first, with each one's outcome (created, or why it was skipped).

On a terminal the progress is a spinner showing the detection's current step (finished steps stay above it
with their times) and the table is drawn with rich; elsewhere (pipes, CI, tests) the progress lines and the
table are plain text, as parsers expect. --progress forces the terminal form, --no-progress turns it off.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from patterns import selectors
from patterns.errors import AnalysisInputError
from patterns.lanes import LANE_TYPES, column
from patterns.management.terminal import add_progress_argument, progress_console, spinner_progress
from patterns.models import ANALYSIS_WINDOW_DAYS, MIN_FREQUENCY, TriggerReason
from patterns.services import AnalysisResult, analyze_patterns
from patterns.services.detection import CREATED, Progress

HEADER = ("#", "Customer", "Lane", "Types", "Shipments", "First", "Last", "Freight", "Score", "Outcome")
RIGHT = {0, 4, 7, 8}  # numbers


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
        add_progress_argument(parser)

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

        console = progress_console(self, options)
        scope = f", customer {customer_id}" if customer_id else ""
        self.stdout.write(f"Analysing {organization} (id {organization.pk}){scope}")
        try:
            with self._progress(console) as progress:
                result = analyze_patterns(
                    organization_id=organization.pk,
                    customer_id=customer_id,
                    start=timezone.now() - timedelta(days=days) if days else None,
                    min_frequency=min_frequency,
                    trigger_reason=TriggerReason.COMMAND,
                    progress=progress,
                )
        except AnalysisInputError as exc:
            raise CommandError(str(exc)) from exc
        limit = options["limit"]
        rows = self._rows(result, limit=limit)
        if not rows:
            self.stdout.write("No lane qualified.")
        else:
            if console is None:
                self._table(rows)
            else:
                self._table_on_terminal(console, rows)
            if len(result.lanes) > limit:
                self.stdout.write(f"… and {len(result.lanes) - limit} more (use --limit).")
        self._summary(result)

    @contextmanager
    def _progress(self, console: Console | None) -> Iterator[Progress]:
        """The detection's progress messages: plain lines, or on a terminal a spinner on the current step."""
        if console is None:
            yield lambda message: self.stdout.write(f"  … {message}")
            return
        with spinner_progress(console) as spinner:
            task = spinner.add_task("Analysing…", total=None)
            current: tuple[str, float] | None = None

            def finished(message: str, since: float) -> None:
                # A step's time runs until the next message: the time the detection spent on it.
                line = Text.assemble("  ✓ ", message, (f" ({time.monotonic() - since:.2f} s)", "dim"))
                spinner.console.print(line, soft_wrap=True)

            def step(message: str) -> None:
                nonlocal current, task
                previous, current = current, (message, time.monotonic())
                # A new task per step, so that the spinner's clock shows the time spent on this one.
                spinner.remove_task(task)
                task = spinner.add_task(message, total=None)
                if previous is not None:
                    finished(*previous)

            yield step
            if current is not None:
                finished(*current)

    def _table_on_terminal(self, console: Console, rows: list[tuple[str, ...]]) -> None:
        table = _rich_table(rows)
        # rich squeezes a table into a narrower terminal by cutting cells short ("SAT-01 → …"); rather than
        # hide codes and figures, print the plain table there and let the terminal wrap its lines.
        if console.measure(table, options=console.options.update_width(10_000)).maximum > console.width:
            self._table(rows)
            return
        console.print()
        console.print(table)

    def _rows(self, result: AnalysisResult, *, limit: int) -> list[tuple[str, ...]]:
        """The table's cells, best lane first (codes for the ids: one query per kind)."""
        lanes = result.lanes[:limit]
        if not lanes:
            return []
        codes = selectors.lane_codes(lanes=lanes)

        def code(name: str, pk: int | None) -> str:
            return "-" if pk is None else codes[name][pk]

        return [
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

    def _table(self, rows: list[tuple[str, ...]]) -> None:
        widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]

        def line(cells: tuple[str, ...]) -> str:
            padded = (
                c.rjust(w) if i in RIGHT else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            return "  ".join(padded)

        self.stdout.write("")
        self.stdout.write(line(HEADER).rstrip())
        self.stdout.write("  ".join("-" * w for w in widths))
        for row in rows:
            self.stdout.write(line(row).rstrip())

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


def _rich_table(rows: list[tuple[str, ...]]) -> Table:
    # As compact as the plain table: two spaces between columns, none at the edges.
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", padding=(0, 1, 0, 0), pad_edge=False, show_edge=False)
    for i, name in enumerate(HEADER):
        table.add_column(name, justify="right" if i in RIGHT else "left")
    created = CREATED.replace("_", " ")
    for row in rows:
        # Created lanes stand out; skipped ones (already covered, or rejected lately) are dimmed.
        table.add_row(*row, style=None if row[-1] == created else "dim")
    return table
