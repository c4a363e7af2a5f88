"""TMS domain models: tenants, master data, shipments, dedicated lanes, lane suggestions and pattern configuration."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, help_text="When the row was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When the row was last changed.")

    class Meta:
        abstract = True


# --- Tenancy ---------------------------------------------------------------------------------------


class Organization(TimeStampedModel):
    name = models.CharField(max_length=200, help_text="Legal or trading name of the carrier.")
    slug = models.SlugField(max_length=100, unique=True, help_text="Short unique identifier used in URLs.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BusinessUnit(TimeStampedModel):
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="business_units",
        help_text="Organization this business unit belongs to.",
    )
    name = models.CharField(max_length=200, help_text="Name of the business unit (division, terminal).")
    code = models.CharField(max_length=20, help_text="Short code, unique within the organization.")

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="business_unit_code_unique_per_org"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} / {self.name}"


class Membership(TimeStampedModel):
    """Places a user in exactly one organization and business unit; all API data is scoped by it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="membership",
        help_text="The user this membership belongs to.",
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships", help_text="User's organization."
    )
    business_unit = models.ForeignKey(
        BusinessUnit,
        on_delete=models.PROTECT,
        related_name="memberships",
        help_text="User's business unit; must belong to the organization.",
    )

    class Meta:
        ordering = ["organization__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization}"

    def clean(self) -> None:
        if (
            self.business_unit_id
            and self.organization_id
            and self.business_unit.organization_id != self.organization_id
        ):
            raise ValidationError({"business_unit": "The business unit belongs to another organization."})


class OrganizationScopedModel(TimeStampedModel):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", help_text="Owning organization."
    )

    class Meta:
        abstract = True


# --- Master data -----------------------------------------------------------------------------------


class Customer(OrganizationScopedModel):
    code = models.CharField(max_length=30, help_text="Customer code, unique within the organization.")
    name = models.CharField(max_length=200, help_text="Customer name.")

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="customer_code_unique_per_org")]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Location(OrganizationScopedModel):
    code = models.CharField(max_length=30, help_text="Location code, unique within the organization.")
    name = models.CharField(max_length=200, help_text="Name of the facility.")
    city = models.CharField(max_length=100, help_text="City.")
    state = models.CharField(max_length=2, help_text="Two-letter state or province code, e.g. IL.")
    postal_code = models.CharField(max_length=10, blank=True, help_text="Postal (ZIP) code.")

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="location_code_unique_per_org")]

    def __str__(self) -> str:
        return f"{self.code} ({self.city}, {self.state})"


class CodedType(OrganizationScopedModel):
    code = models.CharField(max_length=20, help_text="Short code, unique within the organization.")
    description = models.CharField(max_length=200, blank=True, help_text="What the code means.")

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ServiceType(CodedType):
    class Meta(CodedType.Meta):
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="service_type_code_unique_per_org")
        ]


class ShipmentType(CodedType):
    class Meta(CodedType.Meta):
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="shipment_type_code_unique_per_org")
        ]


class EquipmentType(CodedType):
    class EquipmentClass(models.TextChoices):
        TRACTOR = "Tractor", "Tractor"
        TRAILER = "Trailer", "Trailer"

    equipment_class = models.CharField(
        max_length=10, choices=EquipmentClass.choices, help_text="Whether this is a tractor or a trailer type."
    )

    class Meta(CodedType.Meta):
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="equipment_type_code_unique_per_org"),
            models.CheckConstraint(
                condition=Q(equipment_class__in=["Tractor", "Trailer"]), name="equipment_type_class_valid"
            ),
        ]


class Worker(OrganizationScopedModel):
    """A driver who can be assigned to a dedicated lane."""

    code = models.CharField(max_length=30, help_text="Driver code, unique within the organization.")
    first_name = models.CharField(max_length=100, help_text="First name.")
    last_name = models.CharField(max_length=100, help_text="Last name.")

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="worker_code_unique_per_org")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} ({self.code})"


# --- Shipments -------------------------------------------------------------------------------------


class ShipmentStatus(models.TextChoices):
    NEW = "New", "New"
    ASSIGNED = "Assigned", "Assigned"
    IN_TRANSIT = "InTransit", "In transit"
    DELAYED = "Delayed", "Delayed"
    COMPLETED = "Completed", "Completed"
    BILLED = "Billed", "Billed"
    CANCELED = "Canceled", "Canceled"


def _differ(a: str, b: str) -> Q:
    """A check that two nullable columns differ whenever both are set."""
    return Q(**{f"{a}__isnull": True}) | Q(**{f"{b}__isnull": True}) | ~Q(**{a: F(b)})


def _other_org_errors(instance: models.Model, fields: list[str]) -> dict[str, str]:
    """Errors for related rows that belong to another organization than ``instance``."""
    errors = {}
    for name in fields:
        related = getattr(instance, name, None)
        org_id = getattr(related, "organization_id", None)
        if related is not None and org_id is not None and org_id != instance.organization_id:
            errors[name] = "This belongs to another organization."
    return errors


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
                condition=_differ("origin_location", "destination_location"),
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
            models.Index(
                fields=["organization", "customer", "origin_location", "destination_location"],
                name="shipment_lane_idx",
            ),
            models.Index(fields=["organization", "status"], name="shipment_org_status_idx"),
        ]

    # Related rows that must belong to the shipment's organization (checked in clean()).
    ORGANIZATION_FIELDS = [
        "business_unit",
        "customer",
        "origin_location",
        "destination_location",
        "service_type",
        "shipment_type",
        "tractor_type",
        "trailer_type",
    ]

    def __str__(self) -> str:
        return self.pro_number

    def save(self, *args: Any, **kwargs: Any) -> None:
        # One transaction for the row and the job records its triggers (post_save) write, even when the
        # caller runs in autocommit: a committed save always carries its triggers with it.
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, str] = _other_org_errors(self, self.ORGANIZATION_FIELDS)
        if self.origin_location_id and self.origin_location_id == self.destination_location_id:
            errors["destination_location"] = "The destination must differ from the origin."
        if self.planned_pickup_at and self.planned_delivery_at and self.planned_delivery_at < self.planned_pickup_at:
            errors["planned_delivery_at"] = "Planned delivery cannot be before planned pickup."
        if errors:
            raise ValidationError(errors)


# --- Dedicated lanes -------------------------------------------------------------------------------


class DedicatedLane(OrganizationScopedModel):
    class Status(models.TextChoices):
        ACTIVE = "Active", "Active"
        INACTIVE = "Inactive", "Inactive"

    business_unit = models.ForeignKey(
        BusinessUnit, on_delete=models.PROTECT, related_name="dedicated_lanes", help_text="Owning business unit."
    )
    name = models.CharField(max_length=100, help_text="Lane name, unique within the organization (any case).")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE, help_text="Only Active lanes are used."
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="dedicated_lanes", help_text="Customer served."
    )
    origin_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", help_text="Lane origin.")
    destination_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", help_text="Lane destination; differs from origin."
    )
    service_type = models.ForeignKey(
        ServiceType, on_delete=models.PROTECT, related_name="+", help_text="Service level of the lane."
    )
    shipment_type = models.ForeignKey(
        ShipmentType, on_delete=models.PROTECT, related_name="+", help_text="Kind of load on the lane."
    )
    tractor_type = models.ForeignKey(
        EquipmentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Tractor type."
    )
    trailer_type = models.ForeignKey(
        EquipmentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Trailer type."
    )
    primary_worker = models.ForeignKey(
        Worker,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Driver assigned first; required for auto-assign.",
    )
    secondary_worker = models.ForeignKey(
        Worker,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Back-up driver; must differ from the primary.",
    )
    auto_assign = models.BooleanField(
        default=False, help_text="Assign the primary worker to new shipments on this lane automatically."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "organization", name="dedicated_lane_name_unique_per_org_ci"),
            models.CheckConstraint(
                condition=~Q(origin_location=F("destination_location")),
                name="dedicated_lane_origin_differs_from_destination",
            ),
            models.CheckConstraint(
                condition=_differ("primary_worker", "secondary_worker"),
                name="dedicated_lane_workers_differ",
            ),
            models.CheckConstraint(
                condition=Q(auto_assign=False) | Q(primary_worker__isnull=False),
                name="dedicated_lane_auto_assign_needs_primary",
            ),
            models.CheckConstraint(condition=Q(status__in=["Active", "Inactive"]), name="dedicated_lane_status_valid"),
        ]
        indexes = [
            models.Index(
                fields=["organization", "customer", "origin_location", "destination_location"],
                name="dedicated_lane_lane_idx",
            ),
        ]

    ORGANIZATION_FIELDS = [
        "business_unit",
        "customer",
        "origin_location",
        "destination_location",
        "service_type",
        "shipment_type",
        "tractor_type",
        "trailer_type",
        "primary_worker",
        "secondary_worker",
    ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = _other_org_errors(self, self.ORGANIZATION_FIELDS)
        if self.origin_location_id and self.origin_location_id == self.destination_location_id:
            errors["destination_location"] = "The destination must differ from the origin."
        if self.primary_worker_id and self.primary_worker_id == self.secondary_worker_id:
            errors["secondary_worker"] = "The secondary worker must differ from the primary worker."
        if self.auto_assign and not self.primary_worker_id:
            errors["auto_assign"] = "Auto-assign requires a primary worker."
        if self.name and self.organization_id:
            clash = DedicatedLane.objects.filter(organization_id=self.organization_id, name__iexact=self.name)
            if self.pk:
                clash = clash.exclude(pk=self.pk)
            if clash.exists():
                errors["name"] = "A dedicated lane with this name already exists in the organization."
        if errors:
            raise ValidationError(errors)


# --- Pattern configuration -------------------------------------------------------------------------


class PatternConfig(TimeStampedModel):
    """Per-organization settings for lane pattern detection; organizations without a row use defaults."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="pattern_config", help_text="Organization configured."
    )
    enabled = models.BooleanField(default=True, help_text="Run scheduled and triggered analysis for this org.")
    min_frequency = models.PositiveIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Shipments a lane needs in the window to qualify (1–100).",
    )
    analysis_window_days = models.PositiveIntegerField(
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="How many days back the analysis looks (1–365).",
    )
    min_confidence_score = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.7000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="Lowest confidence score that produces a suggestion (0–1).",
    )
    suggestion_ttl_days = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days a pending suggestion stays open before it expires (1–365).",
    )
    require_exact_match = models.BooleanField(
        default=False,
        help_text="Group lanes by service, shipment, tractor and trailer type too, not only customer and stops.",
    )
    weight_recent_shipments = models.BooleanField(
        default=True, help_text="Give lanes with recent shipments a higher score."
    )
    rejection_cooldown_days = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(0), MaxValueValidator(365)],
        help_text="Days after a rejection before the same lane is suggested again (0–365).",
    )

    class Meta:
        verbose_name = "pattern configuration"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_frequency__gte=1, min_frequency__lte=100), name="pattern_config_min_frequency_range"
            ),
            models.CheckConstraint(
                condition=Q(analysis_window_days__gte=1, analysis_window_days__lte=365),
                name="pattern_config_window_range",
            ),
            models.CheckConstraint(
                condition=Q(min_confidence_score__gte=0, min_confidence_score__lte=1),
                name="pattern_config_min_confidence_range",
            ),
            models.CheckConstraint(
                condition=Q(suggestion_ttl_days__gte=1, suggestion_ttl_days__lte=365),
                name="pattern_config_ttl_range",
            ),
            models.CheckConstraint(
                condition=Q(rejection_cooldown_days__gte=0, rejection_cooldown_days__lte=365),
                name="pattern_config_cooldown_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Pattern configuration for {self.organization}"

    @classmethod
    def for_organization(cls, organization_id: int) -> PatternConfig:
        """The organization's saved configuration, or an unsaved one holding the defaults."""
        config = cls.objects.filter(organization_id=organization_id).first()
        return config or cls(organization_id=organization_id)


# --- Lane suggestions ------------------------------------------------------------------------------


class SuggestionStatus(models.TextChoices):
    PENDING = "Pending", "Pending"
    ACCEPTED = "Accepted", "Accepted"
    REJECTED = "Rejected", "Rejected"
    EXPIRED = "Expired", "Expired"


# The lane key of a suggestion. Tractor and trailer types are nullable; the partial unique constraint
# compares them through COALESCE(…, 0) so that "no type" equals "no type". (`nulls_distinct=False` would
# say the same on PostgreSQL, but Django silently skips such a constraint on SQLite, where the demo runs.)
SUGGESTION_LANE_FIELDS = (
    "organization",
    "customer",
    "origin_location",
    "destination_location",
    "service_type",
    "shipment_type",
    "tractor_type",
    "trailer_type",
)
_NULLABLE_LANE_FIELDS = ("tractor_type", "trailer_type")


class DedicatedLaneSuggestion(OrganizationScopedModel):
    """A recurring lane found by pattern detection, proposed as a dedicated lane (SPEC §7).

    Created Pending by ``patterns.services.analyze_patterns``; moved on only by the lifecycle services
    (accept, reject, expire), which the database constraints below back up.
    """

    Status = SuggestionStatus

    business_unit = models.ForeignKey(
        BusinessUnit,
        on_delete=models.PROTECT,
        related_name="lane_suggestions",
        help_text="Business unit of the lane's most recent shipment; the accepted lane belongs to it.",
    )
    status = models.CharField(
        max_length=10,
        choices=SuggestionStatus.choices,
        default=SuggestionStatus.PENDING,
        help_text="Pending until accepted, rejected or expired.",
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="lane_suggestions", help_text="Customer whose shipments recur."
    )
    origin_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", help_text="Where the recurring shipments are picked up."
    )
    destination_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", help_text="Where they are delivered; differs from origin."
    )
    service_type = models.ForeignKey(
        ServiceType,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Service level of the lane (the most common one unless exact matching is on).",
    )
    shipment_type = models.ForeignKey(
        ShipmentType,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Kind of load of the lane (the most common one unless exact matching is on).",
    )
    tractor_type = models.ForeignKey(
        EquipmentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Tractor type of the lane, if its shipments name one.",
    )
    trailer_type = models.ForeignKey(
        EquipmentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Trailer type of the lane, if its shipments name one.",
    )
    confidence_score = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="How strongly the shipments look like a standing lane, 0–1 (frequency, recency, regularity, value).",
    )
    frequency = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], help_text="Shipments on the lane within the analysis window."
    )
    average_freight_charge = models.DecimalField(
        max_digits=19,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Average freight charge of the lane's rated shipments; empty when none was rated.",
    )
    total_freight_charge = models.DecimalField(
        max_digits=19,
        decimal_places=4,
        default=Decimal("0"),
        help_text="Sum of the freight charges of the lane's rated shipments.",
    )
    first_shipment_date = models.DateTimeField(
        help_text="Business date (planned pickup, else creation) of the first shipment in the window."
    )
    last_shipment_date = models.DateTimeField(
        help_text="Business date (planned pickup, else creation) of the last shipment in the window."
    )
    suggested_name = models.CharField(
        max_length=100, help_text="Name proposed for the dedicated lane; free in the organization when suggested."
    )
    pattern_details = models.JSONField(
        default=dict,
        blank=True,
        help_text="Evidence: latest shipment ids, configuration used, detection time, trigger reason, job id.",
    )
    expires_at = models.DateTimeField(help_text="When a still-pending suggestion expires.")
    processed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # PROTECT, not SET_NULL: an accepted or rejected suggestion must name who decided (check below).
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="processed_lane_suggestions",
        help_text="User who accepted or rejected the suggestion.",
    )
    processed_at = models.DateTimeField(null=True, blank=True, help_text="When it was accepted or rejected.")
    reject_reason = models.TextField(blank=True, help_text="Why the suggestion was rejected, as given by the user.")
    created_dedicated_lane = models.OneToOneField(
        DedicatedLane,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="source_suggestion",
        help_text="The dedicated lane created by accepting the suggestion.",
    )

    class Meta:
        ordering = ["-confidence_score", "-frequency", "-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=SuggestionStatus.values), name="suggestion_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=SuggestionStatus.PENDING) | Q(processed_by__isnull=True, processed_at__isnull=True),
                name="suggestion_pending_not_processed",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[SuggestionStatus.ACCEPTED, SuggestionStatus.REJECTED])
                | Q(processed_by__isnull=False, processed_at__isnull=False),
                name="suggestion_decided_is_processed",
            ),
            models.CheckConstraint(
                condition=Q(status=SuggestionStatus.ACCEPTED, created_dedicated_lane__isnull=False)
                | (~Q(status=SuggestionStatus.ACCEPTED) & Q(created_dedicated_lane__isnull=True)),
                name="suggestion_accepted_iff_lane",
            ),
            models.CheckConstraint(
                condition=Q(confidence_score__gte=0, confidence_score__lte=1), name="suggestion_score_range"
            ),
            models.CheckConstraint(condition=Q(frequency__gte=1), name="suggestion_frequency_positive"),
            models.CheckConstraint(
                condition=~Q(origin_location=F("destination_location")),
                name="suggestion_origin_differs_from_destination",
            ),
            # At most one Pending suggestion per lane: concurrent analyses cannot create twins.
            models.UniqueConstraint(
                *(
                    Coalesce(name, Value(0)) if name in _NULLABLE_LANE_FIELDS else F(name)
                    for name in SUGGESTION_LANE_FIELDS
                ),
                condition=Q(status=SuggestionStatus.PENDING),
                name="suggestion_one_pending_per_lane",
                violation_error_message="A pending suggestion for this lane already exists.",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "-confidence_score"], name="suggestion_org_status_idx"),
            models.Index(
                fields=["organization", "customer", "origin_location", "destination_location"],
                name="suggestion_lane_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.suggested_name} ({self.status}, {self.confidence_score})"

    @property
    def is_open(self) -> bool:
        """Pending and not past its expiry (it may not have been flipped to Expired yet)."""
        return self.status == SuggestionStatus.PENDING and self.expires_at > timezone.now()
