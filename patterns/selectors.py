"""Read-only queries of the patterns domain: shipments to analyse, lane suggestions (ranked, reviewed), lanes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    IntegerField,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Lower, TruncWeek
from django.utils import timezone

from patterns.evidence import DetectionContext, LaneEvidence, ShipmentPoint, detection_context, lane_evidence
from patterns.lanes import (
    LANE_COLUMNS,
    LANE_FIELDS,
    LANE_JOINED,
    LANE_PREFETCHED,
    NULLABLE_LANE_COLUMNS,
    REQUIRED_LANE_FIELDS,
    ROUTE_FIELDS,
    TYPE_FIELDS,
    LaneKey,
    column,
    lane_key_fields,
)
from patterns.models import (
    Customer,
    DedicatedLane,
    DedicatedLaneStatus,
    DedicatedLaneSuggestion,
    Organization,
    PatternConfig,
    Shipment,
    ShipmentStatus,
    SuggestionStatus,
)
from patterns.scoring import ScoreBreakdown, score_breakdown


def organization_get(*, organization_id: int) -> Organization | None:
    """The organization, or None when there is none with that id."""
    return Organization.objects.filter(pk=organization_id).first()


def organization_ids_with_detection_enabled() -> list[int]:
    """Ids of the organizations whose pattern detection is on (those without a configuration use the default: on)."""
    return list(Organization.objects.exclude(pattern_config__enabled=False).order_by("pk").values_list("pk", flat=True))


def customer_exists(*, organization_id: int, customer_id: int) -> bool:
    """Whether the customer exists and belongs to the organization."""
    return Customer.objects.filter(pk=customer_id, organization_id=organization_id).exists()


def shipments_for_analysis(
    *, organization_id: int, customer_id: int | None, start: datetime, end: datetime
) -> QuerySet[Shipment]:
    """Shipments pattern detection looks at, annotated with their ``business_date``.

    The business date is the planned pickup, falling back to the creation time; it must lie in
    [start, end]. Canceled shipments and shipments lacking a lane field that lanes require (customer,
    stops, service type, shipment type) are left out. Unordered: callers group or order it themselves.
    """
    shipments = _analysable_shipments(organization_id=organization_id, start=start, end=end)
    if customer_id is not None:
        shipments = shipments.filter(customer_id=customer_id)
    return shipments.order_by()


def _analysable_shipments(*, organization_id: Any, start: Any, end: Any) -> QuerySet[Shipment]:
    """What detection counts: not Canceled, every required lane field set, business date in [start, end].

    The arguments are plain values, or ``OuterRef``s when this is the inside of a subquery.
    """
    return (
        Shipment.objects.filter(
            organization_id=organization_id, **{f"{name}__isnull": False for name in REQUIRED_LANE_FIELDS}
        )
        .exclude(status=ShipmentStatus.CANCELED)
        .annotate(business_date=Coalesce("planned_pickup_at", "created_at"))
        .filter(business_date__gte=start, business_date__lte=end)
    )


def suggestion_list(
    *,
    organization_id: int,
    status: str | None = None,
    customer_id: int | None = None,
    include_expired: bool = False,
) -> QuerySet[DedicatedLaneSuggestion]:
    """An organization's suggestions, best first (score, then frequency), with their lane fields' rows.

    Expired ones — flipped to Expired or still Pending past ``expires_at`` — are hidden unless
    ``include_expired``.
    """
    suggestions = (
        DedicatedLaneSuggestion.objects.filter(organization_id=organization_id)
        .select_related(*LANE_JOINED)
        .prefetch_related(*LANE_PREFETCHED)
    )
    if status:
        suggestions = suggestions.filter(status=status)
    if customer_id is not None:
        suggestions = suggestions.filter(customer_id=customer_id)
    if not include_expired:
        suggestions = suggestions.exclude(status=SuggestionStatus.EXPIRED).exclude(
            status=SuggestionStatus.PENDING, expires_at__lte=timezone.now()
        )
    return suggestions.order_by("-confidence_score", "-frequency", "-created_at")


def active_lane_keys(*, organization_id: int, customer_id: int | None, exact: bool) -> set[LaneKey]:
    """Lane keys covered by an Active dedicated lane."""
    lanes = DedicatedLane.objects.filter(organization_id=organization_id, status=DedicatedLaneStatus.ACTIVE)
    if customer_id is not None:
        lanes = lanes.filter(customer_id=customer_id)
    return set(lanes.values_list(*lane_key_fields(exact=exact)))


def open_suggestion_keys(*, organization_id: int, customer_id: int | None, exact: bool, now: datetime) -> set[LaneKey]:
    """Lane keys with a Pending suggestion that has not expired."""
    suggestions = DedicatedLaneSuggestion.objects.filter(
        organization_id=organization_id, status=SuggestionStatus.PENDING, expires_at__gt=now
    )
    if customer_id is not None:
        suggestions = suggestions.filter(customer_id=customer_id)
    return set(suggestions.values_list(*lane_key_fields(exact=exact)))


def rejected_suggestion_keys(
    *, organization_id: int, customer_id: int | None, exact: bool, since: datetime
) -> set[LaneKey]:
    """Lane keys whose suggestion was rejected at or after ``since`` (the rejection cooldown)."""
    suggestions = DedicatedLaneSuggestion.objects.filter(
        organization_id=organization_id, status=SuggestionStatus.REJECTED, processed_at__gte=since
    )
    if customer_id is not None:
        suggestions = suggestions.filter(customer_id=customer_id)
    return set(suggestions.values_list(*lane_key_fields(exact=exact)))


def pending_suggestion_exists(*, organization_id: int, lane: object) -> bool:
    """Whether a Pending suggestion holds the exact lane of ``lane`` (an object with the seven lane columns)."""
    key = {name: getattr(lane, name) for name in lane_key_fields(exact=True)}
    return DedicatedLaneSuggestion.objects.filter(
        organization_id=organization_id, status=SuggestionStatus.PENDING, **key
    ).exists()


def lane_names_taken(*, organization_id: int) -> set[str]:
    """Lower-cased names of the organization's dedicated lanes and of its Pending suggestions."""
    lanes = DedicatedLane.objects.filter(organization_id=organization_id).values_list(Lower("name"), flat=True)
    pending = DedicatedLaneSuggestion.objects.filter(
        organization_id=organization_id, status=SuggestionStatus.PENDING
    ).values_list(Lower("suggested_name"), flat=True)
    return set(lanes) | set(pending)


LaneCodes = dict[str, dict[int, str]]


def lane_codes(*, lanes: Iterable[object], fields: Sequence[str] = LANE_FIELDS) -> LaneCodes:
    """The codes of the rows that lanes name: for each lane field, id → code (customer, location, type codes).

    ``lanes`` are objects with the lane columns (``customer_id`` …): detected lanes, suggestions. One
    query per model, whichever fields share it (origin and destination are both locations).
    """
    rows = list(lanes)
    names_by_model: dict[type[Model], list[str]] = {}
    for name in fields:
        model = DedicatedLaneSuggestion._meta.get_field(name).related_model
        assert isinstance(model, type) and issubclass(model, Model), name  # lane fields are foreign keys
        names_by_model.setdefault(model, []).append(name)
    codes: LaneCodes = {}
    for model, names in names_by_model.items():
        ids = {getattr(row, column(name)) for row in rows for name in names} - {None}
        found = dict(model._default_manager.filter(pk__in=ids).values_list("pk", "code"))
        codes.update(dict.fromkeys(names, found))
    return codes


# --- Reviewing a suggestion: the shipments behind it, and the evidence that ranks ties --------------

# How the admin ranks suggestions: score first; where scores tie (most recurring lanes score 1.0), the
# steadier lane (active in more of the window's weeks), then the one worth more, then the one seen last.
# Expressions rather than "-name" strings: an ordering that names the weeks_active annotation can then be
# set on a queryset before the annotation is (as the admin's get_queryset does).
SUGGESTION_RANKING = tuple(
    F(name).desc() for name in ("confidence_score", "weeks_active", "total_freight_charge", "last_shipment_date", "pk")
)
SUGGESTION_SHIPMENTS_SHOWN = 100  # rows of the review page's shipment table; the figures count them all


def _suggestion_shipments(lane: Mapping[str, Any], *, exact: bool) -> QuerySet[Shipment]:
    """The shipments behind a suggestion: its route (with exact matching, also its four types), counted as
    detection counts them, between its first and last shipment date.

    ``lane`` maps the suggestion's columns (``organization_id``, ``customer_id`` …, ``first_shipment_date``)
    to plain values, or to ``OuterRef``s for a subquery. Bounded by the stored first and last dates (not
    the window, which only ``pattern_details`` holds), so that the list and the review page count the
    same rows: what detection saw, less what was cancelled since, plus what was back-dated into the span.
    """
    shipments = _analysable_shipments(
        organization_id=lane["organization_id"], start=lane["first_shipment_date"], end=lane["last_shipment_date"]
    ).filter(**{name: lane[name] for name in ROUTE_FIELDS})
    if exact:
        # Tractor and trailer types may be empty on both sides: compared through COALESCE(…, 0), as the
        # one-pending-suggestion constraint compares them.
        shipments = shipments.alias(**{f"_{name}": Coalesce(name, Value(0)) for name in NULLABLE_LANE_COLUMNS}).filter(
            **{name: lane[name] for name in TYPE_FIELDS if name not in NULLABLE_LANE_COLUMNS},
            **{
                f"_{name}": Coalesce(lane[name], Value(0), output_field=BigIntegerField())
                if isinstance(lane[name], OuterRef)
                else (lane[name] or 0)
                for name in NULLABLE_LANE_COLUMNS
            },
        )
    return shipments


def suggestions_ranked(*, suggestions: QuerySet[DedicatedLaneSuggestion]) -> QuerySet[DedicatedLaneSuggestion]:
    """``suggestions`` annotated with ``weeks_active`` and ordered by ``SUGGESTION_RANKING``.

    ``weeks_active``: the calendar weeks (Monday to Sunday) with at least one of the suggestion's shipments
    (``_suggestion_shipments``); one correlated subquery in the same SELECT, whatever the number of rows.
    """
    outer = {
        name: OuterRef(name) for name in ("organization_id", *LANE_COLUMNS, "first_shipment_date", "last_shipment_date")
    }

    def weeks(exact: bool) -> Subquery:
        counted = (
            _suggestion_shipments(outer, exact=exact)
            .order_by()
            .values("organization_id")
            .annotate(weeks=Count(TruncWeek("business_date"), distinct=True))
            .values("weeks")
        )
        return Subquery(counted, output_field=IntegerField())

    weeks_active = Case(
        When(pattern_details__config__require_exact_match=True, then=weeks(exact=True)),
        default=weeks(exact=False),
        output_field=IntegerField(),
    )
    return suggestions.annotate(weeks_active=Coalesce(weeks_active, Value(0))).order_by(*SUGGESTION_RANKING)


@dataclass(frozen=True)
class SuggestionShipmentRow:
    id: int
    pro_number: str
    status: str
    business_date: datetime
    planned_delivery_at: datetime | None
    freight_charge_amount: Decimal | None

    @property
    def status_label(self) -> str:
        return ShipmentStatus(self.status).label


@dataclass(frozen=True)
class SuggestionReview:
    """Everything the review page shows about one suggestion."""

    suggestion: DedicatedLaneSuggestion
    context: DetectionContext  # window, detection time and settings the score was computed with
    breakdown: ScoreBreakdown  # the score's four parts, recomputed from the stored figures
    evidence: LaneEvidence  # from the shipments behind it, as they are now
    shipments: tuple[SuggestionShipmentRow, ...]  # newest first, at most SUGGESTION_SHIPMENTS_SHOWN

    @property
    def breakdown_matches(self) -> bool:
        """Whether the recomputed parts add up to the stored score (not for hand-made suggestions)."""
        return self.breakdown.total == self.suggestion.confidence_score


def suggestion_detection_context(suggestion: DedicatedLaneSuggestion) -> DetectionContext:
    """The window, detection time and settings recorded with the suggestion (defaults for what is missing)."""
    defaults = PatternConfig()
    return detection_context(
        suggestion.pattern_details,
        created_at=suggestion.created_at,
        default_window_days=defaults.analysis_window_days,
        default_weight_recent=defaults.weight_recent_shipments,
    )


def suggestion_review(*, suggestion_id: int | str) -> SuggestionReview | None:
    """The suggestion with its lane's rows, score breakdown and evidence; None when there is none.

    Two queries, whatever the number of shipments: the suggestion with its related rows, and the
    shipments behind it (every one is needed for the figures; only the newest are kept as rows).
    """
    suggestion = (
        DedicatedLaneSuggestion.objects.select_related(
            "organization", "business_unit", *LANE_FIELDS, "processed_by", "created_dedicated_lane"
        )
        .filter(pk=suggestion_id)
        .first()
    )
    if suggestion is None:
        return None
    context = suggestion_detection_context(suggestion)
    lane = {
        name: getattr(suggestion, name)
        for name in ("organization_id", *LANE_COLUMNS, "first_shipment_date", "last_shipment_date")
    }
    shipments = _suggestion_shipments(lane, exact=context.exact).order_by(F("business_date").desc(), "-pk")
    # The business date travels as `_date`: it is an annotation (of _analysable_shipments) that the
    # type checker's plugin cannot see through the helper, so it is not named as a field here.
    rows = []
    for row in shipments.values("id", "pro_number", "status", "planned_delivery_at", "freight_charge_amount").annotate(
        _date=F("business_date")
    ):
        rows.append(SuggestionShipmentRow(business_date=row.pop("_date"), **row))
    breakdown = score_breakdown(
        frequency=suggestion.frequency,
        first=suggestion.first_shipment_date,
        last=suggestion.last_shipment_date,
        total_freight=suggestion.total_freight_charge,
        now=context.detected_at,
        weight_recent=context.weight_recent,
    )
    evidence = lane_evidence(
        points=[ShipmentPoint(business_date=row.business_date, amount=row.freight_charge_amount) for row in rows],
        window_start=context.window_start,
        window_end=context.window_end,
    )
    return SuggestionReview(
        suggestion=suggestion,
        context=context,
        breakdown=breakdown,
        evidence=evidence,
        shipments=tuple(rows[:SUGGESTION_SHIPMENTS_SHOWN]),
    )
