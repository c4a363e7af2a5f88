"""Creating and changing shipments one at a time (the API), with the jobs their saves ask for.

The save goes through ``Shipment.save()``, so the triggers (``patterns.signals`` → ``patterns.triggers``)
fire as for any other save; the job records they write are collected and returned with the shipment.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from patterns.models import Shipment
from patterns.triggers import shipment_trigger_jobs
from trenova_jobs import JobRecord

# What a caller may set; the organization, compliance findings and timestamps are the system's.
SHIPMENT_WRITABLE_FIELDS = frozenset(
    {
        "business_unit",
        "customer",
        "pro_number",
        "status",
        "origin_location",
        "destination_location",
        "service_type",
        "shipment_type",
        "tractor_type",
        "trailer_type",
        "planned_pickup_at",
        "planned_delivery_at",
        "actual_delivery_at",
        "freight_charge_amount",
        "is_hazmat",
        "hazmat_un_number",
        "hazmat_class",
        "hazmat_emergency_contact",
        "owner",
    }
)

PRO_NUMBER_TAKEN = "A shipment with this PRO number already exists in the organization."


def shipment_create(*, organization_id: int, business_unit_id: int, **fields: Any) -> tuple[Shipment, list[JobRecord]]:
    """Create a shipment (``fields``: ``SHIPMENT_WRITABLE_FIELDS``) and return it with the jobs its save asked for.

    Raises ``django.core.exceptions.ValidationError`` for the model's rules (related rows of another
    organization, origin equal to destination, delivery before pickup, bad values) and a PRO number the
    organization already uses.
    """
    _require_writable(fields)
    return _shipment_save(Shipment(organization_id=organization_id, business_unit_id=business_unit_id, **fields))


def shipment_update(*, shipment: Shipment, **changes: Any) -> tuple[Shipment, list[JobRecord]]:
    """Change some of a shipment's fields; the jobs the save asked for (a status change: its notice; reaching
    Completed: an analysis) come back with it. The same rules and errors as ``shipment_create``."""
    _require_writable(changes)
    for field, value in changes.items():
        setattr(shipment, field, value)
    return _shipment_save(shipment)


def _require_writable(fields: dict[str, Any]) -> None:
    unknown = set(fields) - SHIPMENT_WRITABLE_FIELDS
    if unknown:
        raise TypeError(f"Shipments cannot be given {', '.join(sorted(unknown))} here.")


def _shipment_save(shipment: Shipment) -> tuple[Shipment, list[JobRecord]]:
    if shipment.pro_number:
        shipment.pro_number = shipment.pro_number.strip()
    _validate(shipment)
    try:
        with transaction.atomic(), shipment_trigger_jobs() as jobs:
            shipment.save()
    except IntegrityError:
        # Another save took the PRO number between the check and this one: the unique constraint decided.
        if _pro_number_taken(shipment):
            raise ValidationError({"pro_number": [PRO_NUMBER_TAKEN]}) from None
        raise
    return shipment, jobs


def _pro_number_taken(shipment: Shipment) -> bool:
    taken = Shipment.objects.filter(organization_id=shipment.organization_id, pro_number=shipment.pro_number)
    if shipment.pk is not None:
        taken = taken.exclude(pk=shipment.pk)
    return taken.exists()


def _validate(shipment: Shipment) -> None:
    """Every field's and the model's rules, and a free PRO number, reported together.

    The check constraints are the rules ``clean()`` and the field validators state, so they are not run
    again as queries; the unique PRO number is checked here, with its own message.
    """
    errors: dict[str, list[str]] = {}
    try:
        shipment.full_clean(validate_constraints=False)
    except ValidationError as exc:
        errors = {field: list(messages) for field, messages in exc.message_dict.items()}
    if shipment.pro_number and _pro_number_taken(shipment):
        errors.setdefault("pro_number", []).append(PRO_NUMBER_TAKEN)
    if errors:
        raise ValidationError(errors)
