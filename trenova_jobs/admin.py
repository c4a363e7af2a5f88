"""Admin for job records: a read-only audit trail with retry and cancel actions."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from trenova_jobs.actions import job_cancel, job_retry
from trenova_jobs.errors import JobStateError
from trenova_jobs.models import JobRecord


def _pretty(value: Any) -> str:
    if value in (None, "", {}, []):
        return "—"
    return format_html("<pre style='white-space: pre-wrap; margin: 0'>{}</pre>", json.dumps(value, indent=2))


@admin.register(JobRecord)
class JobRecordAdmin(admin.ModelAdmin):
    list_display = ("id", "job_type", "queue", "status", "attempts_display", "user", "created_at", "finished_at")
    list_filter = ("status", "job_type", "queue", "created_at")
    search_fields = ("id", "unique_key")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    ordering = ("-created_at",)
    actions = ("retry_jobs", "cancel_jobs")
    fieldsets = (
        (None, {"fields": ("id", "job_type", "queue", "status", "attempts", "max_retries", "timeout")}),
        ("Payload and outcome", {"fields": ("payload_display", "result_display", "error", "traceback")}),
        ("Deduplication", {"fields": ("unique_key", "unique_lock", "unique_until")}),
        ("Tenant", {"fields": ("organization_id", "business_unit_id", "user")}),
        (
            "Timeline",
            {"fields": ("created_at", "enqueued_at", "scheduled_for", "started_at", "finished_at", "rq_link")},
        ),
    )
    readonly_fields = (
        "id",
        "job_type",
        "queue",
        "status",
        "attempts",
        "max_retries",
        "timeout",
        "payload_display",
        "result_display",
        "error",
        "traceback",
        "unique_key",
        "unique_lock",
        "unique_until",
        "organization_id",
        "business_unit_id",
        "user",
        "created_at",
        "enqueued_at",
        "scheduled_for",
        "started_at",
        "finished_at",
        "rq_link",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are created through the enqueue service, never by hand

    def has_change_permission(self, request: HttpRequest, obj: JobRecord | None = None) -> bool:
        return False  # read-only; state changes go through the actions below

    @admin.display(description="attempts")
    def attempts_display(self, obj: JobRecord) -> str:
        return f"{obj.attempts} / {obj.max_retries + 1}"

    @admin.display(description="payload")
    def payload_display(self, obj: JobRecord) -> str:
        return _pretty(obj.payload)

    @admin.display(description="result")
    def result_display(self, obj: JobRecord) -> str:
        return _pretty(obj.result)

    @admin.display(description="queue dashboard")
    def rq_link(self, obj: JobRecord) -> str:
        return format_html('<a href="{}">django-rq queues</a>', reverse("rq_home"))

    def _apply(self, request: HttpRequest, queryset: QuerySet[JobRecord], service: Any, verb: str) -> None:
        done, refused = 0, []
        for record in queryset:
            try:
                service(record=record)
                done += 1
            except JobStateError as exc:
                refused.append(str(exc))
        if done:
            self.message_user(request, f"{verb} {done} job(s).", messages.SUCCESS)
        for reason in refused[:10]:
            self.message_user(request, reason, messages.WARNING)
        if len(refused) > 10:
            self.message_user(request, f"… and {len(refused) - 10} more refused.", messages.WARNING)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Retry and cancel change jobs: they need the change permission (the form stays read-only)."""
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description="Retry selected failed or cancelled jobs", permissions=["operate"])
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[JobRecord]) -> None:
        self._apply(request, queryset, job_retry, "Re-queued")

    @admin.action(description="Cancel selected jobs that have not started", permissions=["operate"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[JobRecord]) -> None:
        self._apply(request, queryset, job_cancel, "Cancelled")
