"""Who may call the API: members of an organization (``request.tenant``), staff, organization admins.

Kept apart from the views' helpers (``project.api.tenancy``): DRF imports the default permission class while
it sets up its views, so this module imports nothing of DRF but its permissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from patterns.models import Membership

NO_MEMBERSHIP = "Your user has no organization membership; ask an administrator to add one."


@dataclass(frozen=True)
class Tenant:
    organization_id: int
    business_unit_id: int
    is_org_admin: bool


def tenant_of(user: Any) -> Tenant | None:
    if not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, "_trenova_tenant", None)
    if cached is not None:
        return cached if isinstance(cached, Tenant) else None
    row = (
        Membership.objects.filter(user=user).values_list("organization_id", "business_unit_id", "is_org_admin").first()
    )
    tenant = Tenant(*row) if row else None
    user._trenova_tenant = tenant or False
    return tenant


class IsTenantMember(BasePermission):
    """Authenticated, with an organization membership (403 otherwise); sets ``request.tenant``."""

    message = NO_MEMBERSHIP

    def has_permission(self, request: Request, view: Any) -> bool:
        tenant = tenant_of(request.user)
        if tenant is None:
            return False
        request.tenant = tenant  # type: ignore[attr-defined]
        return True


class IsStaffMember(IsTenantMember):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        self.message = "Only staff may do this."
        return bool(request.user.is_staff)


class IsOrganizationAdmin(IsTenantMember):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False  # the membership message
        self.message = "Only organization administrators may do this."
        return bool(request.tenant.is_org_admin)
