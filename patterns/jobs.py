"""Job types of the patterns domain: pattern detection (analyse one organization, fan out to all, expire old
suggestions), shipment notices, the delay sweep and the hazmat compliance check.

Registered with ``trenova_jobs`` (its app config imports every app's ``jobs`` module). Handlers take ids
and plain values, fetch what they need and call one service; they are safe to run twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from pydantic import Field, model_validator

from patterns import selectors
from patterns.errors import AnalysisInputError
from patterns.models import ANALYSIS_WINDOW_DAYS, MIN_FREQUENCY, Shipment, ShipmentStatus, TriggerReason
from patterns.services import (
    analyze_patterns,
    pattern_analysis_enqueue,
    shipment_status_notice,
    suggestions_expire,
)
from patterns.services.compliance import shipment_compliance_notice, shipments_compliance_check
from patterns.services.delays import shipment_delay_notice, shipments_delay_overdue
from trenova_jobs import EmptyPayload, JobContext, JobPayload, NonRetryableError, job_type


class PatternAnalyzePayload(JobPayload):
    organization_id: int
    business_unit_id: int | None
    user_id: int | None
    customer_id: int | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    min_frequency: int | None = Field(default=None, ge=MIN_FREQUENCY.low, le=MIN_FREQUENCY.high)
    # Stored as its plain value ("scheduled"), as payloads travel as JSON; not strict, so that Python callers
    # may give that value too (strict pydantic wants an enum member from Python, a value from JSON).
    trigger_reason: TriggerReason = Field(strict=False)

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
    window_days: int = Field(default=7, ge=ANALYSIS_WINDOW_DAYS.low, le=ANALYSIS_WINDOW_DAYS.high)


# analyze_patterns reports five steps on its way (grouping, qualified, details, creating, created); a run
# that stops early (nothing qualified) ends with the job, whose status then says it is done.
ANALYSIS_STEPS = 5


@job_type("pattern:analyze", payload=PatternAnalyzePayload, queue="pattern", max_retries=2)
def handle_pattern_analyze(payload: PatternAnalyzePayload, ctx: JobContext) -> dict[str, Any]:
    """Detect recurring lanes for one organization (optionally one customer) and suggest dedicated lanes."""
    steps = iter(range(1, ANALYSIS_STEPS + 1))
    try:
        result = analyze_patterns(
            organization_id=payload.organization_id,
            customer_id=payload.customer_id,
            start=payload.start_date,
            end=payload.end_date,
            min_frequency=payload.min_frequency,
            trigger_reason=payload.trigger_reason,
            job_id=ctx.job_id,
            progress=lambda message: ctx.progress(next(steps, ANALYSIS_STEPS), ANALYSIS_STEPS, message),
        )
    except AnalysisInputError as exc:
        # The organization or customer is gone, or the window is impossible: retrying cannot help.
        raise NonRetryableError(str(exc)) from exc
    return result.as_json()


@job_type("pattern:analyze_all", payload=PatternAnalyzeAllPayload, queue="pattern", max_retries=2)
def handle_pattern_analyze_all(payload: PatternAnalyzeAllPayload, ctx: JobContext) -> dict[str, Any]:
    """Enqueue one pattern:analyze per organization with detection enabled, over the last N days."""
    start = timezone.now() - timedelta(days=payload.window_days)
    # A retry of this job enqueues again: the unique keys fold it into the analyses still queued.
    jobs = [
        pattern_analysis_enqueue(organization_id=organization_id, start=start, trigger_reason=TriggerReason.SCHEDULED)
        for organization_id in selectors.organization_ids_with_detection_enabled()
    ]
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
    turns into a notification; this handler only checks that the shipment is still there.
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
    return {
        "shipment_id": shipment.pk,
        "pro_number": shipment.pro_number,
        "old_status": payload.old_status,
        "new_status": payload.new_status,
        "current_status": shipment.status,
        "message": shipment_status_notice(
            shipment=shipment, old_status=payload.old_status, new_status=payload.new_status
        ),
    }


class ShipmentSweepPayload(JobPayload):
    """Without a shipment: the sweep over every organization (a schedule runs it). With one (the shipment and
    its organization, both): the notice to the shipment's owner that the sweep asked for."""

    shipment_id: int | None = None
    organization_id: int | None = None

    @model_validator(mode="after")
    def _shipment_comes_with_its_organization(self) -> ShipmentSweepPayload:
        if (self.shipment_id is None) != (self.organization_id is None):
            raise ValueError("shipment_id and organization_id are given together, or neither (the sweep)")
        return self

    def notice_of(self) -> tuple[int, int] | None:
        """(shipment id, organization id) of the shipment to word a notice for; None for the sweep."""
        if self.shipment_id is None or self.organization_id is None:
            return None
        return self.shipment_id, self.organization_id


class ShipmentDelayPayload(ShipmentSweepPayload):
    pass


class ComplianceCheckPayload(ShipmentSweepPayload):
    pass


def _notice_shipment(shipment_id: int, organization_id: int) -> Shipment:
    shipment = (
        Shipment.objects.filter(pk=shipment_id, organization_id=organization_id)
        .select_related("customer", "origin_location", "destination_location")
        .first()
    )
    if shipment is None:
        raise NonRetryableError(f"Shipment {shipment_id} no longer exists in organization {organization_id}.")
    return shipment


@job_type("shipment:delay", payload=ShipmentDelayPayload, queue="shipment", max_retries=2)
def handle_shipment_delay(payload: ShipmentDelayPayload, ctx: JobContext) -> dict[str, Any] | str:
    """Mark Delayed the shipments past planned delivery (the sweep), or word one shipment's delay notice."""
    target = payload.notice_of()
    if target is None:
        return shipments_delay_overdue().as_json()
    # The result is the notice: the notifications app shows it as the owner's message.
    return shipment_delay_notice(shipment=_notice_shipment(*target))


@job_type("compliance:check", payload=ComplianceCheckPayload, queue="compliance", max_retries=3)
def handle_compliance_check(payload: ComplianceCheckPayload, ctx: JobContext) -> dict[str, Any] | str:
    """Flag open hazmat shipments lacking hazmat data (the sweep), or word one shipment's compliance notice."""
    target = payload.notice_of()
    if target is None:
        return shipments_compliance_check().as_json()
    return shipment_compliance_notice(shipment=_notice_shipment(*target))
