"""REST API of the job service (under /api/v1/): job status, operator actions, queues and schedules.

Thin over the services and selectors. The caller's organization comes from ``request.tenant``, which the
project's default permission class sets (the job service knows no tenant model): a job of another
organization is a 404. Retry, cancel, queues and schedules are for staff.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from redis.exceptions import RedisError
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from trenova_jobs.actions import job_cancel, job_retry
from trenova_jobs.admission import JOB_ID_RE
from trenova_jobs.models import JobRecord, JobStatus, Schedule
from trenova_jobs.progress import job_progress
from trenova_jobs.schedules import schedule_run_now, schedule_states
from trenova_jobs.selectors import queue_stats_list, workers_alive


def _staff_only() -> list[Any]:
    return [*api_settings.DEFAULT_PERMISSION_CLASSES, IsAdminUser]


class RedisUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Redis is not answering; queue figures are unavailable."
    default_code = "redis_unavailable"


# --- Jobs ------------------------------------------------------------------------------------------------


class JobRecordSerializer(serializers.ModelSerializer):
    max_attempts = serializers.SerializerMethodField(help_text="Attempts allowed: max_retries + 1.")
    user_id = serializers.IntegerField(read_only=True, allow_null=True, help_text="User the job runs for.")
    url = serializers.SerializerMethodField(help_text="This job's status URL.")

    class Meta:
        model = JobRecord
        fields: tuple[str, ...] = (
            "id",
            "url",
            "job_type",
            "queue",
            "status",
            "attempts",
            "max_attempts",
            "max_retries",
            "payload",
            "result",
            "error",
            "unique_key",
            "organization_id",
            "business_unit_id",
            "user_id",
            "created_at",
            "enqueued_at",
            "scheduled_for",
            "started_at",
            "finished_at",
        )
        read_only_fields: tuple[str, ...] = fields

    def get_max_attempts(self, obj: JobRecord) -> int:
        return obj.max_retries + 1

    def get_url(self, obj: JobRecord) -> str:
        return job_status_url(obj.id)


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(min_value=0, help_text="Units of work done so far.")
    total = serializers.IntegerField(allow_null=True, min_value=0, help_text="Units in all (null: not known).")
    percent = serializers.IntegerField(allow_null=True, min_value=0, max_value=100, help_text="done / total.")
    message = serializers.CharField(allow_blank=True, help_text="What the job is doing now.")
    updated_at = serializers.FloatField(help_text="When the job last reported (Unix time).")


class JobDetailSerializer(JobRecordSerializer):
    progress = serializers.SerializerMethodField(
        help_text="How far the job has got, as its handler last reported (null: it reports none)."
    )

    class Meta(JobRecordSerializer.Meta):
        fields = (*JobRecordSerializer.Meta.fields, "progress")
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer(allow_null=True))
    def get_progress(self, obj: JobRecord) -> dict[str, Any] | None:
        progress = job_progress(obj.id)
        return progress.as_json() if progress is not None else None


class JobAcceptedSerializer(JobRecordSerializer):
    deduplicated = serializers.BooleanField(
        read_only=True, help_text="True when an active job with the same unique key was returned instead."
    )

    class Meta(JobRecordSerializer.Meta):
        fields = (*JobRecordSerializer.Meta.fields, "deduplicated")
        read_only_fields = fields


def job_status_url(job_id: str) -> str:
    return reverse("api-job-detail", args=[job_id])


def job_accepted(record: JobRecord, *, request: Request) -> Response:
    """202 with the job and the ``Location`` of its status URL (for endpoints that start a job)."""
    body = JobAcceptedSerializer(record, context={"request": request}).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": job_status_url(record.id)})


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time, compared in UTC: an offset PostgreSQL cannot hold (-21:23) is converted, not sent."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return super().filter(qs, value)


class JobFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=JobStatus.choices, help_text="One or more statuses.")
    job_type = django_filters.CharFilter(help_text="Exact job type, e.g. pattern:analyze.")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte", help_text="ISO 8601 time.")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt", help_text="ISO 8601 time.")

    class Meta:
        model = JobRecord
        fields = ("status", "job_type", "created_after", "created_before")


class TenantJobsMixin(generics.GenericAPIView):
    queryset = JobRecord.objects.all()

    def get_object(self) -> JobRecord:
        # Not a job id at all (NUL bytes, 10 kB of junk): no such job, without asking the database.
        if not JOB_ID_RE.fullmatch(str(self.kwargs.get("job_id", ""))):
            raise NotFound()
        return super().get_object()

    def get_queryset(self) -> QuerySet[JobRecord]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no tenant
            return JobRecord.objects.none()
        organization_id = self.request.tenant.organization_id
        scope = Q(organization_id=organization_id)
        if self.request.user.is_staff:
            scope |= Q(organization_id__isnull=True)  # staff also see the system's own jobs
        return JobRecord.objects.filter(scope)


class JobList(TenantJobsMixin, generics.ListAPIView):
    """The organization's jobs, newest first. Filters: `status` (repeatable), `job_type`, `created_after`,
    `created_before`. Ordering: `created_at`, `finished_at` (prefix `-` for descending)."""

    serializer_class = JobRecordSerializer
    filterset_class = JobFilter
    ordering_fields = ("created_at", "finished_at")
    ordering = ("-created_at",)


class JobDetail(TenantJobsMixin, generics.RetrieveAPIView):
    """One job: status, attempts, result, error, timestamps and, while it runs, its progress."""

    serializer_class = JobDetailSerializer
    lookup_url_kwarg = "job_id"


class JobRetry(TenantJobsMixin):
    """Staff: run a failed or cancelled job again (409 otherwise)."""

    serializer_class = JobRecordSerializer
    lookup_url_kwarg = "job_id"

    def get_permissions(self) -> list[Any]:
        return [permission() for permission in _staff_only()]

    @extend_schema(request=None, responses={200: JobRecordSerializer})
    def post(self, request: Request, job_id: str) -> Response:
        record = job_retry(record=self.get_object())
        return Response(self.get_serializer(record).data)


class JobCancel(JobRetry):
    """Staff: cancel a job that has not started running (409 for a running or finished job)."""

    @extend_schema(request=None, responses={200: JobRecordSerializer})
    def post(self, request: Request, job_id: str) -> Response:
        record = job_cancel(record=self.get_object())
        return Response(self.get_serializer(record).data)


# --- Queues and schedules (staff) ------------------------------------------------------------------------


class QueueSerializer(serializers.Serializer):
    name = serializers.CharField()
    weight = serializers.IntegerField(help_text="Share of dequeues (weighted order).")
    queued = serializers.IntegerField(help_text="Jobs waiting.")
    started = serializers.IntegerField(help_text="Jobs running.")
    scheduled = serializers.IntegerField(help_text="Delayed jobs and retries waiting for their time.")
    failed = serializers.IntegerField(help_text="Jobs in rq's failed registry.")


class QueuesSerializer(serializers.Serializer):
    workers = serializers.ListField(child=serializers.CharField(), help_text="Names of the live workers.")
    queues = QueueSerializer(many=True)


class QueueList(APIView):
    """Staff: each queue's depth and registries, and the live workers."""

    def get_permissions(self) -> list[Any]:
        return [permission() for permission in _staff_only()]

    @extend_schema(responses={200: QueuesSerializer})
    def get(self, request: Request) -> Response:
        try:
            stats, workers = queue_stats_list(), sorted(workers_alive())
        except RedisError as exc:
            raise RedisUnavailable() from exc
        return Response(
            {
                "workers": workers,
                "queues": [
                    {
                        "name": q.name,
                        "weight": q.weight,
                        "queued": q.queued,
                        "started": q.started,
                        "scheduled": q.scheduled,
                        "failed": q.failed,
                    }
                    for q in stats
                ],
            }
        )


class ScheduleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    job_type = serializers.CharField()
    payload = serializers.JSONField()
    cron = serializers.CharField(allow_null=True)
    interval_seconds = serializers.IntegerField(allow_null=True)
    timezone = serializers.CharField()
    enabled = serializers.BooleanField()
    overlap = serializers.CharField()
    catch_up = serializers.CharField()
    next_run = serializers.DateTimeField(allow_null=True)
    last_fire_time = serializers.DateTimeField(allow_null=True)
    last_fire_outcome = serializers.CharField(allow_null=True, help_text="enqueued, skipped or missed.")
    last_job_id = serializers.CharField(allow_null=True)
    last_job_status = serializers.CharField(allow_null=True)
    late = serializers.BooleanField(help_text="A fire time older than the grace period was never claimed.")


def _schedule_row(state: Any) -> dict[str, Any]:
    schedule, fire = state.schedule, state.last_fire
    return {
        "id": schedule.pk,
        "name": schedule.name,
        "job_type": schedule.job_type,
        "payload": schedule.payload,
        "cron": schedule.cron,
        "interval_seconds": schedule.interval_seconds,
        "timezone": schedule.timezone,
        "enabled": schedule.enabled,
        "overlap": schedule.overlap,
        "catch_up": schedule.catch_up,
        "next_run": state.next_run,
        "last_fire_time": fire.fire_time if fire else None,
        "last_fire_outcome": fire.outcome if fire else None,
        "last_job_id": (fire.job_id or None) if fire else None,
        "last_job_status": state.last_job_status,
        "late": state.late,
    }


class ScheduleList(generics.ListAPIView):
    """Staff: every schedule with its next run, last outcome and late flag (paginated, by id)."""

    serializer_class = ScheduleSerializer
    queryset = Schedule.objects.order_by("id")
    filter_backends: list[Any] = []

    def get_permissions(self) -> list[Any]:
        return [permission() for permission in _staff_only()]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset().values_list("pk", flat=True))
        ids = list(page) if page is not None else []
        states = {state.schedule.pk: state for state in schedule_states(ids=ids)}
        rows = [_schedule_row(states[pk]) for pk in ids if pk in states]
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


class ScheduleRun(generics.GenericAPIView):
    """Staff: run a schedule's job now (202 with the job and its status URL)."""

    queryset = Schedule.objects.select_related("cron_entry", "interval_entry")
    lookup_url_kwarg = "schedule_id"
    serializer_class = JobAcceptedSerializer

    def get_permissions(self) -> list[Any]:
        return [permission() for permission in _staff_only()]

    @extend_schema(
        request=None,
        responses={202: JobAcceptedSerializer},
        parameters=[OpenApiParameter("schedule_id", int, OpenApiParameter.PATH, description="The schedule's id.")],
    )
    def post(self, request: Request, schedule_id: str) -> Response:
        if not schedule_id.isdigit():
            raise NotFound()
        record = schedule_run_now(schedule=self.get_object(), user=request.user)
        return job_accepted(record, request=request)


urlpatterns = [
    path("jobs/", JobList.as_view(), name="api-job-list"),
    path("jobs/<str:job_id>/", JobDetail.as_view(), name="api-job-detail"),
    path("jobs/<str:job_id>/retry/", JobRetry.as_view(), name="api-job-retry"),
    path("jobs/<str:job_id>/cancel/", JobCancel.as_view(), name="api-job-cancel"),
    path("queues/", QueueList.as_view(), name="api-queue-list"),
    path("schedules/", ScheduleList.as_view(), name="api-schedule-list"),
    # <str:…> rather than <int:…>: an id that is not a number is a 404 in the API's error shape, not Django's page.
    path("schedules/<str:schedule_id>/run/", ScheduleRun.as_view(), name="api-schedule-run"),
]
