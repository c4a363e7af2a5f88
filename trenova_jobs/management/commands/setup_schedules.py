"""Create the default recurring schedules (idempotent: existing ones, and admin edits to them, are kept).

Usage:
    manage.py setup_schedules            # create the missing defaults, report the rest
    manage.py setup_schedules --list     # show the defaults without creating anything
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from trenova_jobs.errors import UnknownJobTypeError
from trenova_jobs.models import Schedule
from trenova_jobs.registry import job_type_names
from trenova_jobs.schedules import ScheduleValidationError, schedule_create

# name, job type, payload, cron (UTC). Hourly jobs are spread over the hour.
DEFAULT_SCHEDULES: list[tuple[str, str, dict[str, Any], str]] = [
    ("Pattern analysis, daily (7 days)", "pattern:analyze_all", {"window_days": 7}, "0 2 * * *"),
    ("Pattern analysis, weekly (30 days)", "pattern:analyze_all", {"window_days": 30}, "0 1 * * 0"),
    ("Expire stale suggestions", "pattern:expire_suggestions", {}, "0 */6 * * *"),
    ("Mark overdue shipments delayed", "shipment:delay", {}, "*/5 * * * *"),
    ("Prune old job records", "system:prune_job_records", {}, "0 3 * * *"),
    ("Clean up temporary files", "system:cleanup_temp_files", {}, "15 * * * *"),
    ("Hazmat compliance check", "compliance:check", {}, "30 * * * *"),
]


class Command(BaseCommand):
    help = "Create the default recurring schedules that are missing (existing ones are left as they are)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--list", action="store_true", help="Show the defaults; create nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        existing = {schedule.name for schedule in Schedule.objects.select_related("cron_entry", "interval_entry")}
        registered = set(job_type_names())
        created = 0
        for name, job_type, payload, cron in DEFAULT_SCHEDULES:
            if options["list"]:
                self.stdout.write(f"{cron:<14} UTC  {job_type:<28} {name}")
                continue
            if name in existing:
                self.stdout.write(f"kept     {name}")
                continue
            if job_type not in registered:
                raise CommandError(str(UnknownJobTypeError(f"{name}: job type {job_type!r} is not registered.")))
            try:
                schedule_create(name=name, job_type=job_type, payload=payload, cron=cron)
            except ScheduleValidationError as exc:
                raise CommandError(f"{name}: {exc}") from None
            created += 1
            self.stdout.write(self.style.SUCCESS(f"created  {name}  ({cron} UTC, {job_type})"))
        if not options["list"]:
            self.stdout.write(f"{created} created, {len(DEFAULT_SCHEDULES) - created} already there.")
