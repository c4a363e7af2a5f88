"""Signal receivers that turn committed shipment saves into background jobs (see patterns.triggers)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save

from patterns.models import Shipment
from patterns.triggers import shipment_saved

# The status the row had in the database before this save; set by the pre_save receiver.
_OLD_STATUS = "_trenova_status_in_db"


def remember_status_in_db(sender: type[Shipment], instance: Shipment, raw: bool = False, **kwargs: Any) -> None:
    # Read from the database, not from the instance as loaded: the admin, the API and code that
    # loaded the row long ago must all be judged against what is stored now.
    old = None
    if not raw and instance.pk is not None and not instance._state.adding:
        old = Shipment.objects.filter(pk=instance.pk).values_list("status", flat=True).first()
    setattr(instance, _OLD_STATUS, old)


def fire_shipment_triggers(
    sender: type[Shipment], instance: Shipment, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if raw:  # loading fixtures
        return
    shipment_saved(shipment=instance, created=created, old_status=getattr(instance, _OLD_STATUS, None))


def connect_shipment_triggers() -> None:
    pre_save.connect(remember_status_in_db, sender=Shipment, dispatch_uid="patterns.remember_status_in_db")
    post_save.connect(fire_shipment_triggers, sender=Shipment, dispatch_uid="patterns.fire_shipment_triggers")


def disconnect_shipment_triggers() -> None:
    """For benchmarks and data migrations that must save without triggers."""
    pre_save.disconnect(sender=Shipment, dispatch_uid="patterns.remember_status_in_db")
    post_save.disconnect(sender=Shipment, dispatch_uid="patterns.fire_shipment_triggers")
