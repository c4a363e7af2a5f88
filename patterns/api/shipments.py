"""Shipments: list, create, show, change. Saves fire the shipment triggers; the response names their jobs."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from patterns.api.common import (
    AwareDateTimeField,
    EnumChoiceField,
    IdFilter,
    JobSummarySerializer,
    acting_user,
    lane_fields_serializer,
    request_field_names,
)
from patterns.lanes import LANE_COLUMNS, LANE_FIELDS, LANE_JOINED, LANE_PREFETCHED
from patterns.models import (
    BusinessUnit,
    Shipment,
    ShipmentStatus,
)
from patterns.services.shipment_saves import shipment_create, shipment_update
from project.api.tenancy import TenantRelatedField, TenantScopedView

_ShipmentLaneFields = lane_fields_serializer(
    name="ShipmentLaneFields",
    optional=LANE_FIELDS,  # a shipment may be saved before its lane is known
    help_texts={
        "customer": "Customer billed.",
        "origin_location": "Pickup location.",
        "destination_location": "Delivery location; differs from the origin.",
        "service_type": "Service level.",
        "shipment_type": "Kind of load.",
        "tractor_type": "Tractor type.",
        "trailer_type": "Trailer type.",
    },
)


# mypy cannot see a base made at runtime (lane_fields_serializer); DRF collects its declared fields as usual.
class ShipmentSerializer(_ShipmentLaneFields, serializers.ModelSerializer):  # type: ignore[misc,valid-type]
    """A shipment. Write the related rows by id (`…_id`, rows of your organization); read them also as
    summaries. Times are ISO 8601 with an offset."""

    status = EnumChoiceField(ShipmentStatus, required=False, help_text="Lifecycle status; default New.")
    # Blank or UN + 4 digits: the schema's pattern must admit the blank that non-hazmat loads carry.
    hazmat_un_number = serializers.RegexField(
        r"^(UN[0-9]{4})?$",
        max_length=6,
        allow_blank=True,
        required=False,
        help_text="UN identification number of the hazardous material, e.g. UN1203; blank for other loads.",
        error_messages={"invalid": "Enter UN followed by four digits, e.g. UN1203."},
    )
    business_unit_id = TenantRelatedField(
        model=BusinessUnit, source="business_unit", required=False, help_text="Owning business unit; default: yours."
    )
    planned_pickup_at = AwareDateTimeField(required=False, allow_null=True, help_text="Planned pickup time.")
    planned_delivery_at = AwareDateTimeField(
        required=False, allow_null=True, help_text="Planned delivery time; not before the pickup."
    )
    actual_delivery_at = AwareDateTimeField(required=False, allow_null=True, help_text="Actual delivery time.")
    owner_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="User who created it; receives its notifications."
    )

    class Meta:
        model = Shipment
        fields: tuple[str, ...] = (
            "id",
            "pro_number",
            "status",
            "business_unit_id",
            *LANE_COLUMNS,  # customer_id, origin_location_id … in the lane's order
            "planned_pickup_at",
            "planned_delivery_at",
            "actual_delivery_at",
            "freight_charge_amount",
            "is_hazmat",
            "hazmat_un_number",
            "hazmat_class",
            "hazmat_emergency_contact",
            "compliance_issues",
            "compliance_checked_at",
            "owner_id",
            *LANE_FIELDS,  # their summaries
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "compliance_issues", "compliance_checked_at", "created_at", "updated_at")


class ShipmentSavedSerializer(ShipmentSerializer):
    """The shipment as saved, with the jobs its save asked for."""

    jobs = serializers.SerializerMethodField(
        help_text="Jobs the save asked for: a new shipment's (or one reaching Completed) customer analysis, a "
        "status change's notice. Poll each job's url for its outcome."
    )

    class Meta(ShipmentSerializer.Meta):
        fields = (*ShipmentSerializer.Meta.fields, "jobs")

    @extend_schema_field(JobSummarySerializer(many=True))
    def get_jobs(self, obj: Shipment) -> list[dict[str, Any]]:
        return list(JobSummarySerializer(self.context.get("jobs", []), many=True).data)


class ShipmentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ShipmentStatus.choices, help_text="One or more statuses.")
    customer = IdFilter(field_name="customer_id", help_text="A customer's id.")
    pro_number = django_filters.CharFilter(lookup_expr="iexact", help_text="A PRO number (any case).")
    is_hazmat = django_filters.BooleanFilter(help_text="Hazmat loads only (true) or none (false).")

    class Meta:
        model = Shipment
        fields = ("status", "customer", "pro_number", "is_hazmat")


class ShipmentScoped(TenantScopedView):
    queryset = Shipment.objects.select_related(*LANE_JOINED).prefetch_related(*LANE_PREFETCHED)
    serializer_class = ShipmentSerializer


def _saved(view: ShipmentScoped, shipment: Shipment, jobs: list[Any], code: int) -> Response:
    context = {**view.get_serializer_context(), "jobs": jobs}
    return Response(ShipmentSavedSerializer(shipment, context=context).data, status=code)


@extend_schema_view(post=extend_schema(responses={201: ShipmentSavedSerializer}))
class ShipmentList(ShipmentScoped, generics.ListCreateAPIView):
    """The organization's shipments, newest first; POST creates one (you become its owner).

    The save fires the shipment triggers: a new shipment with a customer asks for an analysis of the
    customer's lanes; the response lists the jobs (`jobs`). Filters: `status` (repeatable), `customer`,
    `pro_number`, `is_hazmat`. Ordering: `created_at`, `planned_pickup_at`, `planned_delivery_at`,
    `pro_number` (prefix `-` for descending). A PRO number already used in the organization is a 400.
    """

    filterset_class = ShipmentFilter
    ordering_fields = ("created_at", "planned_pickup_at", "planned_delivery_at", "pro_number")
    ordering = ("-created_at",)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        business_unit = fields.pop("business_unit", None)
        tenant = request.tenant
        with request_field_names(serializer):
            shipment, jobs = shipment_create(
                organization_id=tenant.organization_id,
                business_unit_id=business_unit.pk if business_unit else tenant.business_unit_id,
                owner=acting_user(request),
                **fields,
            )
        return _saved(self, shipment, jobs, status.HTTP_201_CREATED)


@extend_schema_view(
    put=extend_schema(responses={200: ShipmentSavedSerializer}),
    patch=extend_schema(responses={200: ShipmentSavedSerializer}),
)
class ShipmentDetail(ShipmentScoped, generics.RetrieveUpdateAPIView):
    """One shipment; PUT and PATCH change the fields given. A status change asks for the owner's notice
    (and reaching Completed for an analysis): the response lists the jobs (`jobs`)."""

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        shipment = self.get_object()
        serializer = self.get_serializer(shipment, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        with request_field_names(serializer):
            shipment, jobs = shipment_update(shipment=shipment, **serializer.validated_data)
        return _saved(self, shipment, jobs, status.HTTP_200_OK)
