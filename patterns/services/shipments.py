"""Shipment services: the wording of what happened to a shipment, for the people it is shown to."""

from __future__ import annotations

from patterns.models import Shipment, ShipmentStatus


def shipment_status_notice(*, shipment: Shipment, old_status: str, new_status: str) -> str:
    """The status-change notice for the shipment's owner, e.g. "Shipment PRO-1001 is now Completed (was In transit)".

    The notifications app shows it as the message; statuses are given by their labels.
    """
    new, old = ShipmentStatus(new_status).label, ShipmentStatus(old_status).label
    return f"Shipment {shipment.pro_number} is now {new} (was {old})"
