"""Job types of pattern detection: analyse one organization, fan out to all, expire old suggestions.

Registered with ``trenova_jobs`` (its app config imports every app's ``jobs`` module). Handlers take ids
and plain values, fetch what they need and call one service; they are safe to run twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from pydantic import Field, model_validator

from patterns.errors import AnalysisInputError
from patterns.models import Organization, Shipment, ShipmentStatus
from patterns.services import analysis_unique_key, analyze_patterns, suggestions_expire
from trenova_jobs import EmptyPayload, JobContext, JobPayload, NonRetryableError, enqueue, job_type

SCHEDULED_TRIGGER_REASON = "scheduled"


class PatternAnalyzePayload(JobPayload):
    organization_id: int
    business_unit_id: int | None
    user_id: int | None
    customer_id: int | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    min_frequency: int | None = Field(default=None, ge=1, le=100)
    trigger_reason: str = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _window_is_sane(self) -> PatternAnalyzePayload:
        for name in ("start_date", "end_date"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must include a time zone offset")
        if self.start_date and self.end_date and self.start_date >= self.end_date:
            raise ValueError("start_date must be before end_date")
        return self


class PatternAnalyzeAllPayload(JobPayload):
    window_days: int = Field(default=7, ge=1, le=365)


@job_type("pattern:analyze", payload=PatternAnalyzePayload, queue="pattern", max_retries=2)
def handle_pattern_analyze(payload: PatternAnalyzePayload, ctx: JobContext) -> dict[str, Any]:
    """Detect recurring lanes for one organization (optionally one customer) and suggest dedicated lanes."""
    try:
        result = analyze_patterns(
            organization_id=payload.organization_id,
            customer_id=payload.customer_id,
            start=payload.start_date,
            end=payload.end_date,
            min_frequency=payload.min_frequency,
            trigger_reason=payload.trigger_reason,
            job_id=ctx.job_id,
        )
    except AnalysisInputError as exc:
        # The organization or customer is gone, or the window is impossible: retrying cannot help.
        raise NonRetryableError(str(exc)) from exc
    return result.as_json()


@job_type("pattern:analyze_all", payload=PatternAnalyzeAllPayload, queue="pattern", max_retries=2)
def handle_pattern_analyze_all(payload: PatternAnalyzeAllPayload, ctx: JobContext) -> dict[str, Any]:
    """Enqueue one pattern:analyze per organization with detection enabled, over the last N days."""
    start = timezone.now() - timedelta(days=payload.window_days)
    organizations = Organization.objects.exclude(pattern_config__enabled=False).order_by("pk")
    jobs = []
    for organization in organizations.only("pk"):
        # A retry of this job re-enqueues: the unique key folds it into the analyses still queued.
        jobs.append(
            enqueue(
                "pattern:analyze",
                PatternAnalyzePayload(
                    organization_id=organization.pk,
                    business_unit_id=None,
                    user_id=None,
                    start_date=start,
                    trigger_reason=SCHEDULED_TRIGGER_REASON,
                ),
                unique_key=analysis_unique_key(organization.pk),
                organization_id=organization.pk,
            )
        )
    return {
        "window_days": payload.window_days,
        "organizations": len(jobs),
        "job_ids": [job.id for job in jobs],
        "deduplicated": sum(1 for job in jobs if getattr(job, "deduplicated", False)),
    }


@job_type("pattern:expire_suggestions", payload=EmptyPayload, queue="system", max_retries=2)
def handle_pattern_expire_suggestions(payload: EmptyPayload, ctx: JobContext) -> dict[str, int]:
    """Mark Expired the Pending suggestions past their expiry date, in every organization."""
    return {"expired": suggestions_expire()}


class ShipmentStatusUpdatePayload(JobPayload):
    shipment_id: int
    organization_id: int
    old_status: ShipmentStatus
    new_status: ShipmentStatus


@job_type("shipment:status_update", payload=ShipmentStatusUpdatePayload, queue="critical", max_retries=5)
def handle_shipment_status_update(payload: ShipmentStatusUpdatePayload, ctx: JobContext) -> dict[str, Any]:
    """Compose the status-change notice for the shipment's owner (the job's user).

    The notice itself reaches the owner through the job_succeeded signal, which the notifications app
    turns into a notification; this handler only checks the shipment and words the message.
    """
    shipment = (
        Shipment.objects.filter(pk=payload.shipment_id, organization_id=payload.organization_id)
        .only("pro_number", "status")
        .first()
    )
    if shipment is None:
        raise NonRetryableError(
            f"Shipment {payload.shipment_id} no longer exists in organization {payload.organization_id}."
        )
    old, new = ShipmentStatus(payload.old_status).label, ShipmentStatus(payload.new_status).label
    return {
        "shipment_id": shipment.pk,
        "pro_number": shipment.pro_number,
        "old_status": payload.old_status,
        "new_status": payload.new_status,
        "current_status": shipment.status,
        "message": f"Shipment {shipment.pro_number} changed from {old} to {new}.",
    }
