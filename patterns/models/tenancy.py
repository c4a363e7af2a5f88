"""Tenancy: organizations (carriers), their business units, users' memberships, and organization-scoped rows."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from patterns.models.base import TimeStampedModel


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
    is_org_admin = models.BooleanField(
        default=False, help_text="May manage the organization's settings through the API (webhook endpoints)."
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


def other_organization_errors(instance: OrganizationScopedModel, fields: Iterable[str]) -> dict[str, str]:
    """Errors for related rows that belong to another organization than ``instance``."""
    errors = {}
    for name in fields:
        related = getattr(instance, name, None)
        org_id = getattr(related, "organization_id", None)
        if related is not None and org_id is not None and org_id != instance.organization_id:
            errors[name] = "This belongs to another organization."
    return errors
