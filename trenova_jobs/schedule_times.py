"""When a schedule fires: cron strings read in an IANA time zone (DST handled) and fixed intervals. Pure.

A cron string is evaluated on local wall-clock time, then each local time is placed on the UTC line:

- a local time that does not exist (the spring-forward gap: 02:30 on the night clocks go from 02:00 to
  03:00) fires once, at the first valid local time after it (03:00);
- a local time that happens twice (the fall-back hour) fires once, at its first occurrence.

Fire times are whole seconds, so a fire time read back from the database compares equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter  # type: ignore[import-untyped]  # croniter 1.x ships no type hints

MIN_INTERVAL_SECONDS = 10
# A cron string that names a date that never comes (February 30th) stops the search this far out.
_SEARCH_LIMIT = timedelta(days=366 * 5)
_GAP_STEP = timedelta(minutes=1)


class ScheduleTimeError(ValueError):
    """A cron string, interval or time zone that cannot be used; the message says why."""


def cron_check(expression: str) -> str:
    """The cron string, normalised (single spaces); exactly five fields, each valid."""
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleTimeError(
            f"A cron string has exactly 5 fields (minute hour day-of-month month day-of-week); got {len(fields)}."
        )
    normalised = " ".join(fields)
    if not croniter.is_valid(normalised):
        raise ScheduleTimeError(f"{normalised!r} is not a valid cron string.")
    return normalised


def interval_check(seconds: int) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ScheduleTimeError("The interval is a whole number of seconds.")
    if seconds < MIN_INTERVAL_SECONDS:
        raise ScheduleTimeError(f"The interval must be at least {MIN_INTERVAL_SECONDS} seconds; got {seconds}.")
    return seconds


def zone_get(name: str) -> ZoneInfo:
    if not name or name not in _zone_names():
        raise ScheduleTimeError(f"{name!r} is not an IANA time zone (e.g. UTC, America/Chicago, Europe/Berlin).")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleTimeError(f"{name!r} is not an IANA time zone: {exc}") from None


_ZONES: frozenset[str] | None = None


def _zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


def zone_names() -> list[str]:
    return sorted(_zone_names())


def _whole(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _exists(local: datetime, zone: ZoneInfo) -> bool:
    aware = local.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall-clock time on the UTC line: gaps move to the next valid time, folds take the first."""
    moment = local
    while not _exists(moment, zone):
        moment += _GAP_STEP
        if moment - local > timedelta(hours=24):
            raise ScheduleTimeError(f"No valid local time follows {local:%Y-%m-%d %H:%M} in {zone.key}.")
        moment = moment.replace(second=0)
    return _whole(moment.replace(tzinfo=zone, fold=0).astimezone(UTC))


@dataclass(frozen=True)
class Timing:
    """A schedule's rule: a cron string in a zone, or an interval from an anchor."""

    cron: str | None = None
    zone: str = "UTC"
    interval_seconds: int | None = None
    anchor: datetime | None = None  # interval schedules: fire times are anchor + k * interval

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ScheduleTimeError("A schedule has either a cron string or an interval, not both or neither.")
        if self.interval_seconds is not None and (self.anchor is None or self.anchor.tzinfo is None):
            raise ScheduleTimeError("An interval schedule needs an aware anchor time.")

    def after(self, moment: datetime) -> Iterator[datetime]:
        """Fire times strictly after ``moment`` (aware), ascending, in UTC."""
        if self.interval_seconds is not None:
            assert self.anchor is not None
            step = self.interval_seconds
            anchor = _whole(self.anchor.astimezone(UTC))
            elapsed = (moment - anchor).total_seconds()
            k = max(0, int(elapsed // step) + 1) if elapsed >= 0 else 0
            while True:
                yield anchor + timedelta(seconds=k * step)
                k += 1
        assert self.cron is not None
        zone = zone_get(self.zone)
        start = moment.astimezone(zone).replace(tzinfo=None)
        # croniter walks local wall-clock times; stepping back an hour covers a fold's second pass.
        walker = croniter(self.cron, start - timedelta(hours=1))
        last: datetime | None = None
        limit = moment + _SEARCH_LIMIT
        while True:
            local: datetime = walker.get_next(datetime)
            fire = local_to_utc(local, zone)
            if fire > limit:
                return
            if fire <= moment or (last is not None and fire <= last):
                continue  # before the moment, or a gap time that landed on an earlier fire
            last = fire
            yield fire

    def next_after(self, moment: datetime) -> datetime | None:
        return next(iter(self.after(moment)), None)

    def between(self, start: datetime, end: datetime, *, limit: int) -> tuple[list[datetime], bool]:
        """Fire times in (start, end], at most the ``limit`` latest; and whether older ones were left out."""
        if self.interval_seconds is not None:
            first = self.next_after(start)
            if first is None or first > end:
                return [], False
            count = int((end - first).total_seconds() // self.interval_seconds) + 1
            kept = min(count, limit)
            last = first + timedelta(seconds=(count - 1) * self.interval_seconds)
            times = [last - timedelta(seconds=i * self.interval_seconds) for i in reversed(range(kept))]
            return times, count > kept
        # Walk back from the end: after a long outage only the latest ``limit`` are wanted. Local times map to
        # UTC in order (a gap time lands on the gap's end, a fold takes its first pass), so the walk descends.
        assert self.cron is not None
        zone = zone_get(self.zone)
        walker = croniter(self.cron, end.astimezone(zone).replace(tzinfo=None) + timedelta(hours=2))
        found: set[datetime] = set()
        while True:
            local: datetime = walker.get_prev(datetime)
            fire = local_to_utc(local, zone)
            if fire <= start or end - fire > _SEARCH_LIMIT:
                break
            if fire <= end:
                found.add(fire)
                if len(found) > limit:
                    break
        times = sorted(found)
        return times[-limit:], len(times) > limit

    def latest_at_or_before(self, moment: datetime, *, since: datetime) -> datetime | None:
        """The last fire time in (since, moment], if any."""
        times, _ = self.between(since, moment, limit=1)
        return times[-1] if times else None
