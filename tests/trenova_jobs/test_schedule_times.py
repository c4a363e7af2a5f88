"""When schedules fire: cron strings in IANA zones across DST changes, and intervals. Pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from trenova_jobs.schedule_times import ScheduleTimeError, Timing, cron_check, interval_check, zone_get

CHICAGO, BERLIN = ZoneInfo("America/Chicago"), ZoneInfo("Europe/Berlin")


def _local(times: list[datetime], zone: ZoneInfo) -> list[str]:
    return [t.astimezone(zone).strftime("%m-%d %H:%M %Z") for t in times]


def _next(timing: Timing, start: datetime, n: int) -> list[datetime]:
    it = timing.after(start)
    return [next(it) for _ in range(n)]


def test_cron_in_a_zone_fires_at_local_wall_clock_time():
    timing = Timing(cron="0 9 * * 1-5", zone="America/Chicago")
    fires = _next(timing, datetime(2026, 12, 4, 18, tzinfo=UTC), 2)  # Friday noon in Chicago
    assert _local(fires, CHICAGO) == ["12-07 09:00 CST", "12-08 09:00 CST"]
    assert fires[0] == datetime(2026, 12, 7, 15, tzinfo=UTC)


def test_a_local_time_skipped_by_spring_forward_fires_once_at_the_next_valid_time():
    # America/Chicago, 2026-03-08: 02:00 CST jumps to 03:00 CDT, so 02:30 does not exist that night.
    timing = Timing(cron="30 2 * * *", zone="America/Chicago")
    fires = _next(timing, datetime(2026, 3, 6, 12, tzinfo=UTC), 3)
    assert _local(fires, CHICAGO) == ["03-07 02:30 CST", "03-08 03:00 CDT", "03-09 02:30 CDT"]
    # Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; a half-hourly cron loses the gap, fires once at 03:00.
    half_hourly = Timing(cron="*/30 * * * *", zone="Europe/Berlin")
    fires, _ = half_hourly.between(
        datetime(2026, 3, 29, 0, 15, tzinfo=UTC), datetime(2026, 3, 29, 1, 45, tzinfo=UTC), limit=10
    )
    assert _local(fires, BERLIN) == ["03-29 01:30 CET", "03-29 03:00 CEST", "03-29 03:30 CEST"]


def test_a_local_time_repeated_by_fall_back_fires_once():
    # America/Chicago, 2026-11-01: 02:00 CDT falls back to 01:00 CST, so 01:30 happens twice.
    timing = Timing(cron="30 1 * * *", zone="America/Chicago")
    fires = _next(timing, datetime(2026, 10, 31, 12, tzinfo=UTC), 2)
    assert _local(fires, CHICAGO) == ["11-01 01:30 CDT", "11-02 01:30 CST"]
    # Even when asked from inside the repeated hour (the second 01:00), the first 01:30 is not fired again.
    assert timing.next_after(datetime(2026, 11, 1, 7, 0, tzinfo=UTC)) == datetime(2026, 11, 2, 7, 30, tzinfo=UTC)
    # Europe/Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET.
    half_hourly = Timing(cron="*/30 * * * *", zone="Europe/Berlin")
    fires, _ = half_hourly.between(
        datetime(2026, 10, 24, 23, 50, tzinfo=UTC), datetime(2026, 10, 25, 2, 0, tzinfo=UTC), limit=20
    )
    assert _local(fires, BERLIN) == ["10-25 02:00 CEST", "10-25 02:30 CEST", "10-25 03:00 CET"]
    assert len(set(fires)) == len(fires)


def test_between_keeps_the_latest_and_says_whether_older_ones_were_left_out():
    every_minute = Timing(cron="* * * * *", zone="UTC")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fires, truncated = every_minute.between(start, start + timedelta(days=2), limit=3)
    assert fires == [
        start + timedelta(days=2, minutes=-2),
        start + timedelta(days=2, minutes=-1),
        start + timedelta(days=2),
    ]
    assert truncated is True
    fires, truncated = every_minute.between(start, start + timedelta(minutes=2), limit=3)
    assert fires == [start + timedelta(minutes=1), start + timedelta(minutes=2)] and truncated is False
    assert every_minute.between(start, start, limit=3) == ([], False)


def test_intervals_count_from_their_anchor():
    anchor = datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)
    timing = Timing(interval_seconds=10, anchor=anchor)
    assert timing.next_after(anchor) == datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)  # whole seconds
    assert timing.next_after(datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)) == datetime(2026, 1, 1, 12, 0, 20, tzinfo=UTC)
    fires, truncated = timing.between(anchor, anchor + timedelta(hours=1), limit=2)
    assert fires == [datetime(2026, 1, 1, 12, 59, 50, tzinfo=UTC), datetime(2026, 1, 1, 13, 0, 0, tzinfo=UTC)]
    assert truncated is True


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 2 * *", "exactly 5 fields"),
        ("0 0 2 * * *", "exactly 5 fields"),  # a 6-field (seconds) cron
        ("61 2 * * *", "not a valid cron string"),
        ("0 2 * * mon-funday", "not a valid cron string"),
        ("", "exactly 5 fields"),
    ],
)
def test_bad_cron_strings_are_refused_with_the_reason(expression, message):
    with pytest.raises(ScheduleTimeError, match=message):
        cron_check(expression)


def test_cron_strings_are_normalised_and_intervals_bounded():
    assert cron_check("  0   2 * *  * ") == "0 2 * * *"
    assert interval_check(10) == 10
    for bad in (9, 0, -5, True, 10.5):
        with pytest.raises(ScheduleTimeError):
            interval_check(bad)  # type: ignore[arg-type]


def test_unknown_time_zones_are_refused():
    assert zone_get("Europe/Berlin").key == "Europe/Berlin"
    for bad in ("Mars/Olympus", "", "../etc/passwd", "CST6CDT/../../x"):
        with pytest.raises(ScheduleTimeError, match="IANA time zone"):
            zone_get(bad)


def test_a_timing_has_one_rule():
    with pytest.raises(ScheduleTimeError):
        Timing(cron="* * * * *", interval_seconds=10, anchor=datetime.now(UTC))
    with pytest.raises(ScheduleTimeError):
        Timing()
