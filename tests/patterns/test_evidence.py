"""The evidence behind a suggestion (patterns.evidence): weeks, gaps, money and what pattern_details record."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from patterns.evidence import (
    ShipmentPoint,
    cadence_per_week,
    detection_context,
    gap_spread,
    lane_evidence,
    monthly_revenue,
    week_start,
    weeks_touched,
)

MONDAY = datetime(2025, 6, 2, tzinfo=UTC)  # a Monday


def test_week_start_is_the_monday() -> None:
    assert week_start(MONDAY) == date(2025, 6, 2)
    assert week_start(MONDAY + timedelta(days=6, hours=23, minutes=59)) == date(2025, 6, 2)
    assert week_start(MONDAY + timedelta(days=7)) == date(2025, 6, 9)


def test_weeks_touched_counts_partial_weeks() -> None:
    assert weeks_touched(start=MONDAY, end=MONDAY + timedelta(days=6)) == 1
    assert weeks_touched(start=MONDAY + timedelta(days=6), end=MONDAY + timedelta(days=7)) == 2
    # 90 days starting on a Wednesday touch 14 calendar weeks; starting on a Monday, 13.
    assert weeks_touched(start=MONDAY + timedelta(days=2), end=MONDAY + timedelta(days=92)) == 14
    assert weeks_touched(start=MONDAY, end=MONDAY + timedelta(days=90)) == 13


def test_gap_spread() -> None:
    assert gap_spread([]) is None and gap_spread([MONDAY]) is None
    one = gap_spread([MONDAY, MONDAY + timedelta(days=7)])
    assert one is not None and (one.median, one.q1, one.q3, one.stdev) == (7.0, 7.0, 7.0, 0.0)
    # Unsorted input; gaps 7, 7, 14, 7 days: median 7, upper quartile 8.75, population stdev √9.1875.
    days = [0, 14, 7, 28, 35]
    spread = gap_spread([MONDAY + timedelta(days=d) for d in days])
    assert spread is not None
    assert (spread.count, spread.median, spread.q1, spread.q3) == (4, 7.0, 7.0, 8.75)
    assert spread.iqr == 1.75
    assert spread.stdev == pytest.approx(9.1875**0.5)


def test_lane_evidence_fills_empty_weeks_and_sums_revenue() -> None:
    points = [
        ShipmentPoint(MONDAY + timedelta(days=1), Decimal("100")),
        ShipmentPoint(MONDAY + timedelta(days=3), None),
        ShipmentPoint(MONDAY + timedelta(days=15), Decimal("250.50")),
    ]
    evidence = lane_evidence(points=points, window_start=MONDAY, window_end=MONDAY + timedelta(days=28))
    assert [(w.start.day, w.shipments, w.revenue) for w in evidence.weeks] == [
        (2, 2, Decimal("100")),
        (9, 0, Decimal("0")),
        (16, 1, Decimal("250.50")),
        (23, 0, Decimal("0")),
        (30, 0, Decimal("0")),
    ]
    assert (evidence.weeks_active, evidence.weeks_in_window, evidence.shipments, evidence.rated) == (2, 5, 3, 2)
    assert evidence.revenue == Decimal("350.50")
    assert evidence.revenue_per_month == Decimal("381.01")  # 350.50 * 30.4375 / 28 = 381.012…
    assert evidence.per_week == pytest.approx(0.75)
    assert (evidence.first_seen, evidence.last_seen) == (points[0].business_date, points[2].business_date)


def test_lane_evidence_without_shipments() -> None:
    evidence = lane_evidence(points=[], window_start=MONDAY, window_end=MONDAY + timedelta(days=13))
    assert evidence.weeks_active == 0 and evidence.weeks_in_window == 2
    assert evidence.gaps is None and evidence.last_seen is None and evidence.revenue == 0


def test_money_and_cadence_with_an_empty_window() -> None:
    assert cadence_per_week(shipments=3, window_days=0) == 0.0
    assert monthly_revenue(revenue=Decimal("5"), window_days=0) == 0


def test_detection_context_reads_pattern_details() -> None:
    details = {
        "window": {"start": "2025-03-04T00:00:00+00:00", "end": "2025-06-02T00:00:00+00:00"},
        "detected_at": "2025-06-02T00:00:01+00:00",
        "config": {"analysis_window_days": 90, "weight_recent_shipments": False, "require_exact_match": True},
    }
    context = detection_context(details, created_at=MONDAY, default_window_days=30, default_weight_recent=True)
    assert context.window_start == datetime(2025, 3, 4, tzinfo=UTC)
    assert context.window_end == MONDAY and context.window_days == 90
    assert context.detected_at == MONDAY + timedelta(seconds=1)
    assert (context.weight_recent, context.exact) == (False, True)


@pytest.mark.parametrize("details", [{}, None, [], {"window": "x", "config": None, "detected_at": "not a date"}])
def test_detection_context_falls_back_to_the_defaults(details: object) -> None:
    context = detection_context(details, created_at=MONDAY, default_window_days=30, default_weight_recent=True)
    assert (context.window_start, context.window_end, context.detected_at) == (
        MONDAY - timedelta(days=30),
        MONDAY,
        MONDAY,
    )
    assert (context.weight_recent, context.exact) == (True, False)
