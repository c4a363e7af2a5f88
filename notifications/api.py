"""REST API of this app (under /api/v1/): the caller's notifications, and the organization's webhook endpoints.

Thin over the services and selectors. Notifications belong to the calling user (another user's is a 404);
webhook endpoints belong to the caller's organization and are for its administrators (``IsOrganizationAdmin``;
another organization's endpoint is a 404). An endpoint's signing secret appears in two responses only: the
one that creates the endpoint and the one that rotates its secret; everywhere else, ``secret_hint``.
The services validate (destination URL, event types) and the project's exception handler turns their
errors into 400 field errors.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.models import (
    DeliveryStatus,
    Notification,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from notifications.selectors import (
    RECENT_DELIVERIES,
    notification_list,
    notification_unread_count,
    webhook_delivery_list,
    webhook_endpoint_list,
)
from notifications.services import notification_dismiss, notification_mark_read, notifications_mark_all_read
from notifications.webhooks import (
    webhook_delivery_redeliver,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_secret_rotate,
)
from project.api.pagination import StandardPagination
from project.api.tenancy import IsOrganizationAdmin, IsTenantMember
from trenova_jobs import JobRecord


def _job_url(job_id: str) -> str:
    return reverse("api-job-detail", args=[job_id])


# --- Notifications ---------------------------------------------------------------------------------------


class NotificationSerializer(serializers.ModelSerializer):
    # (A field named like Serializer.data: django-stubs types that attribute as the serializer's output.)
    data = serializers.DictField(  # type: ignore[assignment]
        read_only=True, help_text="Machine-readable details (job id, result …)."
    )
    tags = serializers.ListField(child=serializers.CharField(), read_only=True, help_text="Labels for filtering.")
    job_url = serializers.SerializerMethodField(help_text="Status URL of the job reported on; null without a job.")

    class Meta:
        model = Notification
        fields: tuple[str, ...] = (
            "id",
            "event_type",
            "priority",
            "title",
            "message",
            "data",
            "tags",
            "job_id",
            "job_url",
            "outcome",
            "read_at",
            "dismissed_at",
            "created_at",
        )
        read_only_fields = fields
        extra_kwargs = {
            "job_id": {"help_text": "The job this notification reports on; empty if none."},
            "outcome": {"help_text": "The job outcome reported; empty without a job."},
        }

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_job_url(self, obj: Notification) -> str | None:
        return _job_url(obj.job_id) if obj.job_id else None


class NotificationListQuery(serializers.Serializer):
    unread = serializers.BooleanField(
        required=False, help_text="true: unread only; false: read only; absent: both (dismissed never)."
    )


class NotificationPagination(StandardPagination):
    """The standard page plus the caller's unread count, so that one request fills the list and the badge."""

    def get_paginated_response(self, data: Any, unread_count: int | None = None) -> Response:
        response = super().get_paginated_response(data)
        if unread_count is not None:
            response.data["unread_count"] = unread_count
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["unread_count"] = {
            "type": "integer",
            "example": 3,
            "description": "The caller's unread notifications (all of them, not only this page's).",
        }
        paginated["required"] = [*paginated.get("required", []), "unread_count"]
        return paginated


UnreadCountSerializer = inline_serializer(
    name="NotificationUnreadCount", fields={"unread_count": serializers.IntegerField(min_value=0)}
)
MarkedSerializer = inline_serializer(
    name="NotificationsMarked", fields={"marked": serializers.IntegerField(min_value=0, help_text="How many changed.")}
)


class NotificationList(generics.ListAPIView):
    """The caller's notifications, newest first, without dismissed ones; with the caller's unread count.

    Filter: `unread=true` (unread only) or `unread=false` (read only)."""

    serializer_class = NotificationSerializer
    pagination_class = NotificationPagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request user
            return Notification.objects.none()
        # A plain dict: a QueryDict would read a missing boolean as false (an HTML checkbox).
        query = NotificationListQuery(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return notification_list(user=self.request.user, unread=query.validated_data.get("unread"))

    @extend_schema(parameters=[NotificationListQuery])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        data = self.get_serializer(page, many=True).data
        paginator: NotificationPagination = self.paginator  # type: ignore[assignment]
        return paginator.get_paginated_response(data, unread_count=notification_unread_count(user=request.user))


class NotificationUnreadCount(APIView):
    """The caller's unread notifications: a cheap request to poll."""

    @extend_schema(responses={200: UnreadCountSerializer})
    def get(self, request: Request) -> Response:
        return Response({"unread_count": notification_unread_count(user=request.user)})


class NotificationRead(APIView):
    """Mark one of the caller's notifications read (again: no change). Another user's is a 404."""

    @extend_schema(request=None, responses={200: NotificationSerializer})
    def post(self, request: Request, notification_id: int) -> Response:
        notification = notification_mark_read(user=request.user, notification_id=notification_id)
        return Response(NotificationSerializer(notification).data)


class NotificationDismiss(APIView):
    """Dismiss one of the caller's notifications: it leaves the list and counts as read. Another user's: 404."""

    @extend_schema(request=None, responses={200: NotificationSerializer})
    def post(self, request: Request, notification_id: int) -> Response:
        notification = notification_dismiss(user=request.user, notification_id=notification_id)
        return Response(NotificationSerializer(notification).data)


class NotificationReadAll(APIView):
    """Mark every unread notification of the caller read; answers how many changed."""

    @extend_schema(request=None, responses={200: MarkedSerializer})
    def post(self, request: Request) -> Response:
        return Response({"marked": notifications_mark_all_read(user=request.user)})


# --- Webhook endpoints (organization administrators) -----------------------------------------------------


@extend_schema_field({"type": "string", "enum": WebhookEventType.values})
class EventTypeField(serializers.CharField):
    """An event type name; unknown names are refused by the service (a field error on ``event_types``)."""


# The enum sits inside ``allOf`` so that drf-spectacular does not pool it with the job service's "status"
# enum (a naming collision warning without an ENUM_NAME_OVERRIDES entry in the project's settings).
@extend_schema_field({"allOf": [{"type": "string", "enum": DeliveryStatus.values}]})
class DeliveryStatusField(serializers.ChoiceField):
    """A delivery's status: pending (waiting for an attempt), succeeded, failed (final)."""


class WebhookDeliverySerializer(serializers.ModelSerializer):
    status = DeliveryStatusField(
        choices=DeliveryStatus.choices,
        read_only=True,
        help_text="pending (waiting for an attempt), succeeded, or failed (final).",
    )

    class Meta:
        model = WebhookDelivery
        fields: tuple[str, ...] = (
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "last_status_code",
            "error",
            "created_at",
            "delivered_at",
        )
        read_only_fields = fields


class WebhookEndpointSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(child=EventTypeField(), read_only=True, help_text="Events sent here.")
    secret_hint = serializers.CharField(read_only=True, help_text="The secret's last characters, to tell it apart.")
    recent_deliveries = WebhookDeliverySerializer(
        many=True, read_only=True, help_text=f"The last {RECENT_DELIVERIES} deliveries, newest first."
    )

    class Meta:
        model = WebhookEndpoint
        fields: tuple[str, ...] = (
            "id",
            "url",
            "description",
            "event_types",
            "is_enabled",
            "secret_hint",
            "secret_rotated_at",
            "created_at",
            "updated_at",
            "recent_deliveries",
        )
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (HMAC-SHA256). Shown in this response only: store it now."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")
        read_only_fields = fields


class WebhookEndpointWriteSerializer(serializers.Serializer):
    """The shape of a request; the service checks the URL's destination and the event types."""

    url = serializers.URLField(max_length=500, help_text="Where events are POSTed: https (http only where allowed).")
    event_types = serializers.ListField(
        child=EventTypeField(), help_text=f"At least one of: {', '.join(WebhookEventType.values)}."
    )
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="What receives these events."
    )
    is_enabled = serializers.BooleanField(required=False, default=True, help_text="Disabled endpoints get nothing.")


SecretSerializer = inline_serializer(
    name="WebhookSecret",
    fields={"secret": serializers.CharField(help_text="The new signing secret. Shown in this response only.")},
)


class RedeliveryJobSerializer(serializers.ModelSerializer):
    """The delivery job started by a redeliver (its status URL is the job service's)."""

    url = serializers.SerializerMethodField(help_text="The job's status URL.")

    class Meta:
        model = JobRecord
        fields: tuple[str, ...] = ("id", "url", "job_type", "queue", "status", "created_at")
        read_only_fields = fields

    def get_url(self, obj: JobRecord) -> str:
        return _job_url(obj.id)


class OrganizationWebhooksMixin(generics.GenericAPIView):
    """Endpoints of the caller's organization (with their recent deliveries), for its administrators."""

    # IsTenantMember first: a caller without a membership is told so, not "administrators only".
    permission_classes = [IsTenantMember, IsOrganizationAdmin]
    serializer_class = WebhookEndpointSerializer
    filter_backends: list[Any] = []
    lookup_url_kwarg = "endpoint_id"

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no tenant
            return WebhookEndpoint.objects.none()
        return webhook_endpoint_list(organization_id=self.request.tenant.organization_id)


class WebhookEndpointList(OrganizationWebhooksMixin, generics.ListAPIView):
    """Organization admins: the organization's webhook endpoints (by URL), each with its recent deliveries."""

    @extend_schema(
        request=WebhookEndpointWriteSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
        description="Organization admins: register an endpoint. The response carries the signing `secret`; "
        "it is not shown again (rotate it to get a new one).",
    )
    def post(self, request: Request) -> Response:
        body = WebhookEndpointWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_create(organization_id=request.tenant.organization_id, **body.validated_data)
        shown = self.get_queryset().get(pk=endpoint.pk)
        return Response(WebhookEndpointCreatedSerializer(shown).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetail(OrganizationWebhooksMixin, generics.RetrieveAPIView):
    """Organization admins: one endpoint with its recent deliveries (the secret only as `secret_hint`)."""

    def _update(self, request: Request, *, partial: bool) -> Response:
        endpoint = self.get_object()
        body = WebhookEndpointWriteSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_update(endpoint=endpoint, **body.validated_data)
        return Response(self.get_serializer(endpoint).data)

    @extend_schema(
        request=WebhookEndpointWriteSerializer,
        responses={200: WebhookEndpointSerializer},
        description="Organization admins: replace an endpoint's settings (`description` and `is_enabled` "
        "fall back to their defaults when left out). The secret is kept.",
    )
    def put(self, request: Request, endpoint_id: int) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        request=WebhookEndpointWriteSerializer,
        responses={200: WebhookEndpointSerializer},
        description="Organization admins: change some of an endpoint's settings.",
    )
    def patch(self, request: Request, endpoint_id: int) -> Response:
        return self._update(request, partial=True)

    @extend_schema(
        responses={204: None},
        description="Organization admins: remove an endpoint and its delivery history.",
    )
    def delete(self, request: Request, endpoint_id: int) -> Response:
        webhook_endpoint_delete(endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSecretRotate(OrganizationWebhooksMixin):
    """Organization admins: a new signing secret, shown in this response only; the old one stops at once."""

    @extend_schema(request=None, responses={200: SecretSerializer})
    def post(self, request: Request, endpoint_id: int) -> Response:
        return Response({"secret": webhook_secret_rotate(endpoint=self.get_object())})


class WebhookRedeliver(OrganizationWebhooksMixin):
    """Organization admins: send a delivery again (same event id and body) with a new job: 202 with the job."""

    @extend_schema(
        request=None,
        responses={202: RedeliveryJobSerializer},
        parameters=[OpenApiParameter("delivery_id", int, OpenApiParameter.PATH)],
    )
    def post(self, request: Request, endpoint_id: int, delivery_id: int) -> Response:
        delivery = webhook_delivery_list(endpoint=self.get_object()).select_related("endpoint").get(pk=delivery_id)
        job = webhook_delivery_redeliver(delivery=delivery)
        return Response(
            RedeliveryJobSerializer(job).data, status=status.HTTP_202_ACCEPTED, headers={"Location": _job_url(job.id)}
        )


urlpatterns = [
    path("notifications/", NotificationList.as_view(), name="api-notification-list"),
    path("notifications/unread-count/", NotificationUnreadCount.as_view(), name="api-notification-unread-count"),
    path("notifications/read-all/", NotificationReadAll.as_view(), name="api-notification-read-all"),
    path("notifications/<int:notification_id>/read/", NotificationRead.as_view(), name="api-notification-read"),
    path(
        "notifications/<int:notification_id>/dismiss/", NotificationDismiss.as_view(), name="api-notification-dismiss"
    ),
    path("webhooks/", WebhookEndpointList.as_view(), name="api-webhook-list"),
    path("webhooks/<int:endpoint_id>/", WebhookEndpointDetail.as_view(), name="api-webhook-detail"),
    path("webhooks/<int:endpoint_id>/rotate-secret/", WebhookSecretRotate.as_view(), name="api-webhook-rotate-secret"),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver/",
        WebhookRedeliver.as_view(),
        name="api-webhook-redeliver",
    ),
]
