"""Master data of an organization: customers, locations, service/shipment/equipment types and drivers."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from patterns.models.tenancy import OrganizationScopedModel


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


class EquipmentClass(models.TextChoices):
    TRACTOR = "Tractor", "Tractor"
    TRAILER = "Trailer", "Trailer"


class EquipmentType(CodedType):
    equipment_class = models.CharField(
        max_length=10, choices=EquipmentClass.choices, help_text="Whether this is a tractor or a trailer type."
    )

    class Meta(CodedType.Meta):
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="equipment_type_code_unique_per_org"),
            models.CheckConstraint(
                condition=Q(equipment_class__in=EquipmentClass.values), name="equipment_type_class_valid"
            ),
        ]


class Worker(OrganizationScopedModel):
    """A driver who can be assigned to a dedicated lane."""

    code = models.CharField(max_length=30, help_text="Driver code, unique within the organization.")
    first_name = models.CharField(max_length=100, help_text="First name.")
    last_name = models.CharField(max_length=100, help_text="Last name.")

    class Meta:
        # "Worker" is the seed's name for a driver; in admin it would sit beside the job workers.
        verbose_name = "driver"
        verbose_name_plural = "drivers"
        ordering = ["last_name", "first_name"]
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="worker_code_unique_per_org")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} ({self.code})"
