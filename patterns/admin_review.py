"""The lane suggestion review page's parts: its forms, the list's status filter, the chart and the score's words.

``patterns.admin.DedicatedLaneSuggestionAdmin`` puts them together; nothing here queries beyond a form's choices.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from patterns.errors import LaneNameClashError, SuggestionError, SuggestionValidationError
from patterns.evidence import WeekBar
from patterns.models import LANE_NAME_MAX_LENGTH, DedicatedLaneSuggestion, Location, SuggestionStatus, Worker
from patterns.scoring import FREQUENCY_CAP, RECENCY_POINTS, REGULARITY_POINTS, VALUE_POINTS, VALUE_THRESHOLD, whole_days
from patterns.selectors import SuggestionReview

if TYPE_CHECKING:
    # django-stubs' type of one filter choice (it exists for type checking only).
    from django.contrib.admin.filters import _ListFilterChoices


class RejectSuggestionsForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Why the lane should not become a dedicated lane; kept on each suggestion rejected.",
    )


class AcceptSuggestionForm(forms.Form):
    """What ``suggestion_accept`` takes; it checks the combination (auto-assign needs a primary driver …)."""

    name = forms.CharField(
        max_length=LANE_NAME_MAX_LENGTH,
        help_text="Name of the new dedicated lane; unique in the organization (in any case).",
    )
    primary_worker = forms.ModelChoiceField(
        queryset=Worker.objects.none(),
        required=False,
        label="Primary driver",
        help_text="Driver assigned first; auto-assign needs one.",
    )
    secondary_worker = forms.ModelChoiceField(
        queryset=Worker.objects.none(),
        required=False,
        label="Secondary driver",
        help_text="Back-up driver; must differ from the primary.",
    )
    auto_assign = forms.BooleanField(
        required=False,
        label="Auto-assign",
        help_text="Assign the primary driver to new shipments on this lane automatically.",
    )

    def __init__(self, *args: Any, organization_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        workers = Worker.objects.filter(organization_id=organization_id)
        for name in ("primary_worker", "secondary_worker"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = workers


class SuggestionStatusFilter(admin.SimpleListFilter):
    """Status, Pending by default: what planners open the list for. "All" shows every status.

    Pending means still open (not past ``expires_at``); Expired also holds Pending rows past it that the
    expiry job has not flipped yet, as the API's lists count them.
    """

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(self.ALL, "All"), *SuggestionStatus.choices]

    def current(self) -> str:
        return self.value() or SuggestionStatus.PENDING

    def choices(self, changelist: Any) -> Iterator[_ListFilterChoices]:
        # No "All" entry of SimpleListFilter's own: without the parameter, the list shows Pending.
        counts = self.get_facet_queryset(changelist) if changelist.add_facets else None
        for index, (lookup, title) in enumerate(self.lookup_choices):
            if counts is not None:
                title = f"{title} ({counts.get(f'{index}__c', '-')})"
            yield {
                "selected": self.current() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[DedicatedLaneSuggestion]
    ) -> QuerySet[DedicatedLaneSuggestion]:
        value, now = self.current(), timezone.now()
        if value == self.ALL:
            return queryset
        if value == SuggestionStatus.PENDING:
            return queryset.filter(status=SuggestionStatus.PENDING, expires_at__gt=now)
        if value == SuggestionStatus.EXPIRED:
            return queryset.filter(
                Q(status=SuggestionStatus.EXPIRED) | Q(status=SuggestionStatus.PENDING, expires_at__lte=now)
            )
        if value in SuggestionStatus.values:
            return queryset.filter(status=value)
        return queryset.none()


def place(location: Location) -> str:
    return f"{location.city}, {location.state}"


def route(suggestion: DedicatedLaneSuggestion) -> str:
    return f"{place(suggestion.origin_location)} → {place(suggestion.destination_location)}"


def money(amount: Decimal, places: int = 0) -> str:
    return f"${amount:,.{places}f}"


# The weekly chart: one bar per calendar week of the window, drawn on the server as inline SVG.
CHART_BAR, CHART_GAP, CHART_PLOT_HEIGHT, CHART_TOP, CHART_AXIS = 18, 6, 100, 16, 30
# Room at each side for a week label centred under the first or last bar ("Aug 31" is ~32 px wide).
CHART_MARGIN = 12


def week_chart(weeks: Sequence[WeekBar]) -> dict[str, Any]:
    """Geometry of the weekly chart's bars and labels (the template only draws them)."""
    tallest = max((week.shipments for week in weeks), default=0) or 1
    label_every = 1 if len(weeks) <= 8 else 2
    bars = []
    for index, week in enumerate(weeks):
        height = round(week.shipments / tallest * CHART_PLOT_HEIGHT)
        x = CHART_MARGIN + index * (CHART_BAR + CHART_GAP)
        shipments = f"{week.shipments} shipment{'' if week.shipments == 1 else 's'}"
        bars.append(
            {
                "x": x,
                "y": CHART_TOP + CHART_PLOT_HEIGHT - height,
                "height": height,
                "center": x + CHART_BAR / 2,
                "count": week.shipments,
                "label": f"{week.start:%b} {week.start.day}" if index % label_every == 0 else "",
                "title": f"Week of {week.start:%Y-%m-%d}: {shipments}, {money(week.revenue)}",
            }
        )
    baseline = CHART_TOP + CHART_PLOT_HEIGHT
    return {
        "bars": bars,
        "bar_width": CHART_BAR,
        "width": max(len(weeks) * (CHART_BAR + CHART_GAP), CHART_BAR) + 2 * CHART_MARGIN,
        "height": baseline + CHART_AXIS,
        "baseline": baseline,
        "count_y": CHART_TOP - 4,
        "label_y": baseline + 14,
    }


def score_parts(review: SuggestionReview) -> list[dict[str, Any]]:
    """Each part of the score with its most and why it got what it got, in the scoring rules' words."""
    suggestion, breakdown, context = review.suggestion, review.breakdown, review.context
    since_last = whole_days((context.detected_at - suggestion.last_shipment_date).total_seconds())
    span = whole_days((suggestion.last_shipment_date - suggestion.first_shipment_date).total_seconds())
    if context.weight_recent:
        recency = f"last shipment {since_last} whole days before detection (≤ 7 → 0.3, ≤ 30 → 0.2, ≤ 60 → 0.1)"
    else:
        recency = "not counted: the organization does not weight recent shipments"
    if suggestion.frequency >= 2 and span > 0:
        regularity = (
            f"average gap {span // (suggestion.frequency - 1)} whole days "
            f"({span} days over {suggestion.frequency - 1} gaps; ≤ 30 → 0.2, ≤ 60 → 0.1)"
        )
    else:
        regularity = "needs two shipments on different days"
    return [
        {
            "name": "Frequency",
            "points": breakdown.frequency,
            "most": FREQUENCY_CAP,
            "why": f"{suggestion.frequency} shipments in the window: 0.1 each, at most {FREQUENCY_CAP}",
        },
        {"name": "Recency", "points": breakdown.recency, "most": RECENCY_POINTS[0][1], "why": recency},
        {"name": "Regularity", "points": breakdown.regularity, "most": REGULARITY_POINTS[0][1], "why": regularity},
        {
            "name": "Value",
            "points": breakdown.value,
            "most": VALUE_POINTS,
            "why": f"{money(suggestion.total_freight_charge)} freight in the window "
            f"(above {money(VALUE_THRESHOLD)} → {VALUE_POINTS})",
        },
    ]


def form_errors(form: forms.Form, exc: SuggestionError) -> None:
    """Put a service's refusal on the form: each field's errors on the field, the rest above the form."""
    errors = exc.errors if isinstance(exc, SuggestionValidationError) else {}
    if isinstance(exc, LaneNameClashError) and "name" in form.fields:
        errors = {"name": [str(exc)]}
    placed = False
    for field, field_errors in errors.items():
        if field in form.fields:
            form.add_error(field, field_errors)
            placed = True
    if not placed or any(field not in form.fields for field in errors):
        form.add_error(None, str(exc))
