"""Delayed shipments: the sweep that marks overdue shipments Delayed, and the delay notice for their owners.

The sweep (``shipment:delay`` without a shipment, on a schedule) marks Delayed every open, undelivered
shipment whose planned delivery has passed, in every organization, and asks for one notice job per changed
shipment that has an owner (``shipment:delay`` with the shipment), whose result is the notice text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from patterns.models import OVERDUE_CANDIDATES, Shipment, ShipmentStatus
from trenova_jobs import enqueue

logger = logging.getLogger("patterns")

DELAY_JOB_TYPE = "shipment:delay"
SWEEP_BATCH_SIZE = 500
PRO_NUMBERS_SHOWN = 10


def delay_notice_unique_key(shipment_id: int) -> str:
    """One pending delay notice per shipment: a sweep re-run while one waits folds into it."""
    return f"{DELAY_JOB_TYPE}:{shipment_id}"


@dataclass
class DelaySweepResult:
    delayed: int = 0
    notices: int = 0
    pro_numbers: list[str] = field(default_factory=list)  # the first PRO_NUMBERS_SHOWN marked Delayed

    @property
    def message(self) -> str:
        if not self.delayed:
            return "No shipments past planned delivery to mark Delayed"
        noun = "shipment" if self.delayed == 1 else "shipments"
        return (
            f"{self.delayed} {noun} marked Delayed (past planned delivery): {pro_list(self.pro_numbers, self.delayed)}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "delayed": self.delayed,
            "notices": self.notices,
            "pro_numbers": self.pro_numbers,
            "message": self.message,
        }


def pro_list(shown: list[str], total: int) -> str:
    """'PRO-1, PRO-2' or 'PRO-1, …, PRO-10 and 5 more'."""
    text = ", ".join(shown)
    return f"{text} and {total - len(shown)} more" if total > len(shown) else text


def shipments_delay_overdue(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH_SIZE) -> DelaySweepResult:
    """Mark Delayed the open shipments past their planned delivery with no actual delivery, in every organization.

    Each batch is one transaction: its rows are locked (``SKIP LOCKED``: a shipment being saved right now is
    left to the next sweep rather than waited for), changed with one UPDATE that repeats the eligibility
    condition, and each changed shipment with an owner gets one ``shipment:delay`` notice job (unique per
    shipment) written in the same transaction. Running it again changes nothing: Delayed rows are not
    eligible any more.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    now = now or timezone.now()
    eligible = Shipment.objects.filter(OVERDUE_CANDIDATES, planned_delivery_at__lt=now)
    result = DelaySweepResult()
    while True:
        with transaction.atomic():
            batch = list(
                eligible.order_by("planned_delivery_at", "pk")
                .select_for_update(skip_locked=True)
                .values("pk", "pro_number", "organization_id", "business_unit_id", "owner_id")[:batch_size]
            )
            if not batch:
                break
            # queryset.update() sends no save signals, so the status-change triggers (patterns.triggers) do not
            # fire: no shipment:status_update job. That is on purpose — the delay notice below is the owner's
            # notice of this transition, and firing both would tell the owner twice.
            # The rows are locked by this transaction and the UPDATE repeats the condition, so a concurrent
            # change (a delivery recorded, a cancellation) is never overwritten, and what it changes is `batch`.
            changed = Shipment.objects.filter(OVERDUE_CANDIDATES, pk__in=[row["pk"] for row in batch]).update(
                status=ShipmentStatus.DELAYED, updated_at=now
            )
            result.delayed += changed
            result.pro_numbers.extend(row["pro_number"] for row in batch[: PRO_NUMBERS_SHOWN - len(result.pro_numbers)])
            for row in batch:
                if row["owner_id"] is None:
                    continue
                record = enqueue(
                    DELAY_JOB_TYPE,
                    {"shipment_id": row["pk"], "organization_id": row["organization_id"]},
                    user=row["owner_id"],
                    organization_id=row["organization_id"],
                    business_unit_id=row["business_unit_id"],
                    unique_key=delay_notice_unique_key(row["pk"]),
                )
                if not record.deduplicated:
                    result.notices += 1
    if result.delayed:
        logger.info("event=shipments_delayed count=%s notices=%s", result.delayed, result.notices)
    return result


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def shipment_delay_notice(*, shipment: Shipment) -> str:
    """The delay notice for the shipment's owner, e.g.

    "Shipment PRO-1001 (Acme Foods, Dallas → Chicago) was due for delivery on 2026-12-01 17:00 UTC and is now
    Delayed."

    Worded from the shipment as it is when the notice runs: if it has moved on since the sweep (delivered,
    say), the notice says so rather than call it Delayed.
    """
    context = []
    if shipment.customer:
        context.append(shipment.customer.name)
    if shipment.origin_location and shipment.destination_location:
        context.append(f"{shipment.origin_location.city} → {shipment.destination_location.city}")
    about = f"Shipment {shipment.pro_number}" + (f" ({', '.join(context)})" if context else "")
    due = (
        f"was due for delivery on {_utc(shipment.planned_delivery_at)}"
        if shipment.planned_delivery_at
        else "is past its planned delivery"
    )
    if shipment.status == ShipmentStatus.DELAYED:
        return f"{about} {due} and is now Delayed."
    return f"{about} {due} and was marked Delayed; it is now {ShipmentStatus(shipment.status).label}."
