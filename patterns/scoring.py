"""The confidence score of a recurring lane: a pure function of its figures.

How often, how recently and how regularly the lane ran, and for how much; see ``confidence_score``.
``score_breakdown`` gives the four parts, so that a reviewer can see why two lanes score alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

FREQUENCY_CAP = Decimal("0.4")
# (days since the last shipment at most, points), checked in order; only when recency weighting is on.
RECENCY_POINTS = ((7, Decimal("0.3")), (30, Decimal("0.2")), (60, Decimal("0.1")))
# (average whole days between shipments at most, points), checked in order.
REGULARITY_POINTS = ((30, Decimal("0.2")), (60, Decimal("0.1")))
VALUE_THRESHOLD = Decimal("10000")
VALUE_POINTS = Decimal("0.1")
SCORE_CAP = Decimal("1")
SCORE_PLACES = Decimal("0.0001")

SECONDS_PER_DAY = 86_400


def whole_days(seconds: float) -> int:
    """Whole days in a span of ``seconds`` (7 days 23 hours is 7 days); never negative."""
    return max(0, int(seconds // SECONDS_PER_DAY))


@dataclass(frozen=True)
class ScoreBreakdown:
    """The four parts of a confidence score; ``total`` is the score (their sum, capped and rounded)."""

    frequency: Decimal
    recency: Decimal
    regularity: Decimal
    value: Decimal

    @property
    def total(self) -> Decimal:
        return min(self.frequency + self.recency + self.regularity + self.value, SCORE_CAP).quantize(SCORE_PLACES)


def score_breakdown(
    *,
    frequency: int,
    first: datetime,
    last: datetime,
    total_freight: Decimal | None,
    now: datetime,
    weight_recent: bool,
) -> ScoreBreakdown:
    """Each part of the confidence score of a lane; see ``confidence_score`` for the rules."""
    if frequency < 1:
        raise ValueError("A lane has at least one shipment.")
    recency = regularity = Decimal("0")
    if weight_recent:
        recency = _points(whole_days((now - last).total_seconds()), RECENCY_POINTS)
    span = last - first
    if frequency >= 2 and span.total_seconds() > 0:
        # floor(floor(span in days) / (n - 1)) == floor(span in days / (n - 1)): either order gives this.
        regularity = _points(whole_days(span.total_seconds()) // (frequency - 1), REGULARITY_POINTS)
    value = VALUE_POINTS if total_freight is not None and total_freight > VALUE_THRESHOLD else Decimal("0")
    return ScoreBreakdown(
        frequency=min(Decimal(frequency) / 10, FREQUENCY_CAP), recency=recency, regularity=regularity, value=value
    )


def confidence_score(
    *,
    frequency: int,
    first: datetime,
    last: datetime,
    total_freight: Decimal | None,
    now: datetime,
    weight_recent: bool,
) -> Decimal:
    """Score a lane between 0 and 1 from how often, how recently, how regularly and for how much it ran.

    * frequency: ``min(frequency / 10, 0.4)``;
    * recency (only with ``weight_recent``): whole days since ``last`` ≤ 7 → 0.3, ≤ 30 → 0.2, ≤ 60 → 0.1;
    * regularity (``frequency`` ≥ 2 and ``last`` after ``first``): average gap in whole days
      ``floor(span / (frequency - 1))`` ≤ 30 → 0.2, ≤ 60 → 0.1;
    * value: total freight above 10 000 → 0.1;
    capped at 1 and rounded to 4 decimals. The parts are ``score_breakdown``'s.
    """
    return score_breakdown(
        frequency=frequency,
        first=first,
        last=last,
        total_freight=total_freight,
        now=now,
        weight_recent=weight_recent,
    ).total


def _points(days: int, table: tuple[tuple[int, Decimal], ...]) -> Decimal:
    for limit, points in table:
        if days <= limit:
            return points
    return Decimal("0")
