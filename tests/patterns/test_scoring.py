"""The confidence score: each component's constants and every boundary ."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from patterns.scoring import ScoreBreakdown, confidence_score, score_breakdown, whole_days

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


def score(
    frequency: int = 1,
    *,
    last_days_ago: float = 365,
    span_days: float = 0,
    total: Decimal | None = None,
    weight_recent: bool = True,
) -> Decimal:
    last = NOW - timedelta(days=last_days_ago)
    return confidence_score(
        frequency=frequency,
        first=last - timedelta(days=span_days),
        last=last,
        total_freight=total,
        now=NOW,
        weight_recent=weight_recent,
    )


# --- frequency: min(n / 10, 0.4) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "expected"),
    [(1, "0.1000"), (2, "0.2000"), (3, "0.3000"), (4, "0.4000"), (5, "0.4000"), (250, "0.4000")],
)
def test_frequency_component_is_a_tenth_per_shipment_capped_at_0_4(frequency: int, expected: str) -> None:
    # Old (365 days), no span, no freight: only the frequency component counts.
    assert score(frequency) == Decimal(expected)


def test_a_single_shipment_scores_only_frequency_and_recency() -> None:
    # n = 1: no regularity even though first == last; 0.1 + 0.3 (today).
    assert score(1, last_days_ago=0) == Decimal("0.4000")


# --- recency: whole days since the last shipment ---------------------------------------------------


@pytest.mark.parametrize(
    ("days_ago", "points"),
    [
        (0, "0.3"),
        (7, "0.3"),
        (7 + 23 / 24, "0.3"),  # 7 days 23 hours is 7 whole days
        (8, "0.2"),
        (30, "0.2"),
        (30.99, "0.2"),
        (31, "0.1"),
        (60, "0.1"),
        (61, "0"),
        (400, "0"),
    ],
)
def test_recency_boundaries(days_ago: float, points: str) -> None:
    assert score(1, last_days_ago=days_ago) == Decimal("0.1") + Decimal(points)


def test_recency_is_ignored_when_weighting_is_off() -> None:
    assert score(1, last_days_ago=0, weight_recent=False) == Decimal("0.1000")


def test_a_last_shipment_in_the_future_counts_as_today() -> None:
    assert score(1, last_days_ago=-3) == Decimal("0.4000")


# --- regularity: floor(span / (n - 1)) whole days --------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "span_days", "points"),
    [
        (2, 1 / 24, "0.2"),  # one hour apart: a gap of 0 whole days still counts
        (2, 30, "0.2"),
        (2, 30.9, "0.2"),
        (2, 31, "0.1"),
        (2, 60, "0.1"),
        (2, 60.99, "0.1"),
        (2, 61, "0"),
        (3, 61, "0.2"),  # floor(61 / 2) = 30
        (3, 62, "0.1"),  # floor(62 / 2) = 31
        (3, 121, "0.1"),  # floor(121 / 2) = 60
        (3, 122, "0"),  # floor(122 / 2) = 61
    ],
)
def test_regularity_boundaries(frequency: int, span_days: float, points: str) -> None:
    expected = Decimal(frequency) / 10 + Decimal(points)
    assert score(frequency, span_days=span_days) == expected


def test_identical_dates_earn_no_regularity() -> None:
    # n = 3 all on the same instant: span 0, so no regularity whatever the average gap would be.
    assert score(3, span_days=0) == Decimal("0.3000")


# --- value: total freight strictly above 10 000 ----------------------------------------------------


@pytest.mark.parametrize(
    ("total", "points"),
    [
        (None, "0"),
        (Decimal("0"), "0"),
        (Decimal("10000"), "0"),
        (Decimal("10000.0000"), "0"),
        (Decimal("10000.0001"), "0.1"),
        (Decimal("250000"), "0.1"),
    ],
)
def test_value_boundary(total: Decimal | None, points: str) -> None:
    assert score(1, total=total) == Decimal("0.1") + Decimal(points)


# --- together --------------------------------------------------------------------------------------


def test_all_components_add_up_to_the_cap() -> None:
    # 0.4 (n = 12) + 0.3 (yesterday) + 0.2 (gap floor(77 / 11) = 7) + 0.1 (12 000) = 1.0
    assert score(12, last_days_ago=1, span_days=77, total=Decimal("12000")) == Decimal("1.0000")


def test_score_is_stored_with_four_decimals() -> None:
    result = score(3, last_days_ago=10, span_days=30)
    assert result == Decimal("0.7000")
    assert result.as_tuple().exponent == -4


def test_a_lane_needs_a_shipment() -> None:
    with pytest.raises(ValueError):
        score(0)


@pytest.mark.parametrize(("seconds", "days"), [(0, 0), (86_399, 0), (86_400, 1), (-5, 0), (7 * 86_400 + 86_399, 7)])
def test_whole_days(seconds: float, days: int) -> None:
    assert whole_days(seconds) == days


# --- the breakdown: the same rules, part by part ---------------------------------------------------


def test_breakdown_names_each_part() -> None:
    last = NOW - timedelta(days=20)
    parts = score_breakdown(
        frequency=3, first=last - timedelta(days=90), last=last, total_freight=None, now=NOW, weight_recent=True
    )
    # 3 shipments → 0.3; 20 days ago → 0.2; 45-day average gap → 0.1; no freight → 0.
    assert parts == ScoreBreakdown(
        frequency=Decimal("0.3"), recency=Decimal("0.2"), regularity=Decimal("0.1"), value=Decimal("0")
    )
    assert parts.total == Decimal("0.6000")


@pytest.mark.parametrize("frequency", [1, 2, 3, 4, 7, 40])
@pytest.mark.parametrize("last_days_ago", [0, 7.5, 8, 30, 45, 61, 365])
@pytest.mark.parametrize("span_days", [0, 0.5, 30, 59, 120, 400])
@pytest.mark.parametrize("total", [None, Decimal("10000"), Decimal("10000.01")])
@pytest.mark.parametrize("weight_recent", [True, False])
def test_the_parts_add_up_to_the_score(
    frequency: int, last_days_ago: float, span_days: float, total: Decimal | None, weight_recent: bool
) -> None:
    last = NOW - timedelta(days=last_days_ago)
    kwargs = {
        "frequency": frequency,
        "first": last - timedelta(days=span_days),
        "last": last,
        "total_freight": total,
        "now": NOW,
        "weight_recent": weight_recent,
    }
    parts = score_breakdown(**kwargs)
    assert parts.total == confidence_score(**kwargs)
    # The parts' maxima add up to exactly the cap, so the cap never hides a part: the sum is the score.
    assert parts.frequency + parts.recency + parts.regularity + parts.value == parts.total
    assert not weight_recent or parts.recency in {Decimal("0"), Decimal("0.1"), Decimal("0.2"), Decimal("0.3")}
    assert weight_recent or parts.recency == 0
