"""Dedicated lanes, and the lane shape they share with lane suggestions (``LaneFields``)."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from patterns.lanes import LANE_FIELDS, LANE_ROUTE
from patterns.models.base import columns_differ
from patterns.models.master_data import Customer, EquipmentType, Location, ServiceType, ShipmentType, Worker
from patterns.models.tenancy import BusinessUnit, OrganizationScopedModel, other_organization_errors

LANE_NAME_MAX_LENGTH = 100


class LaneFields(OrganizationScopedModel):
    """The lane shape (``patterns.lanes.LANE_FIELDS``): customer, stops, service and shipment type, equipment.

    Dedicated lanes and lane suggestions both have it, so that accepting a suggestion copies it whole. The
    definitions are shared; each concrete model words the help texts for itself (``lane_help_texts``: the
    two wordings predate this base and are in the migrations) and, by redeclaring ``customer``, names the
    customer's reverse accessor (``customer.dedicated_lanes``, ``customer.lane_suggestions``).
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    origin_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    destination_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT, related_name="+")
    shipment_type = models.ForeignKey(ShipmentType, on_delete=models.PROTECT, related_name="+")
    tractor_type = models.ForeignKey(EquipmentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    trailer_type = models.ForeignKey(EquipmentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        abstract = True


def lane_help_texts(model: type[LaneFields], texts: Mapping[str, str]) -> None:
    """Give a concrete model's lane fields their help texts (in forms, the admin and the migrations).

    Fields inherited from an abstract model are copies, so each model's texts are its own.
    """
    if set(texts) != set(LANE_FIELDS):
        raise ImproperlyConfigured(f"{model.__name__} must word the help text of exactly {LANE_FIELDS}.")
    for name, text in texts.items():
        field = model._meta.get_field(name)
        assert isinstance(field, models.ForeignKey)
        field.help_text = text


class DedicatedLaneStatus(models.TextChoices):
    ACTIVE = "Active", "Active"
    INACTIVE = "Inactive", "Inactive"


class DedicatedLane(LaneFields):
    business_unit = models.ForeignKey(
        BusinessUnit, on_delete=models.PROTECT, related_name="dedicated_lanes", help_text="Owning business unit."
    )
    name = models.CharField(
        max_length=LANE_NAME_MAX_LENGTH, help_text="Lane name, unique within the organization (any case)."
    )
    status = models.CharField(
        max_length=10,
        choices=DedicatedLaneStatus.choices,
        default=DedicatedLaneStatus.ACTIVE,
        help_text="Only Active lanes are used.",
    )
    # Redeclared (as in LaneFields) to name the reverse accessor: customer.dedicated_lanes.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="dedicated_lanes")
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
                condition=columns_differ("primary_worker", "secondary_worker"),
                name="dedicated_lane_workers_differ",
            ),
            models.CheckConstraint(
                condition=Q(auto_assign=False) | Q(primary_worker__isnull=False),
                name="dedicated_lane_auto_assign_needs_primary",
            ),
            models.CheckConstraint(
                condition=Q(status__in=DedicatedLaneStatus.values), name="dedicated_lane_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["organization", *LANE_ROUTE], name="dedicated_lane_lane_idx")]

    # Related rows that must belong to the lane's organization (checked in clean()).
    ORGANIZATION_FIELDS = ["business_unit", *LANE_FIELDS, "primary_worker", "secondary_worker"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = other_organization_errors(self, self.ORGANIZATION_FIELDS)
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


lane_help_texts(
    DedicatedLane,
    {
        "customer": "Customer served.",
        "origin_location": "Lane origin.",
        "destination_location": "Lane destination; differs from origin.",
        "service_type": "Service level of the lane.",
        "shipment_type": "Kind of load on the lane.",
        "tractor_type": "Tractor type.",
        "trailer_type": "Trailer type.",
    },
)
