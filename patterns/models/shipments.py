"""Shipments: the freight an organization moves, with its lane fields (all optional here) and lifecycle status."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
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


# A shipment in one of these is done with: no delay to report, no compliance data left to chase.
CLOSED_STATUSES = (ShipmentStatus.COMPLETED, ShipmentStatus.BILLED, ShipmentStatus.CANCELED)
# Statuses the delay sweep leaves alone: closed, or already Delayed.
DELAY_EXEMPT_STATUSES = (*CLOSED_STATUSES, ShipmentStatus.DELAYED)


class HazmatClass(models.TextChoices):
    """The nine UN/DOT hazard classes (divisions such as 2.1 or 6.2 are not distinguished here)."""

    EXPLOSIVES = "1", "1 — Explosives"
    GASES = "2", "2 — Gases"
    FLAMMABLE_LIQUIDS = "3", "3 — Flammable liquids"
    FLAMMABLE_SOLIDS = "4", "4 — Flammable solids"
    OXIDIZERS = "5", "5 — Oxidizers and organic peroxides"
    TOXIC = "6", "6 — Toxic and infectious substances"
    RADIOACTIVE = "7", "7 — Radioactive material"
    CORROSIVES = "8", "8 — Corrosives"
    MISCELLANEOUS = "9", "9 — Miscellaneous dangerous goods"


UN_NUMBER_PATTERN = r"^UN[0-9]{4}$"
un_number_validator = RegexValidator(
    UN_NUMBER_PATTERN, message="Enter a UN number as UN followed by four digits, e.g. UN1203."
)


# Shipments the delay sweep may mark Delayed once their planned delivery has passed.
OVERDUE_CANDIDATES = Q(actual_delivery_at__isnull=True, planned_delivery_at__isnull=False) & ~Q(
    status__in=DELAY_EXEMPT_STATUSES
)
# Shipments the compliance check looks at: open hazmat loads, and any row still carrying issues (to clear them).
OPEN_HAZMAT = Q(is_hazmat=True) & ~Q(status__in=CLOSED_STATUSES)
COMPLIANCE_CANDIDATES = OPEN_HAZMAT | ~Q(compliance_issues=[])


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
    hazmat_un_number = models.CharField(
        max_length=6,
        blank=True,
        validators=[un_number_validator],
        help_text="UN identification number of the hazardous material, e.g. UN1203 (gasoline); hazmat loads only.",
    )
    hazmat_class = models.CharField(
        max_length=1,
        choices=HazmatClass.choices,
        blank=True,
        help_text="Primary hazard class (1–9) of the hazardous material; hazmat loads only.",
    )
    hazmat_emergency_contact = models.CharField(
        max_length=200,
        blank=True,
        help_text="24-hour emergency response contact: name and phone number, e.g. CHEMTREC 1-800-424-9300.",
    )
    compliance_issues = models.JSONField(
        default=list,
        blank=True,
        help_text='What the hazmat compliance check found missing, e.g. ["UN number missing"]; empty when none.',
    )
    compliance_checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the hazmat compliance check last looked at this shipment."
    )
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
            models.CheckConstraint(
                condition=Q(hazmat_un_number="") | Q(hazmat_un_number__regex=UN_NUMBER_PATTERN),
                name="shipment_hazmat_un_number_format",
            ),
            models.CheckConstraint(
                condition=Q(hazmat_class="") | Q(hazmat_class__in=HazmatClass.values),
                name="shipment_hazmat_class_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", *LANE_ROUTE], name="shipment_lane_idx"),
            models.Index(fields=["organization", "status"], name="shipment_org_status_idx"),
            # The delay sweep (every few minutes, every organization) reads only the open, undelivered rows.
            models.Index(
                fields=["planned_delivery_at"],
                condition=OVERDUE_CANDIDATES,
                name="shipment_overdue_candidate_idx",
            ),
            # The compliance check reads the open hazmat rows and those still carrying issues.
            models.Index(fields=["id"], condition=COMPLIANCE_CANDIDATES, name="shipment_compliance_idx"),
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
