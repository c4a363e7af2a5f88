"""The end of the demo: analyse every demo organization through the job service and a real worker.

Usage:
    manage.py demo_analyze              # last 120 days (the span seed_demo fills)
    manage.py demo_analyze --days 60

Enqueues one ``pattern:analyze`` per demo organization (trigger reason "command"), starts
``manage.py rqworker --burst`` in a child process, waits for the jobs' records to finish, and prints each
job's outcome and the organization's best Pending suggestions.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from patterns.demo import DEMO_SLUG_PREFIX
from patterns.models import ANALYSIS_WINDOW_DAYS, Organization, SuggestionStatus, TriggerReason
from patterns.selectors import suggestion_list
from patterns.services import pattern_analysis_enqueue
from trenova_jobs import JobRecord, redis_ping

WAIT_SECONDS = 300


class Command(BaseCommand):
    help = "Analyse the demo organizations through a real worker and print the suggestions found."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=120, help=f"Look back N days ({ANALYSIS_WINDOW_DAYS}, default 120)."
        )
        parser.add_argument("--top", type=int, default=8, help="Suggestions to show per organization.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] not in ANALYSIS_WINDOW_DAYS:
            raise CommandError(f"--days must be {ANALYSIS_WINDOW_DAYS.between()}.")
        organizations = list(Organization.objects.filter(slug__startswith=DEMO_SLUG_PREFIX).order_by("pk"))
        if not organizations:
            raise CommandError("No demo data: run `manage.py seed_demo` first.")
        if not redis_ping():
            raise CommandError("Redis is unreachable (REDIS_URL): the worker needs it.")

        start = timezone.now() - timedelta(days=options["days"])
        jobs = [
            pattern_analysis_enqueue(organization_id=org.pk, start=start, trigger_reason=TriggerReason.COMMAND)
            for org in organizations
        ]
        for org, job in zip(organizations, jobs, strict=True):
            self.stdout.write(f"Enqueued {job.job_type} {job.id} for {org}")

        self.stdout.write("Starting a worker (manage.py rqworker --burst)…")
        started = time.monotonic()
        worker = subprocess.run(
            [sys.executable, "manage.py", "rqworker", "--burst", "--logging-level", "WARNING"],
            cwd=settings.BASE_DIR,
            timeout=WAIT_SECONDS,
        )
        if worker.returncode != 0:
            raise CommandError(f"The worker exited with status {worker.returncode}.")
        self.stdout.write(f"Worker finished in {time.monotonic() - started:.1f}s\n")

        for org, job in zip(organizations, jobs, strict=True):
            self._report(org, JobRecord.objects.get(pk=job.pk), options["top"])

    def _report(self, org: Organization, job: JobRecord, top: int) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"{org} — job {job.id}: {job.status}, attempt {job.attempts}"))
        if job.status != "succeeded":
            self.stdout.write(self.style.ERROR(f"  {job.error or 'did not finish'}"))
            return
        result = job.result or {}
        self.stdout.write(
            f"  {result.get('lanes_examined', '?')} lanes examined, {result.get('lanes_qualified', '?')} qualified, "
            f"{result.get('suggestions_created', '?')} suggestions created in {result.get('duration_ms', '?')} ms"
        )
        suggestions = suggestion_list(organization_id=org.pk, status=SuggestionStatus.PENDING)[:top]
        if not suggestions:
            self.stdout.write("  No pending suggestions.")
            return
        self.stdout.write(f"  {'score':>6}  {'runs':>4}  {'customer':<28} lane")
        for s in suggestions:
            self.stdout.write(
                f"  {s.confidence_score:>6}  {s.frequency:>4}  {s.customer.name[:28]:<28} "
                f"{s.origin_location.city}, {s.origin_location.state} → "
                f"{s.destination_location.city}, {s.destination_location.state}  ({s.suggested_name})"
            )
        self.stdout.write("")
