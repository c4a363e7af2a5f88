"""Receivers: job outcomes become a notification for the job's user and job.* webhook events; suggestion
changes become suggestion.* webhook events.

The job service sends ``job_succeeded`` / ``job_failed`` once per job, inside the transaction that writes
the final outcome, so what is written here commits (or not) with it. A replayed signal is harmless: the
notification is unique per (job, outcome), and a delivery job's own outcome is never an event.
"""

from __future__ import annotations

import json
from typing import Any

from notifications.config import notification_config
from notifications.models import NotificationOutcome, WebhookEventType
from notifications.services import notification_for_job_create
from notifications.webhooks import DELIVERY_JOB_TYPE, webhook_delivery_fail, webhook_event_emit, webhook_events_emit
from patterns.events import suggestion_accepted, suggestion_rejected, suggestions_created
from patterns.lanes import LANE_COLUMNS
from patterns.models import DedicatedLane, DedicatedLaneSuggestion
from trenova_jobs import JobRecord, JobStatus, job_failed, job_succeeded

# A job result larger than this is left out of the webhook body (the API serves the job record).
EVENT_RESULT_LIMIT = 4096


def _job_event_data(record: JobRecord) -> dict[str, Any]:
    job: dict[str, Any] = {
        "id": record.id,
        "type": record.job_type,
        "status": record.status,
        "attempts": record.attempts,
        "user_id": record.user_id,
        "business_unit_id": record.business_unit_id,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
    }
    result = record.result
    if record.status == JobStatus.SUCCEEDED and result is not None and len(json.dumps(result)) <= EVENT_RESULT_LIMIT:
        job["result"] = result
    if record.error:
        job["error"] = record.error[:1000]
    return {"job": job}


def _outcome(record: JobRecord, outcome: str, event_type: str) -> None:
    notification_for_job_create(record=record, outcome=outcome)
    if notification_config(record.job_type).webhooks:
        webhook_event_emit(organization_id=record.organization_id, event_type=event_type, data=_job_event_data(record))


def on_job_succeeded(sender: type[JobRecord], record: JobRecord, **kwargs: Any) -> None:
    _outcome(record, NotificationOutcome.SUCCEEDED, WebhookEventType.JOB_SUCCEEDED)


def on_job_failed(sender: type[JobRecord], record: JobRecord, **kwargs: Any) -> None:
    if record.job_type == DELIVERY_JOB_TYPE and isinstance(record.payload.get("delivery_id"), int):
        webhook_delivery_fail(delivery_id=record.payload["delivery_id"], error=record.error)
    _outcome(record, NotificationOutcome.FAILED, WebhookEventType.JOB_FAILED)


def connect_job_receivers() -> None:
    job_succeeded.connect(on_job_succeeded, sender=JobRecord, dispatch_uid="notifications.on_job_succeeded")
    job_failed.connect(on_job_failed, sender=JobRecord, dispatch_uid="notifications.on_job_failed")


def _suggestion_data(suggestion: DedicatedLaneSuggestion) -> dict[str, Any]:
    return {
        "suggestion": {
            "id": suggestion.pk,
            "status": suggestion.status,
            "suggested_name": suggestion.suggested_name,
            "confidence_score": str(suggestion.confidence_score),
            "business_unit_id": suggestion.business_unit_id,
            **{name: getattr(suggestion, name) for name in LANE_COLUMNS},
            "expires_at": suggestion.expires_at.isoformat() if suggestion.expires_at else None,
        }
    }


def on_suggestions_created(
    sender: type[DedicatedLaneSuggestion],
    organization_id: int,
    suggestions: list[DedicatedLaneSuggestion],
    **kwargs: Any,
) -> None:
    webhook_events_emit(
        organization_id=organization_id,
        event_type=WebhookEventType.SUGGESTION_CREATED,
        items=[_suggestion_data(suggestion) for suggestion in suggestions],
    )


def on_suggestion_accepted(
    sender: type[DedicatedLaneSuggestion], suggestion: DedicatedLaneSuggestion, lane: DedicatedLane, **kwargs: Any
) -> None:
    data = _suggestion_data(suggestion)
    data["dedicated_lane"] = {"id": lane.pk, "name": lane.name, "status": lane.status}
    webhook_event_emit(
        organization_id=suggestion.organization_id, event_type=WebhookEventType.SUGGESTION_ACCEPTED, data=data
    )


def on_suggestion_rejected(
    sender: type[DedicatedLaneSuggestion], suggestion: DedicatedLaneSuggestion, **kwargs: Any
) -> None:
    data = _suggestion_data(suggestion)
    data["suggestion"]["reject_reason"] = suggestion.reject_reason
    webhook_event_emit(
        organization_id=suggestion.organization_id, event_type=WebhookEventType.SUGGESTION_REJECTED, data=data
    )


def connect_suggestion_receivers() -> None:
    suggestions_created.connect(
        on_suggestions_created, sender=DedicatedLaneSuggestion, dispatch_uid="notifications.suggestions_created"
    )
    suggestion_accepted.connect(
        on_suggestion_accepted, sender=DedicatedLaneSuggestion, dispatch_uid="notifications.suggestion_accepted"
    )
    suggestion_rejected.connect(
        on_suggestion_rejected, sender=DedicatedLaneSuggestion, dispatch_uid="notifications.suggestion_rejected"
    )
