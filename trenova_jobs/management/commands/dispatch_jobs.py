"""Push job records still pending in the outbox (e.g. enqueued while Redis was down).

Usage:
    manage.py dispatch_jobs              # push what is pending, once
    manage.py dispatch_jobs --limit 100

Workers run the same sweep every TRENOVA_JOBS_MAINTENANCE_INTERVAL seconds; this is for operators
and cron. Running it twice at once is safe: each record is claimed before it is pushed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from trenova_jobs.outbox import dispatch_pending, lost_records_reset, redis_ping


class Command(BaseCommand):
    help = "Push pending job records to Redis."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--limit", type=int, default=None, help="Push at most this many records.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        if not redis_ping():
            raise CommandError("Redis is unreachable (REDIS_URL); pending jobs stay pending.")
        lost = lost_records_reset(limit=options["limit"])
        result = dispatch_pending(limit=options["limit"], min_age_seconds=0)
        failed = f"; {result.failed} could not be queued (failed)" if result.failed else ""
        found = f"{lost} lost job(s) found; " if lost else ""
        self.stdout.write(f"{found}Pushed {result.pushed} job(s); {result.still_pending} still pending{failed}.")
