"""App config for the TMS domain and pattern detection."""

from django.apps import AppConfig


class PatternsConfig(AppConfig):
    name = "patterns"
    verbose_name = "Patterns and shipments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from patterns.signals import connect_shipment_triggers

        connect_shipment_triggers()
