"""The lane shape: which fields make a lane, and so which shipments count as "the same lane".

A lane is a route — customer, origin, destination — and a kind of freight: service type, shipment type
and, optionally, tractor and trailer type. Shipments carry these seven fields (all optional there);
dedicated lanes and lane suggestions share them through ``patterns.models.LaneFields``. Every part of
the app that names them — the models' constraints and indexes, the selectors, detection, accepting a
suggestion — takes them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Field names. The route: detection always groups shipments by it.
LANE_ROUTE = ("customer", "origin_location", "destination_location")
# The freight's types: grouped by only with exact matching; otherwise a lane takes each one's most common value.
LANE_TYPES = ("service_type", "shipment_type", "tractor_type", "trailer_type")
LANE_FIELDS = LANE_ROUTE + LANE_TYPES
# How a list of lanes fetches its lane fields' rows: the route joined in (``select_related``), the types
# each with a query of its own (``prefetch_related``). PostgreSQL plans joins exhaustively up to
# join_collapse_limit (8): the suggestion list's query with all seven joined spent ~29 ms planning for
# 1.8 ms executing (4 joins: 1.3 ms), while the type tables are tiny and one `IN` query each costs ~1 ms.
LANE_JOINED = LANE_ROUTE
LANE_PREFETCHED = LANE_TYPES
# Optional on lanes and suggestions too. Where "no type" must equal "no type" (the one-pending-suggestion
# constraint, detection's join), they are compared through COALESCE(…, 0).
NULLABLE_LANE_FIELDS = ("tractor_type", "trailer_type")
REQUIRED_LANE_FIELDS = tuple(name for name in LANE_FIELDS if name not in NULLABLE_LANE_FIELDS)


def column(name: str) -> str:
    """The column (attname) of a lane field: ``customer`` → ``customer_id``."""
    return f"{name}_id"


# Column names (attnames), as rows from ``.values()`` and instances' ``…_id`` attributes name them.
ROUTE_FIELDS = tuple(column(name) for name in LANE_ROUTE)
TYPE_FIELDS = tuple(column(name) for name in LANE_TYPES)
LANE_COLUMNS = ROUTE_FIELDS + TYPE_FIELDS
NULLABLE_LANE_COLUMNS = tuple(column(name) for name in NULLABLE_LANE_FIELDS)

LaneKey = tuple[int | None, ...]


def lane_key_fields(*, exact: bool) -> tuple[str, ...]:
    """Customer and stops; with exact matching also the service, shipment, tractor and trailer types."""
    return LANE_COLUMNS if exact else ROUTE_FIELDS


def lane_key(row: Mapping[str, Any] | Any, *, exact: bool) -> LaneKey:
    """The lane key of a row: a mapping of column names, or an object with them (lane, suggestion, DetectedLane)."""
    if isinstance(row, Mapping):
        return tuple(row[name] for name in lane_key_fields(exact=exact))
    return tuple(getattr(row, name) for name in lane_key_fields(exact=exact))


def lane_values(row: Any) -> dict[str, Any]:
    """All seven lane columns of an object with them, as keyword arguments for a model (``customer_id=…``).

    How a lane's shape is copied: a detected lane into its suggestion, a suggestion into its dedicated lane.
    """
    return {name: getattr(row, name) for name in LANE_COLUMNS}
