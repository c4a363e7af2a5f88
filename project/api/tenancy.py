"""Tenant scoping in one place: who the caller is, which organization they act for, what they may see.

``IsTenantMember`` (the default permission of every API view) lets through authenticated users with a
membership and sets ``request.tenant``; views read it (the job framework's too, without importing the
domain). ``TenantScopedView`` narrows a view's queryset to the tenant's organization, so another
organization's object is a 404 and never appears in a list. ``TenantRelatedField`` makes an id in a request
body that belongs to another organization a 400 field error, never a silent link.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import generics, serializers

from project.api.permissions import IsOrganizationAdmin, IsStaffMember, IsTenantMember, Tenant, tenant_of

__all__ = [
    "IsOrganizationAdmin",
    "IsStaffMember",
    "IsTenantMember",
    "Tenant",
    "TenantRelatedField",
    "TenantScopedView",
    "tenant_of",
]


class TenantScopedView(generics.GenericAPIView):
    """A generic view over the caller's organization's rows (``tenant_field``): another organization's object
    is a 404 and never in a list. Schema generation (no request, no tenant) sees an empty queryset."""

    tenant_field = "organization_id"

    def get_queryset(self) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        return queryset.filter(**{self.tenant_field: self.request.tenant.organization_id})


class TenantRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key limited to the caller's organization: another organization's id is "does not exist"."""

    def __init__(self, *, model: type[Model], tenant_field: str = "organization_id", **kwargs: Any) -> None:
        self.model, self.tenant_field = model, tenant_field
        kwargs.setdefault("queryset", model._default_manager.all())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        request = self.context.get("request")
        tenant = getattr(request, "tenant", None)
        base = self.model._default_manager.all()
        if tenant is None:
            return base.none()
        return base.filter(**{self.tenant_field: tenant.organization_id})
