"""Recurring schedules: create, change and run them; find what is due; fire each fire time exactly once.

django-rq-scheduler's ``CronJob`` / ``RepeatableJob`` rows hold a schedule's name, enabled flag, cron
string or interval and timeout; the ``Schedule`` row beside each says which registered job type it runs
with which payload, in which time zone, under which policies. The package's runtime is switched off
(``scheduler_runtime_off``): saving one of its rows writes the row and nothing else. Every worker's ticker
calls ``schedules_tick``; a fire time is claimed by inserting its unique ``ScheduleFire`` row, and only the
inserter enqueues, in the same transaction — so any number of workers fire each time once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from scheduler.models import CronJob, RepeatableJob
from scheduler.models.scheduled_job import BaseJob

from trenova_jobs.conf import setting_int
from trenova_jobs.enqueuing import enqueue
from trenova_jobs.errors import JobError, PayloadValidationError, UnknownJobTypeError
from trenova_jobs.logs import log_event
from trenova_jobs.models import (
    ACTIVE_STATUSES,
    CatchUpPolicy,
    FireOutcome,
    JobRecord,
    OverlapPolicy,
    Schedule,
    ScheduleFire,
)
from trenova_jobs.payloads import payload_parse
from trenova_jobs.registry import registry_get
from trenova_jobs.schedule_times import ScheduleTimeError, Timing, cron_check, interval_check, zone_get

logger = logging.getLogger("trenova_jobs")

NAME_MAX_LENGTH = 128
TIMEOUT_RANGE = (1, 24 * 3600)


class ScheduleValidationError(JobError):
    """A schedule's fields are invalid; ``errors`` maps each field to its messages. Nothing was saved."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()))


# --- The package's runtime, off ---------------------------------------------------------------------------


def _save_row_only(self: BaseJob, **kwargs: Any) -> None:
    kwargs.pop("schedule_job", None)
    super(BaseJob, self).save(**kwargs)


def _delete_row_only(self: BaseJob, **kwargs: Any) -> Any:
    return super(BaseJob, self).delete(**kwargs)


def _never_in_redis(self: BaseJob) -> bool:
    return False


def _refuse_enqueue(self: BaseJob) -> bool:
    raise RuntimeError("django-rq-scheduler's runtime is off here: use trenova_jobs.schedules.schedule_run_now().")


def scheduler_runtime_off() -> None:
    """django-rq-scheduler's rows write only themselves: its scheduling (which pickles into Redis) never runs.

    Called from ``TrenovaJobsConfig.ready()``, so it holds for every process and every caller: admin, code,
    fixtures. ``is_scheduled`` would otherwise look in Redis and clear ``job_id`` from the row.
    """
    BaseJob.save = _save_row_only  # type: ignore[method-assign]
    BaseJob.delete = _delete_row_only  # type: ignore[method-assign]
    BaseJob.schedule = _never_in_redis  # type: ignore[method-assign]
    BaseJob.unschedule = _never_in_redis  # type: ignore[method-assign]
    BaseJob.is_scheduled = _never_in_redis  # type: ignore[method-assign]
    BaseJob.enqueue_to_run = _refuse_enqueue  # type: ignore[method-assign]


# --- Validation -----------------------------------------------------------------------------------------


@dataclass
class _Fields:
    name: str
    job_type: str
    payload: dict[str, Any]
    cron: str | None
    interval_seconds: int | None
    timezone: str
    enabled: bool
    overlap: str
    catch_up: str
    timeout: int | None


def _validate(fields: _Fields, *, instance: Schedule | None = None) -> _Fields:
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    name = (fields.name or "").strip()
    if not name:
        fail("name", "A schedule needs a name.")
    elif len(name) > NAME_MAX_LENGTH:
        fail("name", f"At most {NAME_MAX_LENGTH} characters.")
    else:
        taken = CronJob.objects.filter(name=name).exclude(pk=getattr(instance, "cron_entry_id", None) or 0).exists()
        taken = (
            taken
            or RepeatableJob.objects.filter(name=name)
            .exclude(pk=getattr(instance, "interval_entry_id", None) or 0)
            .exists()
        )
        if taken:
            fail("name", f"A schedule named {name!r} exists already.")
    payload: dict[str, Any] = {}
    try:
        spec = registry_get(fields.job_type)
    except UnknownJobTypeError as exc:
        fail("job_type", str(exc))
    else:
        try:
            payload = payload_parse(fields.job_type, spec.payload, fields.payload).model_dump(mode="json")
        except PayloadValidationError as exc:
            fail("payload", str(exc))
    cron, interval = fields.cron or None, fields.interval_seconds
    if (cron is None) == (interval is None):
        fail("cron", "Give either a cron string or an interval in seconds, not both or neither.")
    elif cron is not None:
        try:
            cron = cron_check(cron)
        except ScheduleTimeError as exc:
            fail("cron", str(exc))
    else:
        try:
            interval = interval_check(interval)  # type: ignore[arg-type]
        except ScheduleTimeError as exc:
            fail("interval_seconds", str(exc))
    try:
        zone_get(fields.timezone)
    except ScheduleTimeError as exc:
        fail("timezone", str(exc))
    if fields.overlap not in OverlapPolicy.values:
        fail("overlap", f"Overlap policy is one of {', '.join(OverlapPolicy.values)}; got {fields.overlap!r}.")
    if fields.catch_up not in CatchUpPolicy.values:
        fail("catch_up", f"Catch-up policy is one of {', '.join(CatchUpPolicy.values)}; got {fields.catch_up!r}.")
    if fields.timeout is not None and (
        isinstance(fields.timeout, bool)
        or not isinstance(fields.timeout, int)
        or not TIMEOUT_RANGE[0] <= fields.timeout <= TIMEOUT_RANGE[1]
    ):
        fail("timeout", f"The timeout is {TIMEOUT_RANGE[0]} to {TIMEOUT_RANGE[1]} seconds, or empty.")
    if not isinstance(fields.enabled, bool):
        fail("enabled", "Enabled is true or false.")
    if errors:
        raise ScheduleValidationError(errors)
    return _Fields(
        name=name,
        job_type=fields.job_type,
        payload=payload,
        cron=cron,
        interval_seconds=interval,
        timezone=fields.timezone,
        enabled=fields.enabled,
        overlap=fields.overlap,
        catch_up=fields.catch_up,
        timeout=fields.timeout,
    )


def _entry_write(schedule: Schedule | None, fields: _Fields, now: datetime) -> tuple[Any, bool]:
    """The package row for these fields: updated in place, or replaced when cron ↔ interval changes."""
    queue = registry_get(fields.job_type).queue
    common = {
        "name": fields.name,
        "callable": fields.job_type,  # a registered job type's name, never a dotted path: nothing imports it
        "queue": queue,
        "enabled": fields.enabled,
        "timeout": fields.timeout,
    }
    current = schedule.entry if schedule is not None else None
    if fields.cron is not None:
        if isinstance(current, CronJob):
            retimed = current.cron_string != fields.cron
            for key, value in common.items():
                setattr(current, key, value)
            current.cron_string = fields.cron
            current.save()
            return current, retimed
        return CronJob.objects.create(cron_string=fields.cron, **common), True
    if isinstance(current, RepeatableJob):
        retimed = current.interval_seconds() != fields.interval_seconds
        for key, value in common.items():
            setattr(current, key, value)
        assert fields.interval_seconds is not None
        current.interval, current.interval_unit = fields.interval_seconds, "seconds"
        if retimed:
            current.scheduled_time = now
        current.save()
        return current, retimed
    assert fields.interval_seconds is not None
    row = RepeatableJob.objects.create(
        interval=fields.interval_seconds, interval_unit="seconds", scheduled_time=now, **common
    )
    return row, True


# --- Services -------------------------------------------------------------------------------------------


def schedule_create(
    *,
    name: str,
    job_type: str,
    payload: dict[str, Any] | None = None,
    cron: str | None = None,
    interval_seconds: int | None = None,
    timezone: str = "UTC",
    enabled: bool = True,
    overlap: str = OverlapPolicy.SKIP,
    catch_up: str = CatchUpPolicy.LATEST,
    timeout: int | None = None,
) -> Schedule:
    """A new schedule; raises ``ScheduleValidationError`` (every field's problems at once) and saves nothing."""
    fields = _validate(
        _Fields(name, job_type, payload or {}, cron, interval_seconds, timezone, enabled, overlap, catch_up, timeout)
    )
    now = _now()
    with transaction.atomic():
        entry, _ = _entry_write(None, fields, now)
        schedule = Schedule.objects.create(
            cron_entry=entry if isinstance(entry, CronJob) else None,
            interval_entry=entry if isinstance(entry, RepeatableJob) else None,
            job_type=fields.job_type,
            payload=fields.payload,
            timezone=fields.timezone,
            overlap=fields.overlap,
            catch_up=fields.catch_up,
            baseline_at=now,
        )
    log_event("schedule_created", schedule=schedule.name, job_type=schedule.job_type, schedule_id=schedule.pk)
    return schedule


_CHANGEABLE = {
    "name",
    "job_type",
    "payload",
    "cron",
    "interval_seconds",
    "timezone",
    "enabled",
    "overlap",
    "catch_up",
    "timeout",
}


def schedule_update(*, schedule: Schedule, **changes: Any) -> Schedule:
    """Change a schedule. A new time rule, zone or a re-enable takes effect at the next tick, with no fire for
    a time the old rule (or the disabled period) had due. Switching between cron and interval is allowed
    (give the other one as None)."""
    unknown = set(changes) - _CHANGEABLE
    if unknown:
        raise ScheduleValidationError({name: ["Not a schedule field."] for name in sorted(unknown)})
    schedule = Schedule.objects.select_related("cron_entry", "interval_entry").get(pk=schedule.pk)
    current = {
        "name": schedule.name,
        "job_type": schedule.job_type,
        "payload": schedule.payload,
        "cron": schedule.cron,
        "interval_seconds": schedule.interval_seconds,
        "timezone": schedule.timezone,
        "enabled": schedule.enabled,
        "overlap": schedule.overlap,
        "catch_up": schedule.catch_up,
        "timeout": schedule.timeout,
    }
    if "cron" in changes and changes["cron"] and "interval_seconds" not in changes:
        changes["interval_seconds"] = None
    if "interval_seconds" in changes and changes["interval_seconds"] is not None and "cron" not in changes:
        changes["cron"] = None
    merged = {**current, **changes}
    fields = _validate(_Fields(**merged), instance=schedule)
    now = _now()
    with transaction.atomic():
        old_entry = schedule.entry
        entry, retimed = _entry_write(schedule, fields, now)
        re_enabled = fields.enabled and not current["enabled"]
        schedule.cron_entry = entry if isinstance(entry, CronJob) else None
        schedule.interval_entry = entry if isinstance(entry, RepeatableJob) else None
        schedule.job_type, schedule.payload, schedule.overlap, schedule.catch_up = (
            fields.job_type,
            fields.payload,
            fields.overlap,
            fields.catch_up,
        )
        if retimed or re_enabled or fields.timezone != schedule.timezone:
            schedule.baseline_at = now
        schedule.timezone = fields.timezone
        schedule.save()
        if old_entry is not None and (type(old_entry) is not type(entry) or old_entry.pk != entry.pk):
            old_entry.delete()  # cron ↔ interval: the schedule points at its new row already
    log_event("schedule_updated", schedule=fields.name, schedule_id=schedule.pk, changed=",".join(sorted(changes)))
    return schedule


def schedule_delete(*, schedule: Schedule) -> None:
    """The schedule, its package row and its fire history (job records stay)."""
    entry = schedule.entry
    with transaction.atomic():
        schedule.delete()
        if entry is not None:
            entry.delete()


def schedule_run_now(*, schedule: Schedule, user: Any = None) -> JobRecord:
    """Enqueue the schedule's job now, outside its timing (recorded in its history as a fire)."""
    now = _now()
    with transaction.atomic():
        record = enqueue(schedule.job_type, schedule.payload, timeout=schedule.timeout, user=user)
        who = getattr(user, "get_username", lambda: "")() if user is not None else ""
        _fire_insert(
            schedule, now, FireOutcome.ENQUEUED, job_id=record.id, reason=f"run now{' by ' + who if who else ''}"
        )
    log_event("schedule_run_now", schedule=schedule.name, schedule_id=schedule.pk, job_id=record.id)
    return record


def schedules_enable(*, schedules: Iterable[Schedule], enabled: bool) -> int:
    changed = 0
    for schedule in schedules:
        if schedule.enabled != enabled:
            schedule_update(schedule=schedule, enabled=enabled)
            changed += 1
    return changed


# --- Timing and the tick --------------------------------------------------------------------------------


def _now() -> datetime:
    return timezone.now().replace(microsecond=0)


def schedule_timing(schedule: Schedule) -> Timing:
    if schedule.cron_entry_id:
        return Timing(cron=schedule.cron, zone=schedule.timezone)
    entry = schedule.interval_entry
    anchor = entry.scheduled_time if entry is not None and entry.scheduled_time else schedule.baseline_at
    return Timing(interval_seconds=schedule.interval_seconds, anchor=anchor)


def _fire_insert(schedule: Schedule, fire_time: datetime, outcome: str, *, job_id: str = "", reason: str = "") -> bool:
    """Claim a fire time; False when another worker (or an earlier tick) claimed it first."""
    try:
        with transaction.atomic():
            ScheduleFire.objects.create(
                schedule=schedule, fire_time=fire_time, outcome=outcome, job_id=job_id, reason=reason[:300]
            )
    except IntegrityError:
        return False
    return True


def _schedules_with_state() -> list[tuple[Schedule, datetime]]:
    """Every schedule with the moment after which its fires are due (its last fire or its baseline)."""
    schedules = list(
        Schedule.objects.select_related("cron_entry", "interval_entry").annotate(last_fire=Max("fires__fire_time"))
    )
    return [(s, max(s.baseline_at, s.last_fire) if s.last_fire else s.baseline_at) for s in schedules]


def _previous_run_active(schedule: Schedule) -> str | None:
    last = schedule.fires.filter(outcome=FireOutcome.ENQUEUED).exclude(job_id="").order_by("-fire_time").first()
    if last is None:
        return None
    status = JobRecord.objects.filter(pk=last.job_id).values_list("status", flat=True).first()
    return f"{last.job_id} is still {status}" if status in ACTIVE_STATUSES else None


def schedule_tick_one(schedule: Schedule, since: datetime, now: datetime) -> str | None:
    """Fire one schedule if a fire time is due; returns what happened (for logs and tests)."""
    if not schedule.enabled:
        return None
    grace = timedelta(seconds=setting_int("TRENOVA_JOBS_SCHEDULE_GRACE"))
    limit = setting_int("TRENOVA_JOBS_SCHEDULE_MISSED_LIMIT")
    times, truncated = schedule_timing(schedule).between(since, now, limit=limit + 1)
    if not times:
        return None
    latest, older = times[-1], times[:-1]
    with transaction.atomic():
        on_time = now - latest <= grace
        if not on_time and schedule.catch_up == CatchUpPolicy.NONE:
            outcome, job_id, reason = FireOutcome.MISSED, "", "late (downtime) and catch-up is none"
            if not _fire_insert(schedule, latest, outcome, reason=reason):
                return None
        else:
            blocker = _previous_run_active(schedule) if schedule.overlap == OverlapPolicy.SKIP else None
            if blocker:
                outcome, job_id, reason = FireOutcome.SKIPPED, "", f"overlap skip: {blocker}"
                if not _fire_insert(schedule, latest, outcome, reason=reason):
                    return None
            else:
                if not _fire_insert(schedule, latest, FireOutcome.ENQUEUED):
                    return None  # another worker fired it
                notes = [] if on_time else ["late: caught up after downtime"]
                if older:
                    notes.append(f"{len(older)}{'+' if truncated else ''} earlier fire(s) missed")
                outcome, reason = FireOutcome.ENQUEUED, "; ".join(notes)
                try:
                    with transaction.atomic():
                        record = enqueue(schedule.job_type, schedule.payload, timeout=schedule.timeout)
                    job_id = record.id
                except (JobError, ValueError) as exc:  # the job type or payload no longer validates
                    outcome, job_id, reason = FireOutcome.SKIPPED, "", f"could not enqueue: {exc}"
                ScheduleFire.objects.filter(schedule=schedule, fire_time=latest).update(
                    outcome=outcome, job_id=job_id, reason=reason[:300]
                )
        if older:
            note = "missed (downtime)" + ("; older ones not listed" if truncated else "")
            ScheduleFire.objects.bulk_create(
                [
                    ScheduleFire(schedule=schedule, fire_time=t, outcome=FireOutcome.MISSED, reason=note)
                    for t in older[-limit:]
                ],
                ignore_conflicts=True,
            )
    log_event(
        "schedule_fired",
        logging.INFO if outcome == FireOutcome.ENQUEUED else logging.WARNING,
        schedule=schedule.name,
        schedule_id=schedule.pk,
        fire_time=latest.isoformat(),
        outcome=outcome,
        job_id=job_id or "-",
        missed=len(older),
    )
    return str(outcome)


def schedules_tick(*, now: datetime | None = None) -> dict[str, str]:
    """One pass over every schedule (the worker's ticker calls this every few seconds)."""
    moment = (now or timezone.now()).replace(microsecond=0)
    done: dict[str, str] = {}
    for schedule, since in _schedules_with_state():
        try:
            outcome = schedule_tick_one(schedule, since, moment)
        except Exception as exc:  # one broken schedule must not stop the others
            logger.exception("event=schedule_error schedule_id=%s", schedule.pk)
            outcome = f"error: {type(exc).__name__}"
        if outcome:
            done[schedule.name] = outcome
    return done


# --- Selectors ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleState:
    schedule: Schedule
    next_run: datetime | None
    last_fire: ScheduleFire | None
    last_job_status: str | None
    late: bool

    @property
    def next_run_local(self) -> datetime | None:
        return self.next_run.astimezone(zone_get(self.schedule.timezone)) if self.next_run else None


def schedule_late(schedule: Schedule, since: datetime, now: datetime) -> bool:
    """Enabled, and a fire time more than the grace period old was never claimed (no ticker is running)."""
    if not schedule.enabled:
        return False
    grace = timedelta(seconds=setting_int("TRENOVA_JOBS_SCHEDULE_GRACE"))
    try:
        return schedule_timing(schedule).latest_at_or_before(now - grace, since=since) is not None
    except ScheduleTimeError:
        return True


def schedule_states(*, ids: Iterable[int] | None = None, now: datetime | None = None) -> list[ScheduleState]:
    """Every schedule (or those ``ids``) with its next run, last fire and its job's status, and the late flag.

    A bounded number of queries whatever the number of schedules and fires.
    """
    moment = now or timezone.now()
    rows = _schedules_with_state()
    if ids is not None:
        wanted = set(ids)
        rows = [(s, since) for s, since in rows if s.pk in wanted]
    last_fires: dict[int, ScheduleFire] = {}
    if rows:
        latest = Q()
        for schedule, _ in rows:
            if getattr(schedule, "last_fire", None):
                latest |= Q(schedule_id=schedule.pk, fire_time=schedule.last_fire)  # type: ignore[attr-defined]
        if latest:
            last_fires = {fire.schedule_id: fire for fire in ScheduleFire.objects.filter(latest)}
    job_ids = [fire.job_id for fire in last_fires.values() if fire.job_id]
    statuses = dict(JobRecord.objects.filter(pk__in=job_ids).values_list("id", "status")) if job_ids else {}
    states = []
    for schedule, since in rows:
        fire = last_fires.get(schedule.pk)
        try:
            next_run = schedule_timing(schedule).next_after(max(since, moment)) if schedule.enabled else None
        except ScheduleTimeError:
            next_run = None
        states.append(
            ScheduleState(
                schedule=schedule,
                next_run=next_run,
                last_fire=fire,
                last_job_status=statuses.get(fire.job_id) if fire and fire.job_id else None,
                late=schedule_late(schedule, since, moment),
            )
        )
    return states


def schedule_fires_recent(*, schedule: Schedule, limit: int = 20) -> list[ScheduleFire]:
    return list(schedule.fires.order_by("-fire_time")[:limit])
