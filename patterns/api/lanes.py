"""Dedicated lanes: list, create, show, change (PUT replaces the fields given, PATCH some of them)."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from patterns.api.common import (
    EnumChoiceField,
    IdFilter,
    WorkerSummarySerializer,
    lane_fields_serializer,
    request_field_names,
)
from patterns.lanes import LANE_COLUMNS, LANE_FIELDS, LANE_JOINED, LANE_PREFETCHED, NULLABLE_LANE_FIELDS
from patterns.models import (
    LANE_NAME_MAX_LENGTH,
    BusinessUnit,
    DedicatedLane,
    DedicatedLaneStatus,
    Worker,
)
from patterns.services.lanes import dedicated_lane_create, dedicated_lane_update
from project.api.schema import ErrorBody
from project.api.tenancy import TenantRelatedField, TenantScopedView

_DedicatedLaneFields = lane_fields_serializer(
    name="DedicatedLaneFields",
    optional=NULLABLE_LANE_FIELDS,
    help_texts={
        "customer": "Customer served.",
        "origin_location": "Lane origin.",
        "destination_location": "Lane destination; differs from the origin.",
        "service_type": "Service level.",
        "shipment_type": "Kind of load.",
        "tractor_type": "Tractor type.",
        "trailer_type": "Trailer type.",
    },
)


# mypy cannot see a base made at runtime (lane_fields_serializer); DRF collects its declared fields as usual.
class DedicatedLaneSerializer(_DedicatedLaneFields, serializers.ModelSerializer):  # type: ignore[misc,valid-type]
    """A dedicated lane. Write the related rows by id (`…_id`, rows of your organization); read them also
    as summaries (`customer`, `origin_location` …)."""

    name = serializers.CharField(
        max_length=LANE_NAME_MAX_LENGTH, help_text="Lane name, unique within the organization (any case)."
    )
    status = EnumChoiceField(
        DedicatedLaneStatus, required=False, help_text="Only Active lanes are used; default Active."
    )
    business_unit_id = TenantRelatedField(
        model=BusinessUnit, source="business_unit", required=False, help_text="Owning business unit; default: yours."
    )
    primary_worker_id = TenantRelatedField(
        model=Worker,
        source="primary_worker",
        required=False,
        allow_null=True,
        help_text="Driver assigned first; required for auto_assign.",
    )
    secondary_worker_id = TenantRelatedField(
        model=Worker,
        source="secondary_worker",
        required=False,
        allow_null=True,
        help_text="Back-up driver; must differ from the primary.",
    )
    primary_worker = WorkerSummarySerializer(read_only=True, allow_null=True)
    secondary_worker = WorkerSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = DedicatedLane
        fields = (
            "id",
            "name",
            "status",
            "business_unit_id",
            *LANE_COLUMNS,  # customer_id, origin_location_id … in the lane's order
            "primary_worker_id",
            "secondary_worker_id",
            "auto_assign",
            *LANE_FIELDS,  # their summaries
            "primary_worker",
            "secondary_worker",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")


class DedicatedLaneFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DedicatedLaneStatus.choices, help_text="Active or Inactive.")
    customer = IdFilter(field_name="customer_id", help_text="A customer's id.")
    origin_location = IdFilter(field_name="origin_location_id", help_text="A location's id.")
    destination_location = IdFilter(field_name="destination_location_id", help_text="A location's id.")

    class Meta:
        model = DedicatedLane
        fields = ("status", "customer", "origin_location", "destination_location")


class DedicatedLaneScoped(TenantScopedView):
    queryset = DedicatedLane.objects.select_related(
        *LANE_JOINED, "primary_worker", "secondary_worker"
    ).prefetch_related(*LANE_PREFETCHED)
    serializer_class = DedicatedLaneSerializer


CONFLICT = {409: ErrorBody}


@extend_schema_view(post=extend_schema(responses={201: DedicatedLaneSerializer, **CONFLICT}))
class DedicatedLaneList(DedicatedLaneScoped, generics.ListCreateAPIView):
    """The organization's dedicated lanes, by name; POST creates one.

    Filters: `status`, `customer`, `origin_location`, `destination_location`. Ordering: `name`,
    `created_at`, `updated_at` (prefix `-` for descending). A name already used in the organization (any
    case) is a 409; the model's rules (origin differs from destination, two different drivers,
    auto-assign needs a primary driver, rows of your organization) are 400s.
    """

    filterset_class = DedicatedLaneFilter
    ordering_fields = ("name", "created_at", "updated_at")
    ordering = ("name",)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        business_unit = fields.pop("business_unit", None)
        tenant = request.tenant
        with request_field_names(serializer):
            lane = dedicated_lane_create(
                organization_id=tenant.organization_id,
                business_unit_id=business_unit.pk if business_unit else tenant.business_unit_id,
                **fields,
            )
        return Response(self.get_serializer(lane).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    put=extend_schema(responses={200: DedicatedLaneSerializer, **CONFLICT}),
    patch=extend_schema(responses={200: DedicatedLaneSerializer, **CONFLICT}),
)
class DedicatedLaneDetail(DedicatedLaneScoped, generics.RetrieveUpdateAPIView):
    """One dedicated lane; PUT and PATCH change the fields given (the same rules as creating one)."""

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lane = self.get_object()
        serializer = self.get_serializer(lane, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        with request_field_names(serializer):
            lane = dedicated_lane_update(lane=lane, **serializer.validated_data)
        return Response(self.get_serializer(lane).data)
