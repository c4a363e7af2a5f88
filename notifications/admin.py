"""Admin for notifications (read-only), webhook endpoints (secret shown once) and their deliveries."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from notifications.errors import NotificationsError
from notifications.models import (
    Notification,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from notifications.webhooks import webhook_delivery_redeliver, webhook_secret_rotate, webhook_url_check


def _job_link(job_id: str) -> str:
    if not job_id:
        return "—"
    url = reverse("admin:trenova_jobs_jobrecord_change", args=[job_id])
    return format_html('<a href="{}">{}</a>', url, job_id)


def _pretty(value: Any) -> str:
    if value in (None, "", {}, []):
        return "—"
    return format_html("<pre style='white-space: pre-wrap; margin: 0'>{}</pre>", json.dumps(value, indent=2))


class ReadStateFilter(admin.SimpleListFilter):
    title = "read state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("unread", "Unread"), ("read", "Read"), ("dismissed", "Dismissed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "unread":
            return queryset.filter(read_at__isnull=True, dismissed_at__isnull=True)
        if self.value() == "read":
            return queryset.filter(read_at__isnull=False, dismissed_at__isnull=True)
        if self.value() == "dismissed":
            return queryset.filter(dismissed_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title_display", "message_short", "user", "priority", "is_read", "job_short", "created_at")
    list_filter = ("priority", "event_type", ReadStateFilter, "created_at")
    search_fields = ("title", "user__username", "user__email", "job_id")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("title", "message", "user", "priority", "event_type", "tags")}),
        ("Job", {"fields": ("job_link", "outcome", "data_display")}),
        ("Tenant", {"fields": ("organization", "business_unit")}),
        ("State", {"fields": ("created_at", "read_at", "dismissed_at")}),
    )
    readonly_fields = (
        "title",
        "message",
        "user",
        "priority",
        "event_type",
        "tags",
        "job_link",
        "outcome",
        "data_display",
        "organization",
        "business_unit",
        "created_at",
        "read_at",
        "dismissed_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # notifications come from job outcomes, never by hand

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    @admin.display(description="title", ordering="title")
    def title_display(self, obj: Notification) -> str:
        return format_html('<span style="white-space: nowrap">{}</span>', obj.title)

    @admin.display(description="message")
    def message_short(self, obj: Notification) -> str:
        return obj.message if len(obj.message) <= 90 else obj.message[:89] + "…"

    @admin.display(description="job")
    def job_short(self, obj: Notification) -> str:
        if not obj.job_id:
            return "—"
        url = reverse("admin:trenova_jobs_jobrecord_change", args=[obj.job_id])
        return format_html('<a href="{}" title="{}">…{}</a>', url, obj.job_id, obj.job_id[-6:])

    @admin.display(description="read", boolean=True)
    def is_read(self, obj: Notification) -> bool:
        return obj.read_at is not None

    @admin.display(description="job")
    def job_link(self, obj: Notification) -> str:
        return _job_link(obj.job_id)

    @admin.display(description="data")
    def data_display(self, obj: Notification) -> str:
        return _pretty(obj.data)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        help_text="Where events are POSTed. https only (http only where allowed).",
    )
    event_types = forms.MultipleChoiceField(
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Events sent to this endpoint.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("organization", "url", "description", "event_types", "is_enabled")

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            webhook_url_check(url)
        except NotificationsError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return url

    def clean_event_types(self) -> list[str]:
        chosen = set(self.cleaned_data["event_types"])
        return [value for value in WebhookEventType.values if value in chosen]


def _secret_once(request: HttpRequest, endpoint: WebhookEndpoint, secret: str, verb: str) -> None:
    messages.warning(
        request,
        format_html(
            "{} secret for {}: <code>{}</code> — copy it now; it is not shown again.", verb, endpoint.url, secret
        ),
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "organization", "events_display", "is_enabled", "secret_hint", "deliveries_link")
    list_filter = ("is_enabled", "organization")
    search_fields = ("url", "description")
    list_select_related = ("organization",)
    readonly_fields = ("secret_hint", "secret_rotated_at", "created_at", "updated_at")
    actions = ("rotate_secrets",)
    fieldsets = (
        (None, {"fields": ("organization", "url", "description", "event_types", "is_enabled")}),
        ("Signing", {"fields": ("secret_hint", "secret_rotated_at")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="events")
    def events_display(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types or [])

    @admin.display(description="secret")
    def secret_hint(self, obj: WebhookEndpoint) -> str:
        return obj.secret_hint if obj.pk else "generated when saved"

    @admin.display(description="deliveries")
    def deliveries_link(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:notifications_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">deliveries</a>', url)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            _secret_once(request, obj, obj.secret, "Signing")

    @admin.action(description="Rotate the signing secret of selected endpoints", permissions=["change"])
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            _secret_once(request, endpoint, webhook_secret_rotate(endpoint=endpoint), "New")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "status_code", "duration_ms", "error", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "event_type",
        "event_id",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "duration_ms",
        "created_at",
        "delivered_at",
    )
    list_filter = ("status", "event_type", "created_at")
    search_fields = ("event_id", "endpoint__url")
    list_select_related = ("endpoint",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = (WebhookAttemptInline,)
    actions = ("redeliver",)
    fieldsets = (
        (None, {"fields": ("event_type", "event_id", "endpoint", "status", "job_link")}),
        ("Last attempt", {"fields": ("attempts", "last_status_code", "duration_ms", "error", "delivered_at")}),
        ("Body", {"fields": ("payload_display", "created_at")}),
    )
    readonly_fields = (
        "event_type",
        "event_id",
        "endpoint",
        "status",
        "job_link",
        "attempts",
        "last_status_code",
        "duration_ms",
        "error",
        "delivered_at",
        "payload_display",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # deliveries come from events

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Redelivering sends requests: it needs the change permission (the form stays read-only)."""
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.display(description="job")
    def job_link(self, obj: WebhookDelivery) -> str:
        return _job_link(obj.job_id)

    @admin.display(description="body")
    def payload_display(self, obj: WebhookDelivery) -> str:
        return _pretty(obj.payload)

    @admin.action(description="Redeliver selected deliveries (same event id)", permissions=["operate"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = 0
        for delivery in queryset.select_related("endpoint"):
            webhook_delivery_redeliver(delivery=delivery)
            count += 1
        self.message_user(request, f"Queued {count} redelivery job(s).", messages.SUCCESS)
