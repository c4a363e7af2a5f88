"""Asking for a pattern analysis in the background: the one way admin, API, commands, triggers and jobs enqueue it."""

from __future__ import annotations

from datetime import datetime, timedelta

from patterns.models import Membership, TriggerReason
from trenova_jobs import JobRecord, enqueue


def analysis_unique_key(organization_id: int, customer_id: int | None = None) -> str:
    """``pattern:analyze:{org}`` for a whole organization, ``pattern:analyze:{org}:{customer}`` for one customer.

    The same keys as the scheduled fan-out and the shipment triggers: a request for an analysis of the
    same scope that is already queued is folded into it.
    """
    if customer_id is None:
        return f"pattern:analyze:{organization_id}"
    return f"pattern:analyze:{organization_id}:{customer_id}"


def pattern_analysis_enqueue(
    *,
    organization_id: int,
    customer_id: int | None = None,
    user_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    min_frequency: int | None = None,
    trigger_reason: TriggerReason = TriggerReason.MANUAL,
    business_unit_id: int | None = None,
    delay: timedelta | None = None,
) -> JobRecord:
    """Enqueue ``pattern:analyze`` (after commit) for an organization or one of its customers.

    The job's business unit is the user's, when the user belongs to the organization; the user is
    notified of the outcome. Returns the job record, ``deduplicated`` when an analysis of the same scope
    was already queued. Raises ``trenova_jobs.errors.PayloadValidationError`` for bad arguments.
    """
    if business_unit_id is None and user_id is not None:
        business_unit_id = (
            Membership.objects.filter(user_id=user_id, organization_id=organization_id)
            .values_list("business_unit_id", flat=True)
            .first()
        )
    return enqueue(
        "pattern:analyze",
        {
            "organization_id": organization_id,
            "business_unit_id": business_unit_id,
            "user_id": user_id,
            "customer_id": customer_id,
            "start_date": start,
            "end_date": end,
            "min_frequency": min_frequency,
            "trigger_reason": trigger_reason,
        },
        delay=delay,
        unique_key=analysis_unique_key(organization_id, customer_id),
        user=user_id,
        organization_id=organization_id,
        business_unit_id=business_unit_id,
    )
