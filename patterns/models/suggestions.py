"""Lane suggestions: recurring lanes found by pattern detection, proposed to planners as dedicated lanes."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

from patterns.lanes import LANE_FIELDS, LANE_ROUTE, NULLABLE_LANE_FIELDS
from patterns.models.config import CONFIDENCE_SCORE
from patterns.models.lanes import LANE_NAME_MAX_LENGTH, DedicatedLane, LaneFields, lane_help_texts
from patterns.models.master_data import Customer
from patterns.models.tenancy import BusinessUnit


class SuggestionStatus(models.TextChoices):
    PENDING = "Pending", "Pending"
    ACCEPTED = "Accepted", "Accepted"
    REJECTED = "Rejected", "Rejected"
    EXPIRED = "Expired", "Expired"


class DedicatedLaneSuggestion(LaneFields):
    """A recurring lane found by pattern detection, proposed as a dedicated lane.

    Created Pending by ``patterns.services.analyze_patterns``; moved on only by the lifecycle services
    (accept, reject, expire), which the database constraints below back up.
    """

    business_unit = models.ForeignKey(
        BusinessUnit,
        on_delete=models.PROTECT,
        related_name="lane_suggestions",
        help_text="Business unit of the lane's most recent shipment; the accepted lane belongs to it.",
    )
    status = models.CharField(
        max_length=10,
        choices=SuggestionStatus.choices,
        default=SuggestionStatus.PENDING,
        help_text="Pending until accepted, rejected or expired.",
    )
    # Redeclared (as in LaneFields) to name the reverse accessor: customer.lane_suggestions.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="lane_suggestions")
    confidence_score = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=CONFIDENCE_SCORE.validators(),
        help_text="How strongly the shipments look like a standing lane, 0–1 (frequency, recency, regularity, value).",
    )
    frequency = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], help_text="Shipments on the lane within the analysis window."
    )
    average_freight_charge = models.DecimalField(
        max_digits=19,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Average freight charge of the lane's rated shipments; empty when none was rated.",
    )
    total_freight_charge = models.DecimalField(
        max_digits=19,
        decimal_places=4,
        default=Decimal("0"),
        help_text="Sum of the freight charges of the lane's rated shipments.",
    )
    first_shipment_date = models.DateTimeField(
        help_text="Business date (planned pickup, else creation) of the first shipment in the window."
    )
    last_shipment_date = models.DateTimeField(
        help_text="Business date (planned pickup, else creation) of the last shipment in the window."
    )
    suggested_name = models.CharField(
        max_length=LANE_NAME_MAX_LENGTH,
        help_text="Name proposed for the dedicated lane; free in the organization when suggested.",
    )
    pattern_details = models.JSONField(
        default=dict,
        blank=True,
        help_text="Evidence: latest shipment ids, configuration used, detection time, trigger reason, job id.",
    )
    expires_at = models.DateTimeField(help_text="When a still-pending suggestion expires.")
    processed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # PROTECT, not SET_NULL: an accepted or rejected suggestion must name who decided (check below).
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="processed_lane_suggestions",
        help_text="User who accepted or rejected the suggestion.",
    )
    processed_at = models.DateTimeField(null=True, blank=True, help_text="When it was accepted or rejected.")
    reject_reason = models.TextField(blank=True, help_text="Why the suggestion was rejected, as given by the user.")
    created_dedicated_lane = models.OneToOneField(
        DedicatedLane,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="source_suggestion",
        help_text="The dedicated lane created by accepting the suggestion.",
    )

    class Meta:
        ordering = ["-confidence_score", "-frequency", "-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=SuggestionStatus.values), name="suggestion_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=SuggestionStatus.PENDING) | Q(processed_by__isnull=True, processed_at__isnull=True),
                name="suggestion_pending_not_processed",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[SuggestionStatus.ACCEPTED, SuggestionStatus.REJECTED])
                | Q(processed_by__isnull=False, processed_at__isnull=False),
                name="suggestion_decided_is_processed",
            ),
            models.CheckConstraint(
                condition=Q(status=SuggestionStatus.ACCEPTED, created_dedicated_lane__isnull=False)
                | (~Q(status=SuggestionStatus.ACCEPTED) & Q(created_dedicated_lane__isnull=True)),
                name="suggestion_accepted_iff_lane",
            ),
            models.CheckConstraint(
                condition=CONFIDENCE_SCORE.condition("confidence_score"), name="suggestion_score_range"
            ),
            models.CheckConstraint(condition=Q(frequency__gte=1), name="suggestion_frequency_positive"),
            models.CheckConstraint(
                condition=~Q(origin_location=F("destination_location")),
                name="suggestion_origin_differs_from_destination",
            ),
            # At most one Pending suggestion per lane: concurrent analyses cannot create twins. The tractor
            # and trailer types are nullable and compared through COALESCE(…, 0), so that "no type" equals
            # "no type". (`nulls_distinct=False` would say the same on PostgreSQL, but Django silently
            # skips such a constraint on SQLite, where the demo runs.)
            models.UniqueConstraint(
                *(
                    Coalesce(name, Value(0)) if name in NULLABLE_LANE_FIELDS else F(name)
                    for name in ("organization", *LANE_FIELDS)
                ),
                condition=Q(status=SuggestionStatus.PENDING),
                name="suggestion_one_pending_per_lane",
                violation_error_message="A pending suggestion for this lane already exists.",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "-confidence_score"], name="suggestion_org_status_idx"),
            models.Index(fields=["organization", *LANE_ROUTE], name="suggestion_lane_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.suggested_name} ({self.status}, {self.confidence_score})"


lane_help_texts(
    DedicatedLaneSuggestion,
    {
        "customer": "Customer whose shipments recur.",
        "origin_location": "Where the recurring shipments are picked up.",
        "destination_location": "Where they are delivered; differs from origin.",
        "service_type": "Service level of the lane (the most common one unless exact matching is on).",
        "shipment_type": "Kind of load of the lane (the most common one unless exact matching is on).",
        "tractor_type": "Tractor type of the lane, if its shipments name one.",
        "trailer_type": "Trailer type of the lane, if its shipments name one.",
    },
)
