"""Job types of the notifications app: the delivery of one webhook event to one endpoint."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from notifications.errors import WebhookRejectedError
from notifications.webhooks import DELIVERY_JOB_TYPE, webhook_deliver
from trenova_jobs import JobContext, JobPayload, NonRetryableError, job_type


class NotificationWebhookPayload(JobPayload):
    delivery_id: int = Field(ge=1)


# Twelve retries with the service's backoff (2 s doubling, capped at an hour) span about two and a half hours.
@job_type(DELIVERY_JOB_TYPE, payload=NotificationWebhookPayload, queue="default", max_retries=12, timeout=60)
def handle_notification_webhook(payload: NotificationWebhookPayload, ctx: JobContext) -> dict[str, Any]:
    """POST one signed event to one endpoint; 5xx, 408, 429 and network errors are retried."""
    try:
        return webhook_deliver(delivery_id=payload.delivery_id)
    except WebhookRejectedError as exc:
        raise NonRetryableError(str(exc)) from exc
