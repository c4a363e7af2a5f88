"""Admin for the TMS domain: tenants, master data, shipments, dedicated lanes and pattern configuration."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OrderBy, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from patterns.admin_review import (
    AcceptSuggestionForm,
    RejectSuggestionsForm,
    SuggestionStatusFilter,
    form_errors,
    money,
    route,
    score_parts,
    week_chart,
)
from patterns.errors import SuggestionError
from patterns.evidence import cadence_per_week, weeks_touched
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
from patterns.selectors import (
    SUGGESTION_RANKING,
    suggestion_detection_context,
    suggestion_review,
    suggestions_ranked,
)
from patterns.services import pattern_analysis_enqueue, suggestion_accept, suggestion_reject
from patterns.triggers import shipment_trigger_jobs
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

    def save_model(self, request: HttpRequest, obj: Shipment, form: Any, change: bool) -> None:
        # The save's triggers ask for background jobs (pushed once the admin's transaction commits): say which.
        with shipment_trigger_jobs() as jobs:
            super().save_model(request, obj, form, change)
        if jobs:
            links = format_html_join(
                ", ",
                '<a href="{}">{} {}</a>{}',
                (
                    (
                        reverse("admin:trenova_jobs_jobrecord_change", args=[job.id]),
                        job.job_type,
                        job.id,
                        " (merged into one already waiting)" if getattr(job, "deduplicated", False) else "",
                    )
                    for job in jobs
                ),
            )
            self.message_user(request, format_html("This save asked for {} background job(s): {}.", len(jobs), links))

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


class RankedChangeList(ChangeList):
    """The suggestion list, whose column headers mark the ranking it is sorted by.

    The headers show the default ordering of ``ModelAdmin.ordering`` or the model's Meta, not of
    ``get_ordering()``; the ranking can be neither (it names an annotation), so it is given here.
    """

    def _get_default_ordering(self) -> list[Any]:
        return list(SUGGESTION_RANKING)


@admin.register(DedicatedLaneSuggestion)
class DedicatedLaneSuggestionAdmin(TimestampedAdmin):
    """Suggestions are made by pattern detection and decided on the review page or by the list's actions.

    The change page is a read-only review (``review.html``): the lane, the score's parts, the evidence
    (``patterns.selectors.suggestion_review``) and the accept/reject forms, which post to views of their
    own that call the services. Nothing is edited, added or deleted by hand: a suggestion is the record of
    a decision (the rejection cooldown and the lane's origin depend on it).
    """

    list_display = (
        "lane",
        "customer_display",
        "confidence_score",
        "weeks_active_display",
        "cadence",
        "revenue",
        "last_seen",
        "status_display",
        "expires",
    )
    list_filter = (SuggestionStatusFilter, "organization", "expires_at")
    search_fields = (
        "suggested_name",
        "customer__code",
        "customer__name",
        "origin_location__code",
        "origin_location__city",
        "destination_location__code",
        "destination_location__city",
    )
    list_select_related = ("organization", "customer", "origin_location", "destination_location")
    actions = ("accept_selected", "reject_selected")
    show_full_result_count = False
    review_template = "admin/patterns/dedicatedlanesuggestion/review.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[DedicatedLaneSuggestion]:
        return suggestions_ranked(suggestions=super().get_queryset(request))

    # django-stubs types an ordering as strings only; Django takes expressions too (as `ordering` does).
    def get_ordering(self, request: HttpRequest) -> tuple[OrderBy, ...]:  # type: ignore[override]
        # Ties on the score are ranked by evidence (selectors.SUGGESTION_RANKING, docs/decisions.md);
        # `ordering` cannot name the weeks_active annotation (the admin checks it against the fields).
        return SUGGESTION_RANKING

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return RankedChangeList

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/accept/",
                self.admin_site.admin_view(self.accept_view),
                name="{}_{}_accept".format(*info),
            ),
            path(
                "<path:object_id>/reject/",
                self.admin_site.admin_view(self.reject_view),
                name="{}_{}_reject".format(*info),
            ),
            *super().get_urls(),
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # suggestions come from pattern detection

    def has_delete_permission(self, request: HttpRequest, obj: DedicatedLaneSuggestion | None = None) -> bool:
        return False  # decisions are kept: reject a suggestion instead (no "Delete selected" either)

    # --- the list's columns

    @admin.display(description="Lane", ordering="origin_location__city")
    def lane(self, obj: DedicatedLaneSuggestion) -> str:
        codes = f"{obj.origin_location.code} → {obj.destination_location.code}"
        return format_html('<span class="lane" title="{}">{}</span>', codes, route(obj))

    @admin.display(description="Customer", ordering="customer__name")
    def customer_display(self, obj: DedicatedLaneSuggestion) -> str:
        return format_html('{} <span class="quiet">{}</span>', obj.customer.name, obj.customer.code)

    @admin.display(description="Weeks active", ordering="weeks_active")
    def weeks_active_display(self, obj: DedicatedLaneSuggestion) -> str:
        context = suggestion_detection_context(obj)
        weeks = weeks_touched(start=context.window_start, end=context.window_end)
        return f"{obj.weeks_active} of {weeks}"  # type: ignore[attr-defined]

    @admin.display(description="Cadence", ordering="frequency")
    def cadence(self, obj: DedicatedLaneSuggestion) -> str:
        days = suggestion_detection_context(obj).window_days
        per_week = cadence_per_week(shipments=obj.frequency, window_days=days)
        return format_html(
            '<span title="{} shipments in {} days">{}/wk</span>', obj.frequency, round(days), f"{per_week:.1f}"
        )

    @admin.display(description="Revenue (window)", ordering="total_freight_charge")
    def revenue(self, obj: DedicatedLaneSuggestion) -> str:
        return money(obj.total_freight_charge)

    @admin.display(description="Last seen", ordering="last_shipment_date")
    def last_seen(self, obj: DedicatedLaneSuggestion) -> date:
        return timezone.localdate(obj.last_shipment_date)

    @admin.display(description="Status", ordering="status")
    def status_display(self, obj: DedicatedLaneSuggestion) -> str:
        if obj.status == SuggestionStatus.PENDING and obj.expires_at <= timezone.now():
            return "Pending (expired)"
        return obj.get_status_display()

    @admin.display(description="Expires", ordering="expires_at")
    def expires(self, obj: DedicatedLaneSuggestion) -> date:
        return timezone.localdate(obj.expires_at)

    # --- the review page (the change view) and its forms

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET"])  # decisions are posted to the accept and reject views
        return self._review_response(request, object_id)

    def accept_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        suggestion = self._decidable(request, object_id)
        if isinstance(suggestion, HttpResponse):
            return suggestion
        form = AcceptSuggestionForm(request.POST, organization_id=suggestion.organization_id)
        if form.is_valid():
            try:
                lane = suggestion_accept(
                    suggestion=suggestion,
                    user=_acting_user(request),
                    name=form.cleaned_data["name"],
                    primary_worker=form.cleaned_data["primary_worker"],
                    secondary_worker=form.cleaned_data["secondary_worker"],
                    auto_assign=form.cleaned_data["auto_assign"],
                )
            except SuggestionError as exc:
                form_errors(form, exc)
            else:
                self._log_accepted(request, suggestion, lane)
                lane_url = reverse("admin:patterns_dedicatedlane_change", args=[lane.pk])
                self.message_user(
                    request,
                    format_html(
                        'Accepted the suggestion for {}: created the dedicated lane <a href="{}">{}</a>.',
                        route(suggestion),
                        lane_url,
                        lane.name,
                    ),
                    messages.SUCCESS,
                )
                return redirect(lane_url)
        self._refused(request, "accepted", form)
        return self._review_response(request, object_id, accept_form=form)

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        suggestion = self._decidable(request, object_id)
        if isinstance(suggestion, HttpResponse):
            return suggestion
        form = RejectSuggestionsForm(request.POST)
        if form.is_valid():
            try:
                suggestion_reject(suggestion=suggestion, user=_acting_user(request), reason=form.cleaned_data["reason"])
            except SuggestionError as exc:
                form_errors(form, exc)
            else:
                self._log_rejected(request, suggestion)
                self.message_user(
                    request,
                    format_html(
                        'Rejected the suggestion for <a href="{}">{}</a>.',
                        reverse("admin:patterns_dedicatedlanesuggestion_change", args=[suggestion.pk]),
                        route(suggestion),
                    ),
                    messages.SUCCESS,
                )
                return redirect("admin:patterns_dedicatedlanesuggestion_changelist")
        self._refused(request, "rejected", form)
        return self._review_response(request, object_id, reject_form=form)

    def _refused(self, request: HttpRequest, verb: str, form: forms.Form) -> None:
        # A refusal the form cannot show next to a field (the suggestion was decided meanwhile, it expired)
        # is said in the message itself: a decided suggestion's page has no form to show it on.
        problems = " ".join(str(error) for error in form.non_field_errors())
        detail = f": {problems}" if problems else "; see the errors below."
        self.message_user(request, f"The suggestion was not {verb}{detail}", messages.ERROR)

    def _decidable(self, request: HttpRequest, object_id: str) -> DedicatedLaneSuggestion | HttpResponse:
        """The suggestion a decision is posted for, or the response that refuses it."""
        if request.method != "POST":
            return redirect("admin:patterns_dedicatedlanesuggestion_change", object_id)
        suggestion = self.get_object(request, object_id)
        if suggestion is None:
            return self._missing(request, object_id)
        if not self.has_change_permission(request, suggestion):
            raise PermissionDenied
        return suggestion

    def _review_response(
        self,
        request: HttpRequest,
        object_id: str,
        *,
        accept_form: AcceptSuggestionForm | None = None,
        reject_form: RejectSuggestionsForm | None = None,
    ) -> HttpResponse:
        review = suggestion_review(suggestion_id=object_id) if object_id.isdigit() else None
        if review is None:
            return self._missing(request, object_id)
        suggestion = review.suggestion
        if not self.has_view_or_change_permission(request, suggestion):
            raise PermissionDenied
        pending = suggestion.status == SuggestionStatus.PENDING
        expired = suggestion.status == SuggestionStatus.EXPIRED or (pending and suggestion.expires_at <= timezone.now())
        may_decide = pending and self.has_change_permission(request, suggestion)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Review suggestion: {route(suggestion)}",
            "subtitle": None,
            "opts": self.opts,
            "original": suggestion,
            "review": review,
            "suggestion": suggestion,
            "evidence": review.evidence,
            "route": route(suggestion),
            "score_parts": score_parts(review),
            "chart": week_chart(review.evidence.weeks),
            "pending": pending,
            "expired": expired,
            # Accepting needs a Pending, unexpired suggestion; rejecting only a Pending one.
            "accept_form": (
                accept_form
                or AcceptSuggestionForm(
                    initial={"name": suggestion.suggested_name}, organization_id=suggestion.organization_id
                )
            )
            if may_decide and not expired
            else None,
            "reject_form": (reject_form or RejectSuggestionsForm()) if may_decide else None,
            "shipments_shown": len(review.shipments),
            "time_zone": timezone.get_current_timezone_name(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.review_template, context)

    def _missing(self, request: HttpRequest, object_id: str) -> HttpResponse:
        # What the admin's own change view answers for an id that is not there.
        self.message_user(
            request, f"Lane suggestion with ID “{object_id}” doesn’t exist. Perhaps it was deleted?", messages.WARNING
        )
        return redirect("admin:index")

    def _log_accepted(self, request: HttpRequest, suggestion: DedicatedLaneSuggestion, lane: DedicatedLane) -> None:
        self.log_change(request, suggestion, f"Accepted: created the dedicated lane “{lane.name}”.")
        self.log_addition(request, lane, f"Created by accepting the lane suggestion “{suggestion.suggested_name}”.")

    def _log_rejected(self, request: HttpRequest, suggestion: DedicatedLaneSuggestion) -> None:
        reason = suggestion.reject_reason
        self.log_change(request, suggestion, f"Rejected: {reason}" if reason else "Rejected.")

    # --- the list's actions

    @admin.action(description="Accept selected suggestions (create dedicated lanes)", permissions=["change"])
    def accept_selected(self, request: HttpRequest, queryset: QuerySet[DedicatedLaneSuggestion]) -> None:
        accepted, refused = [], []
        for suggestion in queryset:
            try:
                lane = suggestion_accept(suggestion=suggestion, user=_acting_user(request))
            except SuggestionError as exc:
                refused.append(f"{suggestion.suggested_name}: {exc}")
                continue
            self._log_accepted(request, suggestion, lane)
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
                self._log_rejected(request, suggestion)
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
