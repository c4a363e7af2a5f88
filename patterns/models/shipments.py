"""Shipments: the freight an organization moves, with its lane fields (all optional here) and lifecycle status."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models, transaction
from django.db.models import F, Q

from patterns.lanes import LANE_FIELDS, LANE_ROUTE
from patterns.models.base import columns_differ
from patterns.models.master_data import Customer, EquipmentType, Location, ServiceType, ShipmentType
from patterns.models.tenancy import BusinessUnit, OrganizationScopedModel, other_organization_errors


class ShipmentStatus(models.TextChoices):
    NEW = "New", "New"
    ASSIGNED = "Assigned", "Assigned"
    IN_TRANSIT = "InTransit", "In transit"
    DELAYED = "Delayed", "Delayed"
    COMPLETED = "Completed", "Completed"
    BILLED = "Billed", "Billed"
    CANCELED = "Canceled", "Canceled"


class Shipment(OrganizationScopedModel):
    business_unit = models.ForeignKey(
        BusinessUnit, on_delete=models.PROTECT, related_name="shipments", help_text="Business unit that owns it."
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="shipments",
        help_text="Customer billed for the shipment.",
    )
    pro_number = models.CharField(max_length=50, help_text="PRO number, unique within the organization.")
    status = models.CharField(
        max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.NEW, help_text="Lifecycle status."
    )
    origin_location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where the freight is picked up.",
    )
    destination_location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where the freight is delivered; must differ from the origin.",
    )
    service_type = models.ForeignKey(
        ServiceType, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Service level."
    )
    shipment_type = models.ForeignKey(
        ShipmentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Kind of load."
    )
    tractor_type = models.ForeignKey(
        EquipmentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Required tractor type, if any.",
    )
    trailer_type = models.ForeignKey(
        EquipmentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Required trailer type, if any.",
    )
    planned_pickup_at = models.DateTimeField(null=True, blank=True, help_text="Planned pickup time (UTC).")
    planned_delivery_at = models.DateTimeField(null=True, blank=True, help_text="Planned delivery time (UTC).")
    actual_delivery_at = models.DateTimeField(null=True, blank=True, help_text="Actual delivery time (UTC).")
    freight_charge_amount = models.DecimalField(
        max_digits=19,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Freight charge billed to the customer; empty when not yet rated.",
    )
    is_hazmat = models.BooleanField(default=False, help_text="Whether the load carries hazardous materials.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_shipments",
        help_text="User who created or owns the shipment; receives its notifications.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "pro_number"], name="shipment_pro_number_unique_per_org"),
            models.CheckConstraint(
                condition=columns_differ("origin_location", "destination_location"),
                name="shipment_origin_differs_from_destination",
            ),
            models.CheckConstraint(condition=Q(status__in=ShipmentStatus.values), name="shipment_status_valid"),
            models.CheckConstraint(
                condition=Q(freight_charge_amount__isnull=True) | Q(freight_charge_amount__gte=0),
                name="shipment_freight_charge_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(planned_pickup_at__isnull=True)
                | Q(planned_delivery_at__isnull=True)
                | Q(planned_delivery_at__gte=F("planned_pickup_at")),
                name="shipment_delivery_not_before_pickup",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", *LANE_ROUTE], name="shipment_lane_idx"),
            models.Index(fields=["organization", "status"], name="shipment_org_status_idx"),
        ]

    # Related rows that must belong to the shipment's organization (checked in clean()).
    ORGANIZATION_FIELDS = ["business_unit", *LANE_FIELDS]

    def __str__(self) -> str:
        return self.pro_number

    def save(self, *args: Any, **kwargs: Any) -> None:
        # One transaction for the row and the job records its triggers (post_save) write, even when the
        # caller runs in autocommit: a committed save always carries its triggers with it.
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)

    def clean(self) -> None:
        errors = other_organization_errors(self, self.ORGANIZATION_FIELDS)
        if self.origin_location_id and self.origin_location_id == self.destination_location_id:
            errors["destination_location"] = "The destination must differ from the origin."
        if self.planned_pickup_at and self.planned_delivery_at and self.planned_delivery_at < self.planned_pickup_at:
            errors["planned_delivery_at"] = "Planned delivery cannot be before planned pickup."
        if errors:
            raise ValidationError(errors)
