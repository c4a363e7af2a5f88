"""Admin for job records (a read-only audit trail with retry and cancel actions) and for schedules."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

import scheduler.admin  # noqa: F401  (registers the package's pages now, so that they can be removed below)
from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from redis.exceptions import RedisError
from scheduler.models import CronJob, Queue, RepeatableJob, ScheduledJob
from scheduler.models.worker import Worker as SchedulerWorker

from trenova_jobs.actions import job_cancel, job_retry
from trenova_jobs.conf import queue_weights
from trenova_jobs.errors import JobStateError
from trenova_jobs.models import CatchUpPolicy, JobRecord, JobStatus, OverlapPolicy, Schedule, ScheduleFire
from trenova_jobs.progress import job_progress, progress_html
from trenova_jobs.registry import job_type_names
from trenova_jobs.schedule_times import zone_names
from trenova_jobs.schedules import (
    ScheduleValidationError,
    schedule_create,
    schedule_fires_recent,
    schedule_run_now,
    schedule_states,
    schedule_update,
    schedules_enable,
)
from trenova_jobs.selectors import workers_alive


def _pretty(value: Any) -> str:
    if value in (None, "", {}, []):
        return "—"
    return format_html("<pre style='white-space: pre-wrap; margin: 0'>{}</pre>", json.dumps(value, indent=2))


def _when(value: datetime | None) -> str:
    """A time to the second, in the current time zone (the admin's default drops the seconds)."""
    if value is None:
        return "—"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def _subjects(record: JobRecord) -> list[tuple[str, Any]]:
    """(model label, id) of what the job is about, from its payload and its organization, in settings order."""
    found = []
    for key, label in getattr(settings, "TRENOVA_JOBS_SUBJECTS", []):
        value = record.payload.get(key) if isinstance(record.payload, dict) else None
        if value is None and key == "organization_id":
            value = record.organization_id
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value):
            found.append((label, value))
    return found


def _subject_link(label: str, pk: Any, text: str | None = None) -> str:
    app_label, model_name = label.split(".")
    try:
        url = reverse(f"admin:{app_label}_{model_name}_change", args=[pk])
    except NoReverseMatch:
        return f"{model_name} {pk}"
    return format_html('<a href="{}">{}</a>', url, text or f"{model_name.capitalize()} {pk}")


class _ConfiguredValuesFilter(admin.SimpleListFilter):
    """A list filter whose choices come from configuration: Django's own filter on a plain field runs a
    SELECT DISTINCT over the whole table on every page (~0.2 s each with 1 M job records)."""

    def values(self) -> list[str]:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, value) for value in self.values()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{str(self.parameter_name): value}) if value else queryset


class JobTypeFilter(_ConfiguredValuesFilter):
    title = "job type"
    parameter_name = "job_type"

    def values(self) -> list[str]:
        return job_type_names()


class QueueFilter(_ConfiguredValuesFilter):
    title = "queue"
    parameter_name = "queue"

    def values(self) -> list[str]:
        return list(queue_weights())


@admin.register(JobRecord)
class JobRecordAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "job_type",
        "subject",
        "queue",
        "status",
        "attempts_display",
        "user",
        "created",
        "duration",
        "finished",
    )
    # No query of their own: status has choices, job types and queues come from configuration, and the
    # created_at filter offers fixed ranges. (No date_hierarchy: its month links are a SELECT DISTINCT
    # over every record, ~0.5 s with 1 M of them, and the created_at ranges cover what it offered.)
    list_filter = ("status", JobTypeFilter, QueueFilter, "created_at")
    search_fields = ("id", "unique_key")
    list_select_related = ("user",)
    show_full_result_count = False
    ordering = ("-created_at",)
    actions = ("retry_jobs", "cancel_jobs")
    fieldsets = (
        (None, {"fields": ("id", "job_type", "queue", "status", "attempts", "max_retries", "timeout")}),
        ("About", {"fields": ("subject_detail", "progress_display")}),
        ("Payload and outcome", {"fields": ("payload_display", "result_display", "error", "traceback")}),
        ("Earlier runs", {"fields": ("history_display",)}),
        ("Deduplication", {"fields": ("unique_key", "unique_lock", "unique_until")}),
        ("Tenant", {"fields": ("organization_id", "business_unit_id", "user")}),
        (
            "Timeline",
            {"fields": ("created", "enqueued", "scheduled", "started", "finished", "duration", "rq_link")},
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
        "subject_detail",
        "progress_display",
        "history_display",
        "created",
        "enqueued",
        "scheduled",
        "started",
        "finished",
        "duration",
        "rq_link",
    )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.method == "GET":
            try:
                alive = workers_alive()
            except RedisError:
                self.message_user(request, "Redis is unreachable: no job can be pushed or run.", messages.ERROR)
            else:
                if not alive:
                    self.message_user(
                        request,
                        "No worker is running: queued jobs wait until one starts (manage.py rqworker).",
                        messages.WARNING,
                    )
        return super().changelist_view(request, extra_context)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # the audit trail is pruned by system:prune_job_records only
        return actions

    @admin.display(description="subject")
    def subject(self, obj: JobRecord) -> str:
        found = _subjects(obj)
        return _subject_link(*found[0]) if found else "—"

    @admin.display(description="about")
    def subject_detail(self, obj: JobRecord) -> str:
        links = []
        for label, pk in _subjects(obj):
            try:
                model = apps.get_model(label)
            except (LookupError, ValueError):
                links.append(f"{label} {pk}")
                continue
            instance = model._default_manager.filter(pk=pk).first()
            name = str(model._meta.verbose_name).capitalize()
            text = f"{name}: {instance}" if instance is not None else f"{name} {pk} (deleted)"
            links.append(_subject_link(label, pk, text) if instance is not None else text)
        return format_html_join(mark_safe("<br>"), "{}", ((link,) for link in links)) if links else "—"

    @admin.display(description="progress")
    def progress_display(self, obj: JobRecord) -> str:
        progress = job_progress(obj.id)
        if progress is None:
            return "—" if obj.status != JobStatus.RUNNING else "running (this job type reports no progress)"
        return progress_html(progress)

    @admin.display(description="earlier runs")
    def history_display(self, obj: JobRecord) -> str:
        if not obj.history:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    run.get("status", ""),
                    run.get("attempts", ""),
                    run.get("finished_at") or "—",
                    run.get("retried_at") or "—",
                    (run.get("error") or "—")[:300],
                )
                for run in reversed(obj.history)
                if isinstance(run, dict)
            ),
        )
        return format_html(
            "<table><thead><tr><th>status</th><th>attempts</th><th>finished</th><th>retried</th><th>error</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: JobRecord) -> str:
        return _when(obj.created_at)

    @admin.display(description="pushed to Redis", ordering="enqueued_at")
    def enqueued(self, obj: JobRecord) -> str:
        return _when(obj.enqueued_at)

    @admin.display(description="due", ordering="scheduled_for")
    def scheduled(self, obj: JobRecord) -> str:
        return _when(obj.scheduled_for)

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: JobRecord) -> str:
        return _when(obj.started_at)

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, obj: JobRecord) -> str:
        return _when(obj.finished_at)

    @admin.display(description="duration")
    def duration(self, obj: JobRecord) -> str:
        if obj.started_at is None or obj.finished_at is None or obj.finished_at < obj.started_at:
            return "—"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.2f} s"

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
            else:
                self.log_change(request, record, f"{verb} from the admin.")  # the record's History
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


# --- Schedules -------------------------------------------------------------------------------------------
# django-rq-scheduler's own admin pages are replaced: they accept any importable dotted path as the callable
# (os.system included), schedule through its pickling runtime, and its Queue/Worker pages need URLs this
# project does not route. Its rows are edited here, through trenova_jobs.schedules.

for _model in (CronJob, RepeatableJob, ScheduledJob, Queue, SchedulerWorker):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class ScheduleForm(forms.ModelForm):
    name = forms.CharField(
        max_length=128,
        help_text="Unique name, e.g. 'Nightly pattern analysis'.",
        widget=forms.TextInput(attrs={"size": 60}),
    )
    job_type = forms.ChoiceField(help_text="A registered job type (never a dotted path).")
    payload = forms.JSONField(
        required=False,
        initial=dict,
        help_text='JSON object, validated by the job type\'s payload, e.g. {"window_days": 7}.',
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
    )
    cron = forms.CharField(
        required=False,
        help_text="5 fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * *'. Or give an interval.",
    )
    interval_seconds = forms.IntegerField(required=False, min_value=1, help_text="Seconds (at least 10).")
    timezone = forms.ChoiceField(initial="UTC", help_text="The cron string is read in this IANA time zone.")
    enabled = forms.BooleanField(required=False, initial=True, help_text="Disabled schedules do not fire.")
    timeout = forms.IntegerField(required=False, min_value=1, help_text="Seconds one run may take (empty: default).")

    class Meta:
        model = Schedule
        fields = ("overlap", "catch_up")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["job_type"]).choices = [(name, name) for name in job_type_names()]
        cast(forms.ChoiceField, self.fields["timezone"]).choices = [(name, name) for name in zone_names()]
        schedule = self.instance
        if schedule.pk:
            for name in ("name", "job_type", "payload", "cron", "interval_seconds", "timezone", "enabled", "timeout"):
                self.initial[name] = getattr(schedule, name)
        self.schedule: Schedule | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        values = {
            "name": data.get("name", ""),
            "job_type": data.get("job_type", ""),
            "payload": data.get("payload") if data.get("payload") is not None else {},
            "cron": (data.get("cron") or "").strip() or None,
            "interval_seconds": data.get("interval_seconds"),
            "timezone": data.get("timezone", "UTC"),
            "enabled": bool(data.get("enabled")),
            "overlap": data.get("overlap", OverlapPolicy.SKIP),
            "catch_up": data.get("catch_up", CatchUpPolicy.LATEST),
            "timeout": data.get("timeout"),
        }
        if not isinstance(values["payload"], dict):
            self.add_error("payload", "The payload is a JSON object ({...}).")
            return data
        # The services validate and write in one step; the form calls them here so that their errors are form
        # errors (admin saves nothing on error), and save_model only hands the result back.
        try:
            if self.instance.pk:
                self.schedule = schedule_update(schedule=self.instance, **values)
            else:
                self.schedule = schedule_create(**values)
        except ScheduleValidationError as exc:
            for field, messages_ in exc.errors.items():
                self.add_error(field if field in self.fields else None, messages_)
        return data


class ScheduleFireInline(admin.TabularInline):
    model = ScheduleFire
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = "recent fires (latest 20)"
    fields = ("fire_time", "outcome", "job_link", "reason")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScheduleFire]:
        # An inline cannot slice its queryset; the latest 20 ids can be selected first.
        queryset = super().get_queryset(request)
        object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        if object_id is None:
            return queryset.none()
        ids = [fire.pk for fire in schedule_fires_recent(schedule=Schedule(pk=int(object_id)))]
        return queryset.filter(pk__in=ids).order_by("-fire_time")

    @admin.display(description="job")
    def job_link(self, obj: ScheduleFire) -> str:
        if not obj.job_id:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:trenova_jobs_jobrecord_change", args=[obj.job_id]), obj.job_id
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = (
        "name_display",
        "job_type",
        "timing_display",
        "next_run_display",
        "last_outcome_display",
        "late_display",
        "enabled_display",
    )
    list_filter = ("job_type", "timezone")
    search_fields = ("cron_entry__name", "interval_entry__name", "job_type")
    list_select_related = ("cron_entry", "interval_entry")
    inlines = (ScheduleFireInline,)
    actions = ("run_now", "enable", "disable")
    fieldsets = (
        (None, {"fields": ("name", "job_type", "payload", "enabled")}),
        ("When", {"fields": ("cron", "interval_seconds", "timezone"), "description": "A cron string or an interval."}),
        ("Policies", {"fields": ("overlap", "catch_up", "timeout")}),
    )

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        # The schedules on this page, with next run / last outcome / late, in a bounded number of queries.
        ids = [schedule.pk for schedule in changelist.result_list]
        self.page_states = {state.schedule.pk: state for state in schedule_states(ids=ids)}
        return changelist

    def state_of(self, obj: Schedule) -> Any:
        states = getattr(self, "page_states", {})
        if obj.pk not in states:
            states.update({s.schedule.pk: s for s in schedule_states(ids=[obj.pk])})
        return states.get(obj.pk)

    @admin.display(description="name", ordering="id")
    def name_display(self, obj: Schedule) -> str:
        return obj.name

    @admin.display(description="when")
    def timing_display(self, obj: Schedule) -> str:
        rule = obj.cron if obj.cron else f"every {obj.interval_seconds} s"
        zone = f" ({obj.timezone})" if obj.cron else ""
        return format_html('<span style="white-space: nowrap"><code>{}</code>{}</span>', rule, zone)

    @admin.display(description="next run")
    def next_run_display(self, obj: Schedule) -> str:
        state = self.state_of(obj)
        if state is None or state.next_run is None:
            return "—"
        utc = f"{state.next_run:%Y-%m-%d %H:%M} UTC"
        if obj.timezone == "UTC":
            return format_html('<span style="white-space: nowrap">{}</span>', utc)
        local = state.next_run_local
        return format_html(
            '<span style="white-space: nowrap">{}</span><br><small style="white-space: nowrap">{} {}</small>',
            utc,
            f"{local:%Y-%m-%d %H:%M}",
            obj.timezone,
        )

    @admin.display(description="last run")
    def last_outcome_display(self, obj: Schedule) -> str:
        state = self.state_of(obj)
        if state is None or state.last_fire is None:
            return "never"
        fire = state.last_fire
        what = state.last_job_status or fire.outcome
        when = f"{fire.fire_time:%Y-%m-%d %H:%M:%S}"
        if fire.job_id:
            url = reverse("admin:trenova_jobs_jobrecord_change", args=[fire.job_id])
            return format_html('<a href="{}">{}</a><br><small style="white-space: nowrap">{}</small>', url, what, when)
        return format_html('{}<br><small style="white-space: nowrap">{}</small>', what, when)

    @admin.display(description="late")
    def late_display(self, obj: Schedule) -> str:
        state = self.state_of(obj)
        if state and state.late:
            return format_html(
                '<strong style="color: #ba2121" title="{}">LATE</strong>',
                "A fire time older than the grace period was never claimed: is a worker running?",
            )
        return "—" if obj.enabled else "off"

    @admin.display(description="enabled", boolean=True)
    def enabled_display(self, obj: Schedule) -> bool:
        return obj.enabled

    def save_model(self, request: HttpRequest, obj: Schedule, form: Any, change: bool) -> None:
        # The form's clean() saved through the services; hand the saved schedule back to the admin.
        saved = form.schedule
        obj.pk, obj.cron_entry_id, obj.interval_entry_id = saved.pk, saved.cron_entry_id, saved.interval_entry_id

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description="Run selected schedules now", permissions=["operate"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        for schedule in queryset.select_related("cron_entry", "interval_entry"):
            record = schedule_run_now(schedule=schedule, user=request.user)
            url = reverse("admin:trenova_jobs_jobrecord_change", args=[record.id])
            self.message_user(
                request,
                format_html('{}: enqueued <a href="{}">{}</a>.', schedule.name, url, record.id),
                messages.SUCCESS,
            )

    @admin.action(description="Enable selected schedules", permissions=["operate"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        count = schedules_enable(schedules=queryset.select_related("cron_entry", "interval_entry"), enabled=True)
        self.message_user(request, f"Enabled {count} schedule(s).", messages.SUCCESS)

    @admin.action(description="Disable selected schedules", permissions=["operate"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        count = schedules_enable(schedules=queryset.select_related("cron_entry", "interval_entry"), enabled=False)
        self.message_user(request, f"Disabled {count} schedule(s).", messages.SUCCESS)
