"""Unique keys held by committed, delayed jobs, remembered in process memory until just before they are due.

A burst of triggers for one key (200 shipment saves, one delayed analysis) is then answered without a
database round trip after the first. See docs/decisions.md ("Delayed unique holds are remembered").
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from django.utils import timezone

from trenova_jobs.models import JobRecord, JobStatus


class DelayedHolds:
    """Unique keys held by committed, delayed jobs, remembered by this process until just before they are due.

    A delayed job cannot start, and so cannot release its key, before it is due; only cancelling it can.
    So a burst of triggers for one key (200 shipment saves, one delayed analysis) is answered from memory
    after the first, with no database round trip on the save's hot path. Entries are added only after
    commit (a rolled-back job is never remembered) and dropped when this process cancels the job.
    """

    MARGIN = timedelta(seconds=1)
    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._holds: dict[str, tuple[JobRecord, datetime]] = {}

    def get(self, key: str, now: datetime) -> JobRecord | None:
        entry = self._holds.get(key)
        if entry is None:
            return None
        record, until = entry
        if now >= until:
            self._holds.pop(key, None)
            return None
        held = copy.copy(record)
        held.deduplicated = True
        return held

    def remember(self, record: JobRecord) -> None:
        if not (record.unique_lock and record.scheduled_for and record.status == JobStatus.SCHEDULED):
            return
        until = min(record.scheduled_for, record.unique_until or record.scheduled_for) - self.MARGIN
        if len(self._holds) >= self.MAX_ENTRIES:
            now = timezone.now()
            self._holds = {k: v for k, v in self._holds.items() if v[1] > now}
            if len(self._holds) >= self.MAX_ENTRIES:
                return
        self._holds[record.unique_lock] = (copy.copy(record), until)

    def forget(self, key: str) -> None:
        self._holds.pop(key, None)

    def clear(self) -> None:
        self._holds = {}


delayed_holds = DelayedHolds()


def delayed_holds_clear() -> None:
    """Forget the remembered holds of this process (tests, and after deleting job records by hand)."""
    delayed_holds.clear()
