"""Reads: a user's notifications and unread count, and the endpoints subscribed to an event."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from notifications.models import Notification, WebhookDelivery, WebhookEndpoint

# How many of an endpoint's deliveries its API representation shows, newest first.
RECENT_DELIVERIES = 10


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


def webhook_endpoint_list(*, organization_id: int) -> QuerySet[WebhookEndpoint]:
    """The organization's endpoints by URL, each with ``recent_deliveries``: its last ``RECENT_DELIVERIES``.

    The deliveries of a whole page of endpoints are read in one query (a window function per endpoint),
    without their payloads.
    """
    recent = WebhookDelivery.objects.defer("payload").order_by("-created_at", "-id")[:RECENT_DELIVERIES]
    return (
        WebhookEndpoint.objects.filter(organization_id=organization_id)
        .prefetch_related(Prefetch("deliveries", queryset=recent, to_attr="recent_deliveries"))
        .order_by("url", "pk")
    )
