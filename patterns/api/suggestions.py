"""Lane suggestions: list, show, accept (creates the dedicated lane) and reject."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from patterns.api.common import (
    CustomerSummarySerializer,
    EnumChoiceField,
    EquipmentTypeSummarySerializer,
    IdFilter,
    LocationSummarySerializer,
    ServiceTypeSummarySerializer,
    ShipmentTypeSummarySerializer,
    acting_user,
    request_field_names,
)
from patterns.api.lanes import DedicatedLaneSerializer
from patterns.lanes import LANE_JOINED, LANE_PREFETCHED
from patterns.models import LANE_NAME_MAX_LENGTH, DedicatedLaneSuggestion, SuggestionStatus, Worker
from patterns.selectors import suggestion_list
from patterns.services import suggestion_accept, suggestion_reject
from project.api.tenancy import TenantRelatedField, TenantScopedView


class LaneSuggestionSerializer(serializers.ModelSerializer):
    status = EnumChoiceField(SuggestionStatus, read_only=True, help_text="Pending until accepted, rejected or expired.")
    customer = CustomerSummarySerializer(read_only=True)
    origin_location = LocationSummarySerializer(read_only=True)
    destination_location = LocationSummarySerializer(read_only=True)
    service_type = ServiceTypeSummarySerializer(read_only=True)
    shipment_type = ShipmentTypeSummarySerializer(read_only=True)
    tractor_type = EquipmentTypeSummarySerializer(read_only=True, allow_null=True)
    trailer_type = EquipmentTypeSummarySerializer(read_only=True, allow_null=True)
    business_unit_id = serializers.IntegerField(read_only=True, help_text="Business unit the accepted lane gets.")
    processed_by_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="User who accepted or rejected it."
    )
    created_dedicated_lane_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The dedicated lane accepting it created."
    )

    class Meta:
        model = DedicatedLaneSuggestion
        fields = (
            "id",
            "status",
            "suggested_name",
            "customer",
            "origin_location",
            "destination_location",
            "service_type",
            "shipment_type",
            "tractor_type",
            "trailer_type",
            "confidence_score",
            "frequency",
            "average_freight_charge",
            "total_freight_charge",
            "first_shipment_date",
            "last_shipment_date",
            "pattern_details",
            "expires_at",
            "business_unit_id",
            "processed_by_id",
            "processed_at",
            "reject_reason",
            "created_dedicated_lane_id",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class SuggestionFilter(django_filters.FilterSet):
    """The suggestion list's parameters, validated here; the list is ``patterns.selectors.suggestion_list``."""

    status = django_filters.ChoiceFilter(choices=SuggestionStatus.choices, help_text="One status.")
    customer = IdFilter(field_name="customer_id", help_text="A customer's id.")
    include_expired = django_filters.BooleanFilter(
        help_text="Also list expired suggestions (status Expired, or Pending past expires_at); default false. "
        "Implied by status=Expired.",
    )

    class Meta:
        model = DedicatedLaneSuggestion
        fields = ("status", "customer", "include_expired")

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """The selector applies every filter at once (it owns the rule for what counts as expired)."""
        data = self.form.cleaned_data
        wanted = data.get("status") or None
        return suggestion_list(
            organization_id=self.request.tenant.organization_id,
            status=wanted,
            customer_id=data.get("customer"),
            include_expired=bool(data.get("include_expired")) or wanted == SuggestionStatus.EXPIRED,
        )


class SuggestionScoped(TenantScopedView):
    queryset = DedicatedLaneSuggestion.objects.select_related(*LANE_JOINED).prefetch_related(*LANE_PREFETCHED)
    serializer_class = LaneSuggestionSerializer


class SuggestionList(SuggestionScoped, generics.ListAPIView):
    """The organization's lane suggestions, best first (confidence score, then frequency).

    Every status is listed, but expired suggestions — status Expired, or still Pending past `expires_at` —
    only with `include_expired=true` (or `status=Expired`). Filters: `status`, `customer`,
    `include_expired`. Ordering: `confidence_score`, `frequency`, `created_at`, `expires_at` (prefix `-`
    for descending); default `-confidence_score`.
    """

    filterset_class = SuggestionFilter
    ordering_fields = ("confidence_score", "frequency", "created_at", "expires_at")
    ordering = ("-confidence_score", "-frequency", "-created_at")


class SuggestionDetail(SuggestionScoped, generics.RetrieveAPIView):
    """One lane suggestion: its lane (customer, stops, types), score, frequency, evidence and status."""


class SuggestionAcceptSerializer(serializers.Serializer):
    name = serializers.CharField(
        required=False,
        max_length=LANE_NAME_MAX_LENGTH,
        help_text="Name of the dedicated lane (unique in the organization, any case); default: the suggested name.",
    )
    primary_worker_id = TenantRelatedField(
        model=Worker,
        source="primary_worker",
        required=False,
        allow_null=True,
        help_text="Driver assigned first (a worker of your organization); required for auto_assign.",
    )
    secondary_worker_id = TenantRelatedField(
        model=Worker,
        source="secondary_worker",
        required=False,
        allow_null=True,
        help_text="Back-up driver; must differ from the primary.",
    )
    auto_assign = serializers.BooleanField(
        required=False, default=False, help_text="Assign the primary driver to new shipments on the lane."
    )


class SuggestionRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Why, for the record (optional)."
    )


class SuggestionAccept(SuggestionScoped):
    """Accept a Pending suggestion: creates an Active dedicated lane (201 with it).

    409 when the suggestion is not Pending or has expired, or the lane name is taken. Throttled per user
    (scope `suggestion_decide`).
    """

    throttle_scope = "suggestion_decide"

    @extend_schema(request=SuggestionAcceptSerializer, responses={201: DedicatedLaneSerializer})
    def post(self, request: Request, pk: int) -> Response:
        suggestion = self.get_object()
        params = SuggestionAcceptSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        with request_field_names(params):
            lane = suggestion_accept(suggestion=suggestion, user=acting_user(request), **params.validated_data)
        body = DedicatedLaneSerializer(lane, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


class SuggestionReject(SuggestionScoped):
    """Reject a Pending suggestion (200 with it); the lane is not suggested again during the rejection
    cooldown. 409 when it is not Pending. Throttled per user (scope `suggestion_decide`)."""

    throttle_scope = "suggestion_decide"

    @extend_schema(request=SuggestionRejectSerializer, responses={200: LaneSuggestionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        suggestion = self.get_object()
        params = SuggestionRejectSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        suggestion = suggestion_reject(
            suggestion=suggestion, user=acting_user(request), reason=params.validated_data["reason"]
        )
        return Response(self.get_serializer(suggestion).data)
