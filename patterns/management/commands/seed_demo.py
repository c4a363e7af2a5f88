"""Seed realistic, deterministic demo data: carriers, customers, locations and shipments with recurring lanes.

Usage:
    manage.py seed_demo                       # 2 organizations, 30 customers, 5 000 shipments, 120 days
    manage.py seed_demo --seed 7 --shipments 100000 --customers 200 --organizations 3
    manage.py seed_demo --flush               # replace existing demo data
    manage.py seed_demo --reference-date 2025-01-31   # pin "now" for reproducible data on any day
    manage.py seed_demo --no-progress         # no progress bars even on a terminal

On a terminal the command shows a progress bar per phase (master data, planning the shipments,
writing them batch by batch) and a spinner while --flush deletes; elsewhere (pipes, CI, tests) it prints
only the summary below. --progress forces the bars, --no-progress turns them off.

`--shipments` and `--customers` are totals, split evenly over the organizations. About a third of
the customers run recurring lanes (weekly, every 3-4 days or fortnightly, same stops, types and
similar charges); the rest of the shipments are one-off noise on random lanes.

Deterministic: the data depends only on the arguments and the reference "now", which is today's
midnight UTC unless --reference-date is given. The same seed on the same day gives the same content
(compare by content: primary keys and master data timestamps differ between runs).

Demo organizations have slugs starting with `demo-`. If any exist the command refuses; --flush
deletes them (and only them) first. A superuser admin/admin with a membership in the first
organization is created when no user `admin` exists (skip with --no-admin); it is for local demos.

Shipments are written with bulk_create, which bypasses model signals: seeding enqueues no pattern
analysis jobs. Run `manage.py analyze_patterns` (or wait for the schedule) afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from patterns.demo import (
    DEMO_ADMIN_PASSWORD,
    DEMO_ADMIN_USERNAME,
    SEED_PHASES,
    DemoDataExistsError,
    SeedProgress,
    demo_flush,
    demo_seed,
)
from patterns.management.terminal import add_progress_argument, bar_progress, progress_console, spinner_progress


class Command(BaseCommand):
    help = "Create deterministic demo organizations, master data and shipments with recurring lanes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument("--shipments", type=int, default=5000, help="Total shipments (default 5000).")
        parser.add_argument("--customers", type=int, default=30, help="Total customers (default 30).")
        parser.add_argument("--organizations", type=int, default=2, help="Demo organizations (default 2).")
        parser.add_argument("--days", type=int, default=120, help="Days of shipment history (default 120).")
        parser.add_argument(
            "--reference-date",
            type=date.fromisoformat,
            default=None,
            help="Treat midnight UTC of this YYYY-MM-DD as 'now' (default: today).",
        )
        parser.add_argument("--flush", action="store_true", help="Delete existing demo organizations first.")
        parser.add_argument("--no-admin", action="store_true", help="Do not create the admin/admin superuser.")
        add_progress_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["organizations"] < 1:
            raise CommandError("--organizations must be at least 1.")
        if options["customers"] < options["organizations"]:
            raise CommandError("--customers must be at least --organizations (every organization needs one).")
        if options["shipments"] < 0:
            raise CommandError("--shipments cannot be negative.")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")

        day = options["reference_date"] or datetime.now(UTC).date()
        now = datetime(day.year, day.month, day.day, tzinfo=UTC)
        started = time.monotonic()
        console = progress_console(self, options)

        if options["flush"]:
            with _flush_spinner(console):
                removed = demo_flush()
            self.stdout.write(f"Flushed {removed} demo organization(s).")
        try:
            with _seed_bars(console) as progress:
                summary = demo_seed(
                    seed=options["seed"],
                    shipments=options["shipments"],
                    customers=options["customers"],
                    organizations=options["organizations"],
                    days=options["days"],
                    now=now,
                    create_admin=not options["no_admin"],
                    progress=progress,
                )
        except DemoDataExistsError:
            raise CommandError(
                "Demo data already exists (organizations with a 'demo-' slug). "
                "Run again with --flush to delete it and seed afresh."
            ) from None

        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded demo data (seed {options['seed']}, now {now:%Y-%m-%d %H:%M} UTC) in {elapsed:.1f}s"
            )
        )
        self.stdout.write(f"  organizations:   {len(summary.organizations)} ({', '.join(summary.organizations)})")
        self.stdout.write(f"  customers:       {summary.customers}")
        self.stdout.write(f"  locations:       {summary.locations}")
        self.stdout.write(f"  drivers:         {summary.workers}")
        self.stdout.write(f"  shipments:       {summary.shipments}")
        self.stdout.write(
            f"  recurring lanes: {summary.recurring_lanes} ({summary.recurring_shipments} shipments on them)"
        )
        if summary.admin_created:
            self.stdout.write(
                self.style.WARNING(
                    f"  demo superuser:  {DEMO_ADMIN_USERNAME} / {DEMO_ADMIN_PASSWORD} (local demos only)"
                )
            )


@contextmanager
def _flush_spinner(console: Console | None) -> Iterator[None]:
    if console is None:
        yield
        return
    with spinner_progress(console) as spinner:
        spinner.add_task("Deleting the existing demo organizations…", total=None)
        yield


@contextmanager
def _seed_bars(console: Console | None) -> Iterator[SeedProgress | None]:
    """One bar per seed phase, all shown from the start (demo_seed reports each phase at 0 first)."""
    if console is None:
        yield None
        return
    with bar_progress(console) as bars:
        tasks = {phase: bars.add_task(phase.capitalize(), total=None, start=False) for phase in SEED_PHASES}
        started: set[str] = set()

        def report(phase: str, done: int, total: int) -> None:
            if done and phase not in started:
                started.add(phase)
                bars.start_task(tasks[phase])  # elapsed time counts from the phase's first progress
            # Drawn on every report (one per batch of rows written, one per 10 000 planned), not only on
            # rich's timer, so that each batch shows up even when it is quicker than a tick.
            bars.update(tasks[phase], completed=done, total=total, refresh=True)

        yield report
