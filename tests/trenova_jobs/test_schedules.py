"""Schedules: validation, the package's runtime off, and the tick's rules (in process, with an explicit clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from scheduler.models import CronJob, RepeatableJob, ScheduledJob

from trenova_jobs.models import FireOutcome, JobRecord, JobStatus, Schedule, ScheduleFire
from trenova_jobs.schedules import (
    ScheduleValidationError,
    schedule_create,
    schedule_delete,
    schedule_run_now,
    schedule_states,
    schedule_update,
    schedules_tick,
)

pytestmark = pytest.mark.django_db


def _every(seconds: int = 10, **kwargs) -> Schedule:
    return schedule_create(name=kwargs.pop("name", "noop"), job_type="system:noop", interval_seconds=seconds, **kwargs)


def _fires(schedule: Schedule) -> list[tuple[str, str]]:
    rows = ScheduleFire.objects.filter(schedule=schedule).order_by("fire_time")
    return [(f"{(row.fire_time - schedule.baseline_at).total_seconds():.0f}", row.outcome) for row in rows]


def _jobs(schedule: Schedule) -> list[JobRecord]:
    ids = ScheduleFire.objects.filter(schedule=schedule).exclude(job_id="").values_list("job_id", flat=True)
    return list(JobRecord.objects.filter(pk__in=list(ids)))


# --- Validation: a clear error and nothing saved ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"cron": "0 2 * *"}, "cron", "exactly 5 fields"),
        ({"cron": "0 0 2 * * *"}, "cron", "exactly 5 fields"),
        ({"cron": "99 * * * *"}, "cron", "not a valid cron string"),
        ({"interval_seconds": 5}, "interval_seconds", "at least 10 seconds"),
        ({"cron": "* * * * *", "interval_seconds": 60}, "cron", "not both"),
        ({}, "cron", "either a cron string or an interval"),
        ({"cron": "* * * * *", "job_type": "os.system"}, "job_type", "Unknown job type 'os.system'"),
        ({"cron": "* * * * *", "payload": {"value": "x"}}, "payload", "Invalid payload for system:noop"),
        ({"cron": "* * * * *", "payload": {"rm": "-rf"}}, "payload", "Extra inputs are not permitted"),
        ({"cron": "* * * * *", "timezone": "Mars/Olympus"}, "timezone", "IANA time zone"),
        ({"cron": "* * * * *", "overlap": "queue"}, "overlap", "skip, allow"),
        ({"cron": "* * * * *", "catch_up": "all"}, "catch_up", "latest, none"),
        ({"cron": "* * * * *", "timeout": 0}, "timeout", "1 to 86400"),
        ({"cron": "* * * * *", "name": "  "}, "name", "needs a name"),
    ],
)
def test_bad_input_is_a_clear_error_and_saves_nothing(kwargs, field, message, redis_conn):
    values = {"name": "nightly", "job_type": "system:noop", **kwargs}
    with pytest.raises(ScheduleValidationError) as caught:
        schedule_create(**values)
    assert field in caught.value.errors
    assert message in " ".join(caught.value.errors[field])
    assert Schedule.objects.count() == CronJob.objects.count() == RepeatableJob.objects.count() == 0
    assert redis_conn.dbsize() == 0


def test_names_are_unique_across_cron_and_interval_schedules(redis_conn):
    _every(name="nightly")
    with pytest.raises(ScheduleValidationError, match="exists already"):
        schedule_create(name="nightly", job_type="system:noop", cron="0 2 * * *")


def test_a_schedule_is_the_packages_row_plus_trenovas_and_the_payload_is_normalised(redis_conn):
    schedule = schedule_create(
        name="analyse", job_type="pattern:analyze_all", cron="0  2 * * *", timezone="America/Chicago"
    )
    entry = CronJob.objects.get()
    assert (entry.name, entry.callable, entry.queue, entry.cron_string, entry.enabled) == (
        "analyse",
        "pattern:analyze_all",
        "pattern",
        "0 2 * * *",
        True,
    )
    assert schedule.payload == {"window_days": 7}  # the payload type's defaults, as JSON
    assert redis_conn.dbsize() == 0


# --- The package's runtime is off ---------------------------------------------------------------------------


def test_saving_enabling_disabling_and_deleting_package_rows_writes_nothing_to_redis(redis_conn):
    from django.utils import timezone

    rows = [
        CronJob.objects.create(name="c", callable="system:noop", queue="default", cron_string="* * * * *"),
        RepeatableJob.objects.create(
            name="r",
            callable="system:noop",
            queue="default",
            interval=10,
            interval_unit="seconds",
            scheduled_time=timezone.now(),
        ),
        ScheduledJob.objects.create(name="s", callable="system:noop", queue="default", scheduled_time=timezone.now()),
    ]
    assert redis_conn.dbsize() == 0
    for row in rows:
        row.enabled = False
        row.save()
        assert redis_conn.dbsize() == 0
        row.enabled = True
        row.save()
        assert redis_conn.dbsize() == 0
        assert row.is_scheduled() is False and row.job_id is None
        with pytest.raises(RuntimeError, match="runtime is off"):
            row.enqueue_to_run()
        row.delete()
        assert redis_conn.dbsize() == 0
    schedule = _every()
    schedule_update(schedule=schedule, enabled=False)
    schedule_update(schedule=schedule, enabled=True, interval_seconds=20)
    schedule_delete(schedule=schedule)
    assert redis_conn.dbsize() == 0
    assert not CronJob.objects.exists() and not RepeatableJob.objects.exists()


# --- The tick -------------------------------------------------------------------------------------------


def test_a_due_fire_time_is_enqueued_once_however_often_it_is_ticked(redis_conn):
    schedule = _every(10)
    t0 = schedule.baseline_at
    assert schedules_tick(now=t0 + timedelta(seconds=9)) == {}
    assert schedules_tick(now=t0 + timedelta(seconds=10)) == {"noop": "enqueued"}
    for _ in range(3):  # every worker's ticker, the same second
        assert schedules_tick(now=t0 + timedelta(seconds=12)) == {}
    assert _fires(schedule) == [("10", "enqueued")]
    [job] = _jobs(schedule)
    assert job.job_type == "system:noop" and job.status == JobStatus.QUEUED


def test_overlap_skip_records_a_skip_while_the_previous_run_is_active_and_allow_runs(redis_conn):
    skip = _every(10, name="skip")
    allow = _every(10, name="allow", overlap="allow")
    t0 = skip.baseline_at
    schedules_tick(now=t0 + timedelta(seconds=10))
    schedules_tick(now=t0 + timedelta(seconds=20))  # no worker ran the first job: it is still queued
    assert _fires(skip) == [("10", "enqueued"), ("20", "skipped")]
    assert "still queued" in ScheduleFire.objects.get(schedule=skip, outcome=FireOutcome.SKIPPED).reason
    assert [outcome for _, outcome in _fires(allow)] == ["enqueued", "enqueued"]
    # Once the previous job has finished, the next fire runs again.
    first = _jobs(skip)[0]
    JobRecord.objects.filter(pk=first.pk).update(status=JobStatus.SUCCEEDED)  # test setup: a finished run
    schedules_tick(now=t0 + timedelta(seconds=30))
    assert _fires(skip)[-1] == ("30", "enqueued")


def test_catch_up_latest_runs_once_after_downtime_and_records_the_older_fires_as_missed(redis_conn):
    schedule = _every(10, overlap="allow")
    t0 = schedule.baseline_at
    schedules_tick(now=t0 + timedelta(seconds=10))
    assert schedules_tick(now=t0 + timedelta(seconds=300)) == {"noop": "enqueued"}  # down for ~5 minutes
    fires = _fires(schedule)
    assert fires[0] == ("10", "enqueued") and fires[-1] == ("300", "enqueued")
    assert [outcome for _, outcome in fires[1:-1]] == ["missed"] * 28
    assert len(_jobs(schedule)) == 2
    assert ScheduleFire.objects.get(schedule=schedule, fire_time=t0 + timedelta(seconds=300)).reason == (
        "28 earlier fire(s) missed"
    )


def test_catch_up_none_runs_only_on_time_fires_and_latest_runs_the_late_one(redis_conn, settings):
    settings.TRENOVA_JOBS_SCHEDULE_GRACE = 30
    none = _every(600, name="none", catch_up="none", overlap="allow")
    latest = _every(600, name="latest", overlap="allow")
    t0 = none.baseline_at
    assert schedules_tick(now=t0 + timedelta(seconds=605)) == {"none": "enqueued", "latest": "enqueued"}
    # Down from 10 min to 31 min 40 s: the fire at 30 min is 100 s old (past the grace), the one at 20 min older.
    assert schedules_tick(now=t0 + timedelta(seconds=1900)) == {"none": "missed", "latest": "enqueued"}
    assert _fires(none) == [("600", "enqueued"), ("1200", "missed"), ("1800", "missed")]
    assert _fires(latest) == [("600", "enqueued"), ("1200", "missed"), ("1800", "enqueued")]
    assert ScheduleFire.objects.get(schedule=latest, fire_time=t0 + timedelta(seconds=1800)).reason == (
        "late: caught up after downtime; 1 earlier fire(s) missed"
    )
    assert "catch-up is none" in ScheduleFire.objects.get(schedule=none, fire_time=t0 + timedelta(seconds=1800)).reason
    assert len(_jobs(none)) == 1 and len(_jobs(latest)) == 2


def test_an_edit_takes_effect_at_the_next_tick_with_no_fire_for_the_old_time(redis_conn):
    from trenova_jobs.schedule_times import Timing

    schedule = schedule_create(name="hourly", job_type="system:noop", cron="0 * * * *")
    schedule = schedule_update(schedule=schedule, cron="30 * * * *")
    t0 = schedule.baseline_at
    old_time = Timing(cron="0 * * * *").next_after(t0)
    new_time = Timing(cron="30 * * * *").next_after(t0)
    for moment in sorted([old_time, new_time]):
        schedules_tick(now=moment + timedelta(seconds=1))
    assert [(f.fire_time, f.outcome) for f in ScheduleFire.objects.filter(schedule=schedule)] == [
        (new_time, "enqueued")
    ]
    # Switching to an interval replaces the package row; the schedule and its history stay.
    schedule = schedule_update(schedule=schedule, cron=None, interval_seconds=60)
    assert schedule.interval_entry_id and not schedule.cron_entry_id
    assert not CronJob.objects.exists() and RepeatableJob.objects.count() == 1
    assert ScheduleFire.objects.filter(schedule=schedule).count() == 1


def test_a_disabled_schedule_does_not_fire_and_re_enabling_does_not_catch_up(redis_conn):
    schedule = _every(10)
    t0 = schedule.baseline_at
    schedule_update(schedule=schedule, enabled=False)
    assert schedules_tick(now=t0 + timedelta(seconds=100)) == {}
    assert not ScheduleFire.objects.exists()
    schedule = schedule_update(schedule=schedule, enabled=True)
    assert schedules_tick(now=schedule.baseline_at + timedelta(seconds=1)) == {}
    assert not ScheduleFire.objects.exists()


def test_run_now_enqueues_and_is_recorded(redis_conn):
    from tests.patterns.factories import UserFactory

    schedule = _every(3600)
    user = UserFactory(username="ops")
    record = schedule_run_now(schedule=schedule, user=user)
    assert record.job_type == "system:noop" and record.user == user
    fire = ScheduleFire.objects.get(schedule=schedule)
    assert (fire.job_id, fire.outcome, fire.reason) == (record.id, "enqueued", "run now by ops")


def test_states_show_next_run_last_outcome_and_the_late_flag(redis_conn, settings):
    settings.TRENOVA_JOBS_SCHEDULE_GRACE = 30
    schedule = _every(10)
    t0 = schedule.baseline_at
    [state] = schedule_states(now=t0 + timedelta(seconds=5))
    assert state.next_run == t0 + timedelta(seconds=10)
    assert state.last_fire is None and state.late is False
    schedules_tick(now=t0 + timedelta(seconds=10))
    [state] = schedule_states(now=t0 + timedelta(seconds=15))
    assert state.last_fire.outcome == "enqueued" and state.last_job_status == JobStatus.QUEUED
    assert state.late is False
    # Nobody ticks for a minute: the fire at 20 s is older than the 30 s grace at 55 s.
    [state] = schedule_states(now=t0 + timedelta(seconds=55))
    assert state.late is True


def test_setup_schedules_is_idempotent_and_keeps_admin_edits(redis_conn, capsys):
    call_command("setup_schedules")
    names = set(CronJob.objects.values_list("name", flat=True))
    assert len(names) == 7
    daily = Schedule.objects.get(cron_entry__name="Pattern analysis, daily (7 days)")
    assert (daily.job_type, daily.payload, daily.cron) == ("pattern:analyze_all", {"window_days": 7}, "0 2 * * *")
    schedule_update(schedule=daily, cron="0 4 * * *", enabled=False)
    call_command("setup_schedules")
    assert CronJob.objects.count() == 7
    daily = Schedule.objects.get(pk=daily.pk)
    assert (daily.cron, daily.enabled) == ("0 4 * * *", False)
    assert "0 created, 7 already there." in capsys.readouterr().out
    assert redis_conn.dbsize() == 0
