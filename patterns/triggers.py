"""Shipment triggers: which background jobs a committed shipment change asks for (SPEC §6).

Receivers in ``patterns.signals`` call ``shipment_saved``; bulk imports, which skip signals, call
``shipments_bulk_import``. Jobs go through ``trenova_jobs.services.enqueue``, so they are written in the
caller's transaction and pushed to Redis after commit: a rollback leaves no job, and a Redis outage
leaves a pending record that the dispatcher pushes later. A trigger never fails the save.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from patterns.models import Shipment, ShipmentStatus
from trenova_jobs.models import JobRecord
from trenova_jobs.services import enqueue

logger = logging.getLogger("patterns")

ANALYSIS_WINDOW = timedelta(days=60)
CREATED_DELAY = timedelta(seconds=30)
COMPLETED_DELAY = timedelta(seconds=60)
ANALYSIS_UNIQUE_TTL = 3600


def analysis_unique_key(organization_id: int, customer_id: int) -> str:
    return f"pattern:analyze:{organization_id}:{customer_id}"


def customer_analysis_enqueue(
    *,
    organization_id: int,
    business_unit_id: int | None,
    customer_id: int,
    user_id: int | None,
    trigger_reason: str,
    delay: timedelta,
) -> JobRecord:
    """Ask for one pattern analysis of a customer's last 60 days; merges with one already pending."""
    return enqueue(
        "pattern:analyze",
        {
            "organization_id": organization_id,
            "business_unit_id": business_unit_id,
            "user_id": user_id,
            "customer_id": customer_id,
            "start_date": timezone.now() - ANALYSIS_WINDOW,
            "trigger_reason": trigger_reason,
        },
        delay=delay,
        unique_key=analysis_unique_key(organization_id, customer_id),
        unique_ttl=ANALYSIS_UNIQUE_TTL,
        user=user_id,
        organization_id=organization_id,
        business_unit_id=business_unit_id,
    )


def shipment_saved(*, shipment: Shipment, created: bool, old_status: str | None) -> list[JobRecord]:
    """Enqueue the jobs a shipment save calls for. Errors are logged, never raised into the save."""
    jobs: list[JobRecord] = []
    status_changed = not created and old_status is not None and old_status != shipment.status
    try:
        # A savepoint: whatever goes wrong here must not poison the caller's transaction.
        with transaction.atomic():
            if shipment.customer_id and (created or (status_changed and shipment.status == ShipmentStatus.COMPLETED)):
                jobs.append(
                    customer_analysis_enqueue(
                        organization_id=shipment.organization_id,
                        business_unit_id=shipment.business_unit_id,
                        customer_id=shipment.customer_id,
                        user_id=shipment.owner_id,
                        trigger_reason="shipment_created" if created else "shipment_completed",
                        delay=CREATED_DELAY if created else COMPLETED_DELAY,
                    )
                )
            if status_changed:
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
    except Exception:
        logger.exception("event=trigger_failed shipment_id=%s", shipment.pk)
        return []
    return jobs


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
        customers = sorted(
            {(s.organization_id, s.business_unit_id, s.customer_id, s.owner_id) for s in rows if s.customer_id},
        )
        seen: set[tuple[int, int]] = set()
        jobs = []
        for organization_id, business_unit_id, customer_id, owner_id in customers:
            if (organization_id, customer_id) in seen:
                continue
            seen.add((organization_id, customer_id))
            jobs.append(
                customer_analysis_enqueue(
                    organization_id=organization_id,
                    business_unit_id=business_unit_id,
                    customer_id=customer_id,
                    user_id=owner_id,
                    trigger_reason="bulk_import",
                    delay=CREATED_DELAY,
                )
            )
    return BulkImportResult(shipments=len(rows), analysis_jobs=jobs)
