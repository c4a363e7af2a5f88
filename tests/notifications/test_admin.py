"""Notifications and webhook admin: pages render, filters work, the secret is shown once, actions call services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from notifications.models import DeliveryStatus, Notification, WebhookDelivery, WebhookEndpoint
from notifications.webhooks import webhook_endpoint_create, webhook_event_emit
from tests.patterns.factories import OrganizationFactory, UserFactory
from trenova_jobs import JobRecord

pytestmark = pytest.mark.django_db


def _endpoint(org=None) -> WebhookEndpoint:
    return webhook_endpoint_create(
        organization_id=(org or OrganizationFactory()).pk,
        url="https://hooks.example.com/trenova",
        event_types=["suggestion.created"],
    )


def _delivery() -> WebhookDelivery:
    endpoint = _endpoint()
    [delivery] = webhook_event_emit(organization_id=endpoint.organization_id, event_type="suggestion.created", data={})
    return delivery


def test_pages_render(admin_client: Client, redis_conn) -> None:
    user = UserFactory()
    notification = Notification.objects.create(
        user=user, event_type="system.noop", title="Ran", message="m", job_id="job_01X", outcome="succeeded"
    )
    delivery = _delivery()
    for url in [
        reverse("admin:notifications_notification_changelist"),
        reverse("admin:notifications_notification_changelist") + "?state=unread&priority__exact=medium&q=Ran",
        reverse("admin:notifications_notification_changelist") + "?state=dismissed",
        reverse("admin:notifications_notification_change", args=[notification.pk]),
        reverse("admin:notifications_webhookendpoint_changelist"),
        reverse("admin:notifications_webhookendpoint_add"),
        reverse("admin:notifications_webhookendpoint_change", args=[delivery.endpoint_id]),
        reverse("admin:notifications_webhookdelivery_changelist") + "?status__exact=pending",
        reverse("admin:notifications_webhookdelivery_change", args=[delivery.pk]),
    ]:
        assert admin_client.get(url).status_code == 200, url
    page = admin_client.get(reverse("admin:notifications_notification_change", args=[notification.pk])).content
    assert reverse("admin:trenova_jobs_jobrecord_change", args=["job_01X"]).encode() in page
    assert b'name="_save"' not in page  # read-only


def test_read_state_filter_selects_what_it_says(admin_client: Client) -> None:
    user = UserFactory()
    Notification.objects.create(user=user, event_type="e", title="Alpha is new", message="m")
    from django.utils import timezone

    Notification.objects.create(user=user, event_type="e", title="Bravo was seen", message="m", read_at=timezone.now())
    page = admin_client.get(reverse("admin:notifications_notification_changelist") + "?state=unread").content
    assert b"Alpha is new" in page and b"Bravo was seen" not in page


def test_creating_an_endpoint_shows_its_secret_once(admin_client: Client) -> None:
    org = OrganizationFactory()
    response = admin_client.post(
        reverse("admin:notifications_webhookendpoint_add"),
        {
            "organization": org.pk,
            "url": "https://hooks.example.com/x",
            "description": "ERP",
            "event_types": ["job.failed", "suggestion.accepted"],
            "is_enabled": "on",
        },
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["job.failed", "suggestion.accepted"]
    assert endpoint.secret.encode() in response.content
    assert b"not shown again" in response.content
    change = admin_client.get(reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk])).content
    assert endpoint.secret.encode() not in change
    assert endpoint.secret_hint.encode() in change


def test_the_endpoint_form_refuses_bad_urls_and_changes_nothing(admin_client: Client, settings) -> None:
    settings.TRENOVA_WEBHOOKS_ALLOW_HTTP = False
    settings.TRENOVA_WEBHOOKS_ALLOW_PRIVATE = False
    org = OrganizationFactory()
    for url, message in [
        ("http://hooks.example.com/x", b"must use https"),
        ("https://10.1.2.3/x", b"private, loopback or link-local"),
    ]:
        response = admin_client.post(
            reverse("admin:notifications_webhookendpoint_add"),
            {"organization": org.pk, "url": url, "event_types": ["job.failed"], "is_enabled": "on"},
        )
        assert response.status_code == 200
        assert message in response.content
    assert WebhookEndpoint.objects.count() == 0


def test_rotate_action_shows_the_new_secret(admin_client: Client) -> None:
    endpoint = _endpoint()
    old = endpoint.secret
    response = admin_client.post(
        reverse("admin:notifications_webhookendpoint_changelist"),
        {"action": "rotate_secrets", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.secret.encode() in response.content


def test_redeliver_action_queues_a_new_job_and_needs_the_change_permission(
    admin_client: Client, client: Client, redis_conn
) -> None:
    delivery = _delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, error="Answered 500.")
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    client.force_login(viewer)
    url = reverse("admin:notifications_webhookdelivery_changelist")
    assert b"redeliver" not in client.get(url).content
    response = admin_client.post(url, {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True)
    assert b"Queued 1 redelivery job" in response.content
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.error == ""
    assert JobRecord.objects.filter(job_type="notification:webhook").count() == 2
