"""Read-only queries of the patterns domain: shipments to analyse, lane suggestions, lanes already covered."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import Model, QuerySet
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from patterns.lanes import LANE_FIELDS, REQUIRED_LANE_FIELDS, LaneKey, column, lane_key_fields
from patterns.models import (
    Customer,
    DedicatedLane,
    DedicatedLaneStatus,
    DedicatedLaneSuggestion,
    Organization,
    Shipment,
    ShipmentStatus,
    SuggestionStatus,
)


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
    shipments = (
        Shipment.objects.filter(
            organization_id=organization_id, **{f"{name}__isnull": False for name in REQUIRED_LANE_FIELDS}
        )
        .exclude(status=ShipmentStatus.CANCELED)
        .annotate(business_date=Coalesce("planned_pickup_at", "created_at"))
        .filter(business_date__gte=start, business_date__lte=end)
    )
    if customer_id is not None:
        shipments = shipments.filter(customer_id=customer_id)
    return shipments.order_by()


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
    suggestions = DedicatedLaneSuggestion.objects.filter(organization_id=organization_id).select_related(*LANE_FIELDS)
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
