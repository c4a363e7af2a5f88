"""Shipment triggers: which background jobs a committed shipment change asks for.

A new shipment, and a shipment that reaches Completed, ask for an analysis of its customer's lanes
(run after a short delay; a request while one is still queued folds into it); any status change asks
for a notice to the shipment's owner (``shipment:status_update``).

Receivers in ``patterns.signals`` call ``shipment_saved``; bulk imports, which skip signals, call
``shipments_bulk_import``. Jobs go through ``trenova_jobs.enqueue``, so they are written in the
caller's transaction and pushed to Redis after commit: a rollback leaves no job, and a Redis outage
leaves a pending record that the dispatcher pushes later. Only a database error fails the save.

``Model.save()`` drops what its signals' receivers return, so a caller that needs the jobs a save asked
for (the API answers with their ids) saves inside ``shipment_trigger_jobs()``, which collects them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from patterns.models import Shipment, ShipmentStatus, TriggerReason
from patterns.services import pattern_analysis_enqueue
from trenova_jobs import JobRecord, enqueue

logger = logging.getLogger("patterns")

ANALYSIS_WINDOW = timedelta(days=60)
CREATED_DELAY = timedelta(seconds=30)
COMPLETED_DELAY = timedelta(seconds=60)

# The innermost open shipment_trigger_jobs() block's list, if any (per thread and task: a context variable).
_collected_jobs: ContextVar[list[JobRecord] | None] = ContextVar("patterns_shipment_trigger_jobs", default=None)


@contextmanager
def shipment_trigger_jobs() -> Iterator[list[JobRecord]]:
    """Collect the job records that shipment saves inside the block ask for, in order.

    Deduplicated records (an analysis already queued) are included, marked ``deduplicated``. Nested blocks:
    the innermost one collects.
    """
    jobs: list[JobRecord] = []
    token = _collected_jobs.set(jobs)
    try:
        yield jobs
    finally:
        _collected_jobs.reset(token)


def _customer_analysis_enqueue(*, shipment: Shipment, trigger_reason: TriggerReason, delay: timedelta) -> JobRecord:
    """One analysis of the shipment's customer over the last 60 days; merges with one already queued."""
    return pattern_analysis_enqueue(
        organization_id=shipment.organization_id,
        business_unit_id=shipment.business_unit_id,
        customer_id=shipment.customer_id,
        user_id=shipment.owner_id,
        start=timezone.now() - ANALYSIS_WINDOW,
        trigger_reason=trigger_reason,
        delay=delay,
    )


def shipment_saved(*, shipment: Shipment, created: bool, old_status: str | None) -> list[JobRecord]:
    """Enqueue the jobs a shipment save calls for.

    A bug in one trigger (a payload that does not validate, say) is logged and never fails the save, nor
    stops the other trigger. A database error is different: it leaves the save's own transaction unable
    to commit, and swallowing it would make the save roll back without a word. It propagates, so the
    save fails visibly and no committed shipment is left without its jobs.
    """
    jobs: list[JobRecord] = []
    status_changed = not created and old_status is not None and old_status != shipment.status
    # No savepoint of our own (two round trips on every save): enqueue() writes nothing before it has
    # validated everything, and takes a savepoint itself where an insert may collide (unique keys).
    if shipment.customer_id and (created or (status_changed and shipment.status == ShipmentStatus.COMPLETED)):
        with _trigger_guard(shipment, "pattern:analyze"):
            jobs.append(
                _customer_analysis_enqueue(
                    shipment=shipment,
                    trigger_reason=TriggerReason.SHIPMENT_CREATED if created else TriggerReason.SHIPMENT_COMPLETED,
                    delay=CREATED_DELAY if created else COMPLETED_DELAY,
                )
            )
    if status_changed:
        with _trigger_guard(shipment, "shipment:status_update"):
            jobs.append(
                enqueue(
                    "shipment:status_update",
                    {
                        "shipment_id": shipment.pk,
                        "organization_id": shipment.organization_id,
                        "old_status": old_status,
                        "new_status": shipment.status,
                    },
                    user=shipment.owner_id,
                    organization_id=shipment.organization_id,
                    business_unit_id=shipment.business_unit_id,
                )
            )
    collected = _collected_jobs.get()
    if collected is not None:
        collected.extend(jobs)
    return jobs


@contextmanager
def _trigger_guard(shipment: Shipment, job_type: str) -> Iterator[None]:
    try:
        yield
    except DatabaseError:
        raise
    except Exception:
        logger.exception("event=trigger_failed shipment_id=%s job_type=%s", shipment.pk, job_type)


@dataclass(frozen=True)
class BulkImportResult:
    shipments: int
    analysis_jobs: list[JobRecord]


def shipments_bulk_import(*, shipments: Iterable[Shipment], batch_size: int = 1000) -> BulkImportResult:
    """Insert many shipments at once and ask for one analysis per affected customer.

    ``bulk_create`` sends no signals, so the per-save triggers do not fire; this function is their
    bulk counterpart (status-change notices do not apply to new rows).
    """
    rows = list(shipments)
    with transaction.atomic():
        Shipment.objects.bulk_create(rows, batch_size=batch_size)
        # One analysis per (organization, customer), for the first of its shipments in the import.
        firsts: dict[tuple[int, int], Shipment] = {}
        for shipment in rows:
            if shipment.customer_id:
                firsts.setdefault((shipment.organization_id, shipment.customer_id), shipment)
        jobs = [
            _customer_analysis_enqueue(shipment=shipment, trigger_reason=TriggerReason.BULK_IMPORT, delay=CREATED_DELAY)
            for _, shipment in sorted(firsts.items(), key=lambda item: item[0])
        ]
    return BulkImportResult(shipments=len(rows), analysis_jobs=jobs)
