"""An organization's pattern configuration: changing it (reading it is ``PatternConfig.for_organization``)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from patterns.models import PatternConfig

# The settings a caller may change (each range is a Bounds in patterns.models.config).
CONFIG_FIELDS = frozenset(
    {
        "enabled",
        "min_frequency",
        "analysis_window_days",
        "min_confidence_score",
        "suggestion_ttl_days",
        "require_exact_match",
        "weight_recent_shipments",
        "rejection_cooldown_days",
    }
)


def pattern_config_update(*, organization_id: int, **changes: Any) -> PatternConfig:
    """Save the organization's configuration with ``changes`` (created with the defaults if it has none).

    Raises ``django.core.exceptions.ValidationError`` for a value outside its range; nothing is saved then.
    """
    unknown = set(changes) - CONFIG_FIELDS
    if unknown:
        raise TypeError(f"pattern_config_update() cannot change {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        # The row lock serialises two updates, so that neither undoes the other's fields.
        config, _ = PatternConfig.objects.select_for_update().get_or_create(organization_id=organization_id)
        for field, value in changes.items():
            setattr(config, field, value)
        config.full_clean(exclude=["organization"], validate_constraints=False)
        config.save()
    return config
