"""Admin for the TMS domain: tenants, master data, shipments, dedicated lanes and pattern configuration."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html

from patterns.errors import SuggestionError
from patterns.models import (
    BusinessUnit,
    Customer,
    DedicatedLane,
    DedicatedLaneSuggestion,
    EquipmentClass,
    EquipmentType,
    Location,
    Membership,
    Organization,
    PatternConfig,
    ServiceType,
    Shipment,
    ShipmentType,
    SuggestionStatus,
    TriggerReason,
    Worker,
)
from patterns.services import pattern_analysis_enqueue, suggestion_accept, suggestion_reject
from trenova_jobs import JobError

if TYPE_CHECKING:
    # django-stubs' type of one fieldset's options (it exists for type checking only).
    from django.contrib.admin.options import _FieldOpts
    from django.contrib.auth.models import User as AuthUser

TIMESTAMPS = ("created_at", "updated_at")
TIMESTAMPS_FIELDSET: tuple[str, _FieldOpts] = ("Timestamps", {"fields": TIMESTAMPS, "classes": ("collapse",)})


def _acting_user(request: HttpRequest) -> AuthUser:
    """The user an admin action acts for (the admin site lets only logged-in staff in)."""
    if isinstance(request.user, AnonymousUser):
        raise PermissionDenied
    return request.user


class TimestampedAdmin(admin.ModelAdmin):
    readonly_fields: ClassVar[tuple[str, ...]] = TIMESTAMPS


class OrganizationScopedAdmin(TimestampedAdmin):
    """Master data: small per-organization tables, searchable so that other admins can autocomplete them."""

    list_filter: ClassVar[tuple[str, ...]] = ("organization",)
    list_select_related: ClassVar[tuple[str, ...]] = ("organization",)


MESSAGES_SHOWN = 10  # per-row messages an action reports before summarising the rest


def _report(
    modeladmin: admin.ModelAdmin, request: HttpRequest, lines: list[str], level: int, more: str = "more"
) -> None:
    for line in lines[:MESSAGES_SHOWN]:
        modeladmin.message_user(request, line, level)
    if len(lines) > MESSAGES_SHOWN:
        modeladmin.message_user(request, f"… and {len(lines) - MESSAGES_SHOWN} {more}.", level)


class AnalyzeNowMixin(admin.ModelAdmin):
    """An "Analyze patterns now" action: enqueues one pattern:analyze per selected row, reports job ids."""

    def analysis_scope(self, obj: Any) -> tuple[int, int | None]:
        """(organization id, customer id or None) of a selected row."""
        raise NotImplementedError

    @admin.action(description="Analyze patterns now")
    def analyze_patterns_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        queued: list[str] = []
        merged: list[str] = []
        failed: list[str] = []
        for obj in queryset:
            organization_id, customer_id = self.analysis_scope(obj)
            try:
                record = pattern_analysis_enqueue(
                    organization_id=organization_id,
                    customer_id=customer_id,
                    user_id=request.user.pk,
                    trigger_reason=TriggerReason.ADMIN,
                )
            except JobError as exc:
                failed.append(f"{obj}: {exc}")
                continue
            line = f"{obj}: job {record.id}"
            (merged if getattr(record, "deduplicated", False) else queued).append(line)
        if queued:
            self.message_user(request, f"Queued {len(queued)} pattern analysis job(s).", messages.SUCCESS)
            _report(self, request, queued, messages.SUCCESS)
        if merged:
            self.message_user(request, f"{len(merged)} already queued, not queued again:", messages.INFO)
            _report(self, request, merged, messages.INFO)
        _report(self, request, failed, messages.ERROR)


# --- Tenancy ---------------------------------------------------------------------------------------


class BusinessUnitInline(admin.TabularInline):
    model = BusinessUnit
    extra = 0
    fields = ("code", "name")


class PatternConfigInline(admin.StackedInline):
    model = PatternConfig
    extra = 0
    max_num = 1
    can_delete = True


@admin.register(Organization)
class OrganizationAdmin(AnalyzeNowMixin, TimestampedAdmin):
    list_display = ("name", "slug", "business_unit_count", "created_at")
    search_fields = ("name", "slug")
    actions = ("analyze_patterns_now",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = (BusinessUnitInline, PatternConfigInline)
    fieldsets = ((None, {"fields": ("name", "slug")}), TIMESTAMPS_FIELDSET)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return super().get_queryset(request).annotate(_business_unit_count=Count("business_units"))

    @admin.display(description="Business units", ordering="_business_unit_count")
    def business_unit_count(self, obj: Organization) -> int:
        return obj._business_unit_count  # type: ignore[attr-defined]

    def analysis_scope(self, obj: Organization) -> tuple[int, int | None]:
        return obj.pk, None


@admin.register(BusinessUnit)
class BusinessUnitAdmin(OrganizationScopedAdmin):
    list_display = ("name", "code", "organization", "created_at")
    search_fields = ("name", "code", "organization__name")
    fieldsets = ((None, {"fields": ("organization", "code", "name")}), TIMESTAMPS_FIELDSET)


@admin.register(Membership)
class MembershipAdmin(OrganizationScopedAdmin):
    list_display = ("user", "organization", "business_unit", "is_org_admin", "created_at")
    list_filter = ("organization", "is_org_admin")
    list_select_related = ("user", "organization", "business_unit__organization")
    search_fields = ("user__username", "user__email", "organization__name", "business_unit__name")
    autocomplete_fields = ("user", "business_unit")
    fieldsets = ((None, {"fields": ("user", "organization", "business_unit", "is_org_admin")}), TIMESTAMPS_FIELDSET)


class MembershipInline(admin.StackedInline):
    """The user's organization and business unit, edited on the user's own page."""

    model = Membership
    can_delete = True
    extra = 0
    max_num = 1
    fields = ("organization", "business_unit", "is_org_admin")
    autocomplete_fields = ("business_unit",)


User = get_user_model()


class MemberUserAdmin(UserAdmin):
    inlines = (MembershipInline,)
    list_select_related = ("membership__organization",)

    def get_list_display(self, request: HttpRequest) -> Any:
        return (*super().get_list_display(request), "membership_organization")

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        # Django's two-step "add user" form only asks for credentials; the membership comes after.
        return self.inlines if obj is not None else ()

    @admin.display(description="Organization", ordering="membership__organization__name")
    def membership_organization(self, obj: Any) -> str:
        membership = getattr(obj, "membership", None)
        return str(membership.organization) if membership else "—"


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, MemberUserAdmin)


# --- Master data -----------------------------------------------------------------------------------


@admin.register(Customer)
class CustomerAdmin(AnalyzeNowMixin, OrganizationScopedAdmin):
    list_display = ("code", "name", "organization", "created_at")
    search_fields = ("code", "name")
    fieldsets = ((None, {"fields": ("organization", "code", "name")}), TIMESTAMPS_FIELDSET)
    actions = ("analyze_patterns_now",)

    def analysis_scope(self, obj: Customer) -> tuple[int, int | None]:
        return obj.organization_id, obj.pk


@admin.register(Location)
class LocationAdmin(OrganizationScopedAdmin):
    list_display = ("code", "name", "city", "state", "postal_code", "organization")
    list_filter = ("organization", "state")
    search_fields = ("code", "name", "city", "postal_code")
    fieldsets = (
        (None, {"fields": ("organization", "code", "name")}),
        ("Address", {"fields": ("city", "state", "postal_code")}),
        TIMESTAMPS_FIELDSET,
    )


class CodedTypeAdmin(OrganizationScopedAdmin):
    list_display: tuple[str, ...] = ("code", "description", "organization")
    search_fields = ("code", "description")
    fieldsets = ((None, {"fields": ("organization", "code", "description")}), TIMESTAMPS_FIELDSET)


@admin.register(ServiceType)
class ServiceTypeAdmin(CodedTypeAdmin):
    pass


@admin.register(ShipmentType)
class ShipmentTypeAdmin(CodedTypeAdmin):
    pass


@admin.register(EquipmentType)
class EquipmentTypeAdmin(CodedTypeAdmin):
    list_display = ("code", "equipment_class", "description", "organization")
    list_filter = ("organization", "equipment_class")
    fieldsets = (
        (None, {"fields": ("organization", "code", "equipment_class", "description")}),
        TIMESTAMPS_FIELDSET,
    )

    # Autocomplete widgets name the field they serve; offer tractors for tractor_type and trailers
    # for trailer_type so that the pickers on shipments and lanes only list sensible choices.
    _CLASS_BY_FIELD = {
        "tractor_type": EquipmentClass.TRACTOR,
        "trailer_type": EquipmentClass.TRAILER,
    }

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[EquipmentType], search_term: str
    ) -> tuple[QuerySet[EquipmentType], bool]:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        equipment_class = self._CLASS_BY_FIELD.get(request.GET.get("field_name", ""))
        if equipment_class and request.GET.get("app_label") == "patterns":
            queryset = queryset.filter(equipment_class=equipment_class)
        return queryset, may_have_duplicates


@admin.register(Worker)
class WorkerAdmin(OrganizationScopedAdmin):
    list_display = ("code", "last_name", "first_name", "organization")
    search_fields = ("code", "first_name", "last_name")
    fieldsets = ((None, {"fields": ("organization", "code", "first_name", "last_name")}), TIMESTAMPS_FIELDSET)


# --- Shipments and lanes ---------------------------------------------------------------------------


@admin.register(Shipment)
class ShipmentAdmin(TimestampedAdmin):
    list_display = (
        "pro_number",
        "status",
        "customer",
        "lane",
        "planned_pickup_at",
        "planned_delivery_at",
        "freight_charge_amount",
        "is_hazmat",
        "organization",
    )
    list_filter = ("status", "is_hazmat", "organization")
    search_fields = (
        "^pro_number",
        "customer__code",
        "customer__name",
        "origin_location__code",
        "destination_location__code",
    )
    list_select_related = ("organization", "customer", "origin_location", "destination_location")
    # The shipment table is the big one: no select boxes listing every related row, no COUNT(*)
    # of the whole table on each changelist page.
    autocomplete_fields = (*Shipment.ORGANIZATION_FIELDS, "owner")
    show_full_result_count = False
    date_hierarchy = "created_at"
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("organization", "business_unit", "pro_number", "status", "customer", "owner")}),
        (
            "Route and schedule",
            {
                "fields": (
                    ("origin_location", "destination_location"),
                    ("planned_pickup_at", "planned_delivery_at"),
                    "actual_delivery_at",
                )
            },
        ),
        (
            "Load",
            {
                "fields": (
                    ("service_type", "shipment_type"),
                    ("tractor_type", "trailer_type"),
                    "freight_charge_amount",
                )
            },
        ),
        (
            "Hazardous materials",
            {
                "fields": (
                    "is_hazmat",
                    ("hazmat_un_number", "hazmat_class"),
                    "hazmat_emergency_contact",
                    ("compliance_issues", "compliance_checked_at"),
                ),
                "description": (
                    "Open hazmat shipments need all three; the hourly compliance check records what is missing."
                ),
            },
        ),
        TIMESTAMPS_FIELDSET,
    )
    # Written by the compliance check (compliance:check), not by hand.
    readonly_fields = (*TIMESTAMPS, "compliance_issues", "compliance_checked_at")

    @admin.display(description="Lane")
    def lane(self, obj: Shipment) -> str:
        origin = obj.origin_location.code if obj.origin_location else "?"
        destination = obj.destination_location.code if obj.destination_location else "?"
        return f"{origin} → {destination}"


@admin.register(DedicatedLane)
class DedicatedLaneAdmin(TimestampedAdmin):
    list_display = (
        "name",
        "status",
        "customer",
        "origin_location",
        "destination_location",
        "service_type",
        "shipment_type",
        "primary_worker",
        "auto_assign",
        "organization",
    )
    list_filter = ("status", "auto_assign", "organization")
    search_fields = ("name", "customer__code", "customer__name", "origin_location__code", "destination_location__code")
    list_select_related = (
        "organization",
        "customer",
        "origin_location",
        "destination_location",
        "service_type",
        "shipment_type",
        "primary_worker",
    )
    autocomplete_fields = tuple(DedicatedLane.ORGANIZATION_FIELDS)
    fieldsets = (
        (None, {"fields": ("organization", "business_unit", "name", "status", "customer")}),
        ("Route", {"fields": (("origin_location", "destination_location"),)}),
        (
            "Service and equipment",
            {"fields": (("service_type", "shipment_type"), ("tractor_type", "trailer_type"))},
        ),
        (
            "Drivers",
            {
                "fields": (("primary_worker", "secondary_worker"), "auto_assign"),
                "description": "Auto-assign needs a primary driver; the secondary must be someone else.",
            },
        ),
        TIMESTAMPS_FIELDSET,
    )


# --- Pattern configuration -------------------------------------------------------------------------


@admin.register(PatternConfig)
class PatternConfigAdmin(TimestampedAdmin):
    list_display = (
        "organization",
        "enabled",
        "min_frequency",
        "analysis_window_days",
        "min_confidence_score",
        "suggestion_ttl_days",
        "require_exact_match",
        "weight_recent_shipments",
        "rejection_cooldown_days",
    )
    list_filter = ("enabled", "require_exact_match", "weight_recent_shipments")
    list_select_related = ("organization",)
    search_fields = ("organization__name", "organization__slug")
    fieldsets = (
        (None, {"fields": ("organization", "enabled")}),
        (
            "Detection",
            {
                "fields": (
                    "min_frequency",
                    "analysis_window_days",
                    "min_confidence_score",
                    "require_exact_match",
                    "weight_recent_shipments",
                )
            },
        ),
        ("Suggestions", {"fields": ("suggestion_ttl_days", "rejection_cooldown_days")}),
        TIMESTAMPS_FIELDSET,
    )


# --- Lane suggestions ------------------------------------------------------------------------------


class RejectSuggestionsForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Why these lanes should not become dedicated lanes; kept on each suggestion.",
    )


@admin.register(DedicatedLaneSuggestion)
class DedicatedLaneSuggestionAdmin(TimestampedAdmin):
    """Suggestions are made by pattern detection and decided through the actions; no field is edited by hand."""

    list_display = (
        "lane",
        "customer",
        "frequency",
        "confidence_score",
        "status",
        "expires_at",
        "suggested_name",
        "organization",
    )
    list_filter = ("status", "organization", "expires_at")
    search_fields = (
        "suggested_name",
        "customer__code",
        "customer__name",
        "origin_location__code",
        "destination_location__code",
    )
    list_select_related = ("organization", "customer", "origin_location", "destination_location")
    ordering = ("-confidence_score", "-frequency", "-created_at")
    actions = ("accept_selected", "reject_selected")
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("organization", "business_unit", "status", "suggested_name", "expires_at")}),
        (
            "Lane",
            {
                "fields": (
                    "customer",
                    ("origin_location", "destination_location"),
                    ("service_type", "shipment_type"),
                    ("tractor_type", "trailer_type"),
                )
            },
        ),
        (
            "Evidence",
            {
                "fields": (
                    ("confidence_score", "frequency"),
                    ("first_shipment_date", "last_shipment_date"),
                    ("total_freight_charge", "average_freight_charge"),
                    "pattern_details_display",
                )
            },
        ),
        ("Decision", {"fields": ("processed_by", "processed_at", "reject_reason", "created_dedicated_lane")}),
        TIMESTAMPS_FIELDSET,
    )

    def get_readonly_fields(self, request: HttpRequest, obj: DedicatedLaneSuggestion | None = None) -> list[str]:
        # Read-only: changes go through the accept/reject services (the actions), never a raw edit.
        return [*(f.name for f in self.model._meta.fields if f.name != "id"), "pattern_details_display"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # suggestions come from pattern detection

    @admin.display(description="Lane", ordering="origin_location__code")
    def lane(self, obj: DedicatedLaneSuggestion) -> str:
        return f"{obj.origin_location.code} → {obj.destination_location.code}"

    @admin.display(description="Pattern details")
    def pattern_details_display(self, obj: DedicatedLaneSuggestion) -> str:
        return format_html(
            "<pre style='white-space: pre-wrap; margin: 0'>{}</pre>", json.dumps(obj.pattern_details, indent=2)
        )

    @admin.action(description="Accept selected suggestions (create dedicated lanes)", permissions=["change"])
    def accept_selected(self, request: HttpRequest, queryset: QuerySet[DedicatedLaneSuggestion]) -> None:
        accepted, refused = [], []
        for suggestion in queryset:
            try:
                lane = suggestion_accept(suggestion=suggestion, user=_acting_user(request))
            except SuggestionError as exc:
                refused.append(f"{suggestion.suggested_name}: {exc}")
                continue
            accepted.append(lane.name)
        if accepted:
            lanes = ", ".join(accepted)
            self.message_user(
                request, f"Accepted {len(accepted)} suggestion(s); created lanes: {lanes}.", messages.SUCCESS
            )
        _report(self, request, refused, messages.ERROR, more="more refused")

    @admin.action(description="Reject selected suggestions…", permissions=["change"])
    def reject_selected(
        self, request: HttpRequest, queryset: QuerySet[DedicatedLaneSuggestion]
    ) -> TemplateResponse | None:
        form = RejectSuggestionsForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            rejected, refused = 0, []
            for suggestion in queryset:
                try:
                    suggestion_reject(
                        suggestion=suggestion, user=_acting_user(request), reason=form.cleaned_data["reason"]
                    )
                except SuggestionError as exc:
                    refused.append(f"{suggestion.suggested_name}: {exc}")
                    continue
                rejected += 1
            if rejected:
                self.message_user(request, f"Rejected {rejected} suggestion(s).", messages.SUCCESS)
            _report(self, request, refused, messages.ERROR, more="more refused")
            return None  # back to the list
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject lane suggestions",
            "opts": self.model._meta,
            "form": form,
            "suggestions": queryset.select_related("customer", "origin_location", "destination_location"),
            "pending": SuggestionStatus.PENDING,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "reject_selected",
        }
        return TemplateResponse(request, "admin/patterns/dedicatedlanesuggestion/reject.html", context)
