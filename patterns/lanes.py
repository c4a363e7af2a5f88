"""The lane key: which shipment columns make two shipments "the same lane" (SPEC §7)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Column names (attnames), shared by Shipment, DedicatedLane and DedicatedLaneSuggestion.
ROUTE_FIELDS = ("customer_id", "origin_location_id", "destination_location_id")
TYPE_FIELDS = ("service_type_id", "shipment_type_id", "tractor_type_id", "trailer_type_id")

LaneKey = tuple[int | None, ...]


def lane_key_fields(*, exact: bool) -> tuple[str, ...]:
    """Customer and stops; with exact matching also the service, shipment, tractor and trailer types."""
    return ROUTE_FIELDS + TYPE_FIELDS if exact else ROUTE_FIELDS


def lane_key(row: Mapping[str, Any] | Any, *, exact: bool) -> LaneKey:
    """The lane key of a row: a mapping of column names, or a model instance (DedicatedLane, suggestion)."""
    if isinstance(row, Mapping):
        return tuple(row[name] for name in lane_key_fields(exact=exact))
    return tuple(getattr(row, name) for name in lane_key_fields(exact=exact))
