"""``POST patterns/analyze/``: ask for a pattern analysis of the caller's organization (or one customer)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from patterns.api.common import AwareDateTimeField, job_status_url
from patterns.models import MIN_FREQUENCY, Customer, TriggerReason
from patterns.services import pattern_analysis_enqueue
from project.api.tenancy import TenantRelatedField
from trenova_jobs import JobRecord, JobStatus


class AnalyzeSerializer(serializers.Serializer):
    customer_id = TenantRelatedField(
        model=Customer,
        required=False,
        allow_null=True,
        help_text="Analyse only this customer's lanes (a customer of your organization); all customers if absent.",
    )
    start_date = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="Window start, ISO 8601 with offset; default: the organization's analysis window before the end.",
    )
    end_date = AwareDateTimeField(
        required=False, allow_null=True, help_text="Window end, ISO 8601 with offset, after start_date; default: now."
    )
    min_frequency = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=MIN_FREQUENCY.low,
        max_value=MIN_FREQUENCY.high,
        help_text=f"Shipments a lane needs in the window ({MIN_FREQUENCY}); default: the organization's setting.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end_date": "end_date must be after start_date."})
        return attrs


class AnalysisJobSerializer(serializers.ModelSerializer):
    """The analysis job: poll ``url`` (the job service's status endpoint) for its outcome."""

    url = serializers.SerializerMethodField(help_text="The job's status URL (also the Location header).")
    status = serializers.ChoiceField(choices=JobStatus.choices, read_only=True, help_text="Where the job is now.")
    deduplicated = serializers.BooleanField(
        read_only=True,
        help_text="True when an analysis of the same scope was already queued: that job is returned, not a new one.",
    )

    class Meta:
        model = JobRecord
        fields = (
            "id",
            "url",
            "job_type",
            "queue",
            "status",
            "attempts",
            "max_retries",
            "payload",
            "created_at",
            "scheduled_for",
            "deduplicated",
        )
        read_only_fields = fields

    def get_url(self, obj: JobRecord) -> str:
        return job_status_url(obj.id)


class PatternAnalyze(APIView):
    """Ask for a pattern analysis in the background (202 with the job; poll its `url` for the outcome).

    An analysis of the same scope (the organization, or the same customer) that is still queued is
    returned instead of a new one (`deduplicated: true`). Throttled per user (scope `analyze`).
    """

    throttle_scope = "analyze"

    @extend_schema(request=AnalyzeSerializer, responses={202: AnalysisJobSerializer})
    def post(self, request: Request) -> Response:
        params = AnalyzeSerializer(data=request.data, context={"request": request})
        params.is_valid(raise_exception=True)
        data = params.validated_data
        customer = data.get("customer_id")
        tenant = request.tenant
        record = pattern_analysis_enqueue(
            organization_id=tenant.organization_id,
            business_unit_id=tenant.business_unit_id,
            customer_id=customer.pk if customer is not None else None,
            user_id=request.user.pk,
            start=data.get("start_date"),
            end=data.get("end_date"),
            min_frequency=data.get("min_frequency"),
            trigger_reason=TriggerReason.API,
        )
        body = AnalysisJobSerializer(record, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": job_status_url(record.id)})
