"""Reads: a user's notifications and unread count, and the endpoints subscribed to an event."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from notifications.models import Notification, WebhookDelivery, WebhookEndpoint


def notification_list(*, user: Any, unread: bool | None = None) -> QuerySet[Notification]:
    """The user's notifications, newest first; dismissed ones are left out. ``unread`` filters either way."""
    rows = Notification.objects.filter(user=user, dismissed_at__isnull=True)
    if unread is True:
        rows = rows.filter(read_at__isnull=True)
    elif unread is False:
        rows = rows.filter(read_at__isnull=False)
    return rows.order_by("-created_at", "-id")


def notification_unread_count(*, user: Any) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True, dismissed_at__isnull=True).count()


def webhook_endpoints_for_event(*, organization_id: int, event_type: str) -> list[WebhookEndpoint]:
    """Enabled endpoints of the organization subscribed to ``event_type``.

    Filtered in Python: an organization has a handful of endpoints, and JSON containment is not portable
    (the demo runs on SQLite).
    """
    endpoints = WebhookEndpoint.objects.filter(organization_id=organization_id, is_enabled=True).order_by("pk")
    return [endpoint for endpoint in endpoints if event_type in (endpoint.event_types or [])]


def webhook_delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return endpoint.deliveries.order_by("-created_at", "-id")
