"""Dedicated lanes written directly (the API): create and update, with the model's rules and a free name.

Lanes made from a suggestion go through ``suggestion_accept``; both raise ``LaneNameClashError`` for a
name the organization already uses (in any case), so that a clash reads the same wherever it happens.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from patterns.errors import LaneNameClashError
from patterns.models import (
    Customer,
    DedicatedLane,
    DedicatedLaneStatus,
    EquipmentType,
    Location,
    ServiceType,
    ShipmentType,
    Worker,
)

# What an update may change; the organization never changes.
LANE_UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "status",
        "business_unit",
        "customer",
        "origin_location",
        "destination_location",
        "service_type",
        "shipment_type",
        "tractor_type",
        "trailer_type",
        "primary_worker",
        "secondary_worker",
        "auto_assign",
    }
)


def dedicated_lane_create(
    *,
    organization_id: int,
    business_unit_id: int,
    name: str,
    customer: Customer,
    origin_location: Location,
    destination_location: Location,
    service_type: ServiceType,
    shipment_type: ShipmentType,
    tractor_type: EquipmentType | None = None,
    trailer_type: EquipmentType | None = None,
    primary_worker: Worker | None = None,
    secondary_worker: Worker | None = None,
    auto_assign: bool = False,
    status: str = DedicatedLaneStatus.ACTIVE,
) -> DedicatedLane:
    """Create a dedicated lane in the organization.

    Raises ``LaneNameClashError`` when the name is taken (any case) and ``django.core.exceptions.ValidationError``
    for the model's rules: related rows of another organization, origin equal to destination, the same
    driver twice, auto-assign without a primary driver, bad field values.
    """
    lane = DedicatedLane(
        organization_id=organization_id,
        business_unit_id=business_unit_id,
        name=name.strip(),
        customer=customer,
        origin_location=origin_location,
        destination_location=destination_location,
        service_type=service_type,
        shipment_type=shipment_type,
        tractor_type=tractor_type,
        trailer_type=trailer_type,
        primary_worker=primary_worker,
        secondary_worker=secondary_worker,
        auto_assign=auto_assign,
        status=status,
    )
    return _lane_save(lane)


def dedicated_lane_update(*, lane: DedicatedLane, **changes: Any) -> DedicatedLane:
    """Change some of a lane's fields (``LANE_UPDATABLE_FIELDS``); the same rules and errors as creating one."""
    unknown = set(changes) - LANE_UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"dedicated_lane_update() cannot change {', '.join(sorted(unknown))}.")
    for field, value in changes.items():
        setattr(lane, field, value.strip() if field == "name" and isinstance(value, str) else value)
    return _lane_save(lane)


def _lane_save(lane: DedicatedLane) -> DedicatedLane:
    with transaction.atomic():
        _require_free_name(lane)
        # The check constraints are the rules clean() states (with field names); the name is checked above.
        lane.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                lane.save()
        except IntegrityError:
            # Someone took the name between the check and the save: the unique index decided.
            if _name_taken(lane):
                raise _clash(lane) from None
            raise
    return lane


def _name_taken(lane: DedicatedLane) -> bool:
    clash = DedicatedLane.objects.filter(organization_id=lane.organization_id, name__iexact=lane.name)
    if lane.pk is not None:
        clash = clash.exclude(pk=lane.pk)
    return clash.exists()


def _require_free_name(lane: DedicatedLane) -> None:
    if lane.name and _name_taken(lane):
        raise _clash(lane)


def _clash(lane: DedicatedLane) -> LaneNameClashError:
    return LaneNameClashError(f"A dedicated lane named {lane.name!r} already exists; choose another name.")
