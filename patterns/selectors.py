"""Read-only queries of the patterns domain: shipments to analyse, lane suggestions, lanes already covered."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from patterns.lanes import LaneKey, lane_key_fields
from patterns.models import DedicatedLane, DedicatedLaneSuggestion, Shipment, ShipmentStatus, SuggestionStatus


def shipments_for_analysis(
    *, organization_id: int, customer_id: int | None, start: datetime, end: datetime
) -> QuerySet[Shipment]:
    """Shipments pattern detection looks at, annotated with their ``business_date``.

    The business date is the planned pickup, falling back to the creation time; it must lie in
    [start, end]. Canceled shipments and shipments lacking a customer, stops, service type or shipment
    type are left out. Unordered: callers group or order it themselves.
    """
    shipments = (
        Shipment.objects.filter(
            organization_id=organization_id,
            customer__isnull=False,
            origin_location__isnull=False,
            destination_location__isnull=False,
            service_type__isnull=False,
            shipment_type__isnull=False,
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
    """An organization's suggestions, best first (score, then frequency).

    Expired ones — flipped to Expired or still Pending past ``expires_at`` — are hidden unless
    ``include_expired``.
    """
    suggestions = DedicatedLaneSuggestion.objects.filter(organization_id=organization_id).select_related(
        "customer",
        "origin_location",
        "destination_location",
        "service_type",
        "shipment_type",
        "tractor_type",
        "trailer_type",
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
    lanes = DedicatedLane.objects.filter(organization_id=organization_id, status=DedicatedLane.Status.ACTIVE)
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


def lane_names_taken(*, organization_id: int) -> set[str]:
    """Lower-cased names of the organization's dedicated lanes and of its Pending suggestions."""
    lanes = DedicatedLane.objects.filter(organization_id=organization_id).values_list(Lower("name"), flat=True)
    pending = DedicatedLaneSuggestion.objects.filter(
        organization_id=organization_id, status=SuggestionStatus.PENDING
    ).values_list(Lower("suggested_name"), flat=True)
    return set(lanes) | set(pending)
