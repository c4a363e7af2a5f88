"""Pattern configuration: per-organization detection settings, their allowed ranges, and why an analysis runs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from patterns.models.base import TimeStampedModel
from patterns.models.tenancy import Organization

_N = TypeVar("_N", int, Decimal)


@dataclass(frozen=True)
class Bounds(Generic[_N]):
    """An inclusive range of allowed values, and every check of it: validators, constraint, membership.

    Each range below is the one definition that the model, its database constraint, job payloads,
    management commands and the detection service check against.
    """

    low: _N
    high: _N

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | Decimal) and not isinstance(value, bool) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.low}–{self.high}"

    def between(self) -> str:
        """``between 1 and 100``, for error messages."""
        return f"between {self.low} and {self.high}"

    def validators(self) -> list[MinValueValidator | MaxValueValidator]:
        return [MinValueValidator(self.low), MaxValueValidator(self.high)]

    def condition(self, field: str) -> Q:
        """The database check ``low <= field <= high``."""
        return Q(**{f"{field}__gte": self.low, f"{field}__lte": self.high})


MIN_FREQUENCY = Bounds(1, 100)  # shipments a lane needs in the window
ANALYSIS_WINDOW_DAYS = Bounds(1, 365)  # how far back an analysis looks
CONFIDENCE_SCORE = Bounds(Decimal("0"), Decimal("1"))  # a lane's score and the lowest one that is suggested
SUGGESTION_TTL_DAYS = Bounds(1, 365)
REJECTION_COOLDOWN_DAYS = Bounds(0, 365)


class TriggerReason(models.TextChoices):
    """Why a pattern analysis runs; kept on its job payload, its result and each suggestion it creates."""

    MANUAL = "manual", "Asked for in code"
    ADMIN = "admin", "Admin action"
    API = "api", "API request"
    COMMAND = "command", "Management command"
    SCHEDULED = "scheduled", "Scheduled"
    SHIPMENT_CREATED = "shipment_created", "Shipment created"
    SHIPMENT_COMPLETED = "shipment_completed", "Shipment completed"
    BULK_IMPORT = "bulk_import", "Shipments imported in bulk"

    @property
    def is_manual(self) -> bool:
        """A person asked for it: it runs even when the organization has detection disabled."""
        return self in (TriggerReason.MANUAL, TriggerReason.ADMIN, TriggerReason.API, TriggerReason.COMMAND)


class PatternConfig(TimeStampedModel):
    """Per-organization settings for lane pattern detection; organizations without a row use defaults."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="pattern_config", help_text="Organization configured."
    )
    enabled = models.BooleanField(default=True, help_text="Run scheduled and triggered analysis for this org.")
    min_frequency = models.PositiveIntegerField(
        default=3,
        validators=MIN_FREQUENCY.validators(),
        help_text=f"Shipments a lane needs in the window to qualify ({MIN_FREQUENCY}).",
    )
    analysis_window_days = models.PositiveIntegerField(
        default=90,
        validators=ANALYSIS_WINDOW_DAYS.validators(),
        help_text=f"How many days back the analysis looks ({ANALYSIS_WINDOW_DAYS}).",
    )
    min_confidence_score = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.7000"),
        validators=CONFIDENCE_SCORE.validators(),
        help_text=f"Lowest confidence score that produces a suggestion ({CONFIDENCE_SCORE}).",
    )
    suggestion_ttl_days = models.PositiveIntegerField(
        default=30,
        validators=SUGGESTION_TTL_DAYS.validators(),
        help_text=f"Days a pending suggestion stays open before it expires ({SUGGESTION_TTL_DAYS}).",
    )
    require_exact_match = models.BooleanField(
        default=False,
        help_text="Group lanes by service, shipment, tractor and trailer type too, not only customer and stops.",
    )
    weight_recent_shipments = models.BooleanField(
        default=True, help_text="Give lanes with recent shipments a higher score."
    )
    rejection_cooldown_days = models.PositiveIntegerField(
        default=30,
        validators=REJECTION_COOLDOWN_DAYS.validators(),
        help_text=f"Days after a rejection before the same lane is suggested again ({REJECTION_COOLDOWN_DAYS}).",
    )

    class Meta:
        verbose_name = "pattern configuration"
        constraints = [
            models.CheckConstraint(
                condition=MIN_FREQUENCY.condition("min_frequency"), name="pattern_config_min_frequency_range"
            ),
            models.CheckConstraint(
                condition=ANALYSIS_WINDOW_DAYS.condition("analysis_window_days"), name="pattern_config_window_range"
            ),
            models.CheckConstraint(
                condition=CONFIDENCE_SCORE.condition("min_confidence_score"),
                name="pattern_config_min_confidence_range",
            ),
            models.CheckConstraint(
                condition=SUGGESTION_TTL_DAYS.condition("suggestion_ttl_days"), name="pattern_config_ttl_range"
            ),
            models.CheckConstraint(
                condition=REJECTION_COOLDOWN_DAYS.condition("rejection_cooldown_days"),
                name="pattern_config_cooldown_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Pattern configuration for {self.organization}"

    @classmethod
    def for_organization(cls, organization_id: int) -> PatternConfig:
        """The organization's saved configuration, or an unsaved one holding the defaults."""
        config = cls.objects.filter(organization_id=organization_id).first()
        return config or cls(organization_id=organization_id)
