"""The evidence behind a lane suggestion, from its shipments' dates and charges: pure functions, no queries.

What a reviewer needs where the confidence score ties (most recurring lanes score 1.0): in how many of
the window's calendar weeks the lane ran, how regular the gaps between its shipments are, what it earns
per month, when it last ran. ``patterns.selectors.suggestion_review`` feeds it one query's rows.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from django.utils import timezone

from patterns.scoring import SECONDS_PER_DAY

DAYS_PER_WEEK = 7
DAYS_PER_MONTH = Decimal("30.4375")  # 365.25 / 12: "per month" is an average month, not a calendar one
MONEY_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class ShipmentPoint:
    """One shipment as the evidence sees it: its business date and freight charge (None when not rated)."""

    business_date: datetime
    amount: Decimal | None


@dataclass(frozen=True)
class WeekBar:
    """One calendar week (Monday to Sunday, in the current time zone) of the window."""

    start: date
    shipments: int
    revenue: Decimal


@dataclass(frozen=True)
class GapSpread:
    """Days between consecutive shipments: the median and how far the middle half spreads (IQR)."""

    count: int  # gaps measured: one fewer than the shipments
    median: float
    q1: float
    q3: float
    stdev: float  # 0 with a single gap

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


@dataclass(frozen=True)
class LaneEvidence:
    window_start: datetime
    window_end: datetime
    weeks: tuple[WeekBar, ...]  # every calendar week the window touches, empty ones included
    shipments: int
    rated: int  # shipments with a freight charge
    revenue: Decimal  # sum of the charges in the window
    first_seen: datetime | None
    last_seen: datetime | None
    gaps: GapSpread | None  # None with fewer than two shipments

    @property
    def window_days(self) -> float:
        return (self.window_end - self.window_start).total_seconds() / SECONDS_PER_DAY

    @property
    def weeks_active(self) -> int:
        return sum(1 for week in self.weeks if week.shipments)

    @property
    def weeks_in_window(self) -> int:
        return len(self.weeks)

    @property
    def per_week(self) -> float:
        """Shipments per 7 days of the window (the lane's cadence)."""
        return cadence_per_week(shipments=self.shipments, window_days=self.window_days)

    @property
    def revenue_per_month(self) -> Decimal:
        """The window's revenue at the same rate for an average month."""
        return monthly_revenue(revenue=self.revenue, window_days=self.window_days)


def week_start(moment: datetime) -> date:
    """The Monday of ``moment``'s calendar week in the current time zone (as the database's TruncWeek)."""
    day = timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()
    return day - timedelta(days=day.weekday())


def cadence_per_week(*, shipments: int, window_days: float) -> float:
    return shipments * DAYS_PER_WEEK / window_days if window_days > 0 else 0.0


def monthly_revenue(*, revenue: Decimal, window_days: float) -> Decimal:
    if window_days <= 0:
        return Decimal("0")
    return (revenue * DAYS_PER_MONTH / Decimal(str(window_days))).quantize(MONEY_PLACES)


def gap_spread(dates: Sequence[datetime]) -> GapSpread | None:
    """The spread of the gaps (in days) between consecutive ``dates``; None for fewer than two dates."""
    ordered = sorted(dates)
    gaps = [(later - earlier).total_seconds() / SECONDS_PER_DAY for earlier, later in pairwise(ordered)]
    if not gaps:
        return None
    if len(gaps) == 1:
        q1 = q3 = gaps[0]
    else:
        # "inclusive": the quartiles of the gaps themselves (the sample is the whole window, not a draw).
        q1, _, q3 = statistics.quantiles(gaps, n=4, method="inclusive")
    return GapSpread(
        count=len(gaps),
        median=statistics.median(gaps),
        q1=q1,
        q3=q3,
        stdev=statistics.pstdev(gaps),
    )


def lane_evidence(*, points: Sequence[ShipmentPoint], window_start: datetime, window_end: datetime) -> LaneEvidence:
    """Weekly counts and revenue over every week of the window, the gap spread, totals and dates."""
    dates = [point.business_date for point in points]
    # A window always covers its shipments; widen it if the stored one does not (hand-made rows).
    start = min([window_start, *dates])
    end = max([window_end, *dates])
    counts: dict[date, int] = {}
    revenue: dict[date, Decimal] = {}
    for point in points:
        week = week_start(point.business_date)
        counts[week] = counts.get(week, 0) + 1
        revenue[week] = revenue.get(week, Decimal("0")) + (point.amount or Decimal("0"))
    weeks = []
    week = week_start(start)
    last_week = week_start(end)
    while week <= last_week:
        weeks.append(WeekBar(start=week, shipments=counts.get(week, 0), revenue=revenue.get(week, Decimal("0"))))
        week += timedelta(days=DAYS_PER_WEEK)
    amounts = [point.amount for point in points if point.amount is not None]
    return LaneEvidence(
        window_start=start,
        window_end=end,
        weeks=tuple(weeks),
        shipments=len(points),
        rated=len(amounts),
        revenue=sum(amounts, Decimal("0")),
        first_seen=min(dates) if dates else None,
        last_seen=max(dates) if dates else None,
        gaps=gap_spread(dates),
    )


@dataclass(frozen=True)
class DetectionContext:
    """How a suggestion was detected, as its ``pattern_details`` record it (defaults where a key is missing)."""

    window_start: datetime
    window_end: datetime
    detected_at: datetime
    weight_recent: bool
    exact: bool

    @property
    def window_days(self) -> float:
        return (self.window_end - self.window_start).total_seconds() / SECONDS_PER_DAY


def detection_context(
    pattern_details: object, *, created_at: datetime, default_window_days: int, default_weight_recent: bool
) -> DetectionContext:
    """The window, detection time and settings a suggestion's score and evidence were computed with.

    Detection stores them in ``pattern_details`` (``window``, ``detected_at``, ``config``); a suggestion
    made otherwise (by hand, by an older version) falls back to its creation time and the defaults.
    """
    details = _mapping(pattern_details)
    config = _mapping(details.get("config"))
    detected_at = _moment(details.get("detected_at")) or created_at
    window = _mapping(details.get("window"))
    end = _moment(window.get("end")) or detected_at
    days = config.get("analysis_window_days")
    fallback_days = days if isinstance(days, int) and days > 0 else default_window_days
    start = _moment(window.get("start")) or end - timedelta(days=fallback_days)
    weight_recent = config.get("weight_recent_shipments")
    return DetectionContext(
        window_start=start,
        window_end=end,
        detected_at=detected_at,
        weight_recent=weight_recent if isinstance(weight_recent, bool) else default_weight_recent,
        exact=config.get("require_exact_match") is True,
    )


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def weeks_touched(*, start: datetime, end: datetime) -> int:
    """How many calendar weeks (Monday to Sunday) the span from ``start`` to ``end`` touches."""
    return max(0, (week_start(end) - week_start(start)).days // DAYS_PER_WEEK) + 1
