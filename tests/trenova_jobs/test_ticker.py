"""The schedule ticker in real workers: fires on time, once per fire time across workers, obeys edits and
policies, and puts nothing pickled in Redis."""

from __future__ import annotations

import json
import time
import zlib
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import wait_for
from trenova_jobs.models import FireOutcome, JobRecord, JobStatus, Schedule, ScheduleFire
from trenova_jobs.schedules import schedule_create, schedule_update

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _fires(schedule: Schedule, outcome: str | None = None) -> list[ScheduleFire]:
    rows = ScheduleFire.objects.filter(schedule=schedule).order_by("fire_time")
    return list(rows.filter(outcome=outcome) if outcome else rows)


def _job_ids(schedule: Schedule) -> list[str]:
    return [fire.job_id for fire in _fires(schedule) if fire.job_id]


def _assert_nothing_pickled(redis_conn) -> int:
    """Every rq job hash in Redis decodes as JSON (rq compresses it with zlib); none is a pickle."""
    checked = 0
    for key in redis_conn.scan_iter("rq:job:*"):
        if redis_conn.type(key) != b"hash":
            continue
        data = redis_conn.hget(key, "data")
        if data is None:
            continue
        raw = zlib.decompress(data)
        assert not raw.startswith(b"\x80"), f"{key!r} holds a pickle"
        json.loads(raw)
        checked += 1
    return checked


def test_a_ten_second_schedule_fires_and_its_jobs_succeed_with_nothing_pickled(redis_conn, start_worker):
    schedule = schedule_create(name="every 10 s", job_type="system:noop", interval_seconds=10, payload={"value": 3})
    start_worker()
    wait_for(lambda: len(_fires(schedule)) >= 2, timeout=40, message="two fires")
    ids = _job_ids(schedule)[:2]
    wait_for(
        lambda: JobRecord.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count() == 2,
        timeout=20,
        message="both runs to succeed",
    )
    first, second = _fires(schedule)[:2]
    assert (second.fire_time - first.fire_time).total_seconds() == 10
    # On time: claimed within a couple of ticks of the fire time.
    assert (first.created_at - first.fire_time).total_seconds() < 3
    assert JobRecord.objects.get(pk=ids[0]).result == {"value": 3}
    assert _assert_nothing_pickled(redis_conn) >= 2


def test_two_workers_yield_exactly_one_job_per_fire_time(redis_conn, start_worker):
    schedule = schedule_create(name="shared", job_type="system:noop", interval_seconds=10)
    start_worker()
    start_worker()
    wait_for(lambda: len(_fires(schedule)) >= 3, timeout=50, message="three fires")
    time.sleep(2)  # a late duplicate from the other worker's ticker would show here
    fires = _fires(schedule)
    assert all(fire.outcome == FireOutcome.ENQUEUED for fire in fires)
    assert len({fire.fire_time for fire in fires}) == len(fires)
    assert JobRecord.objects.filter(job_type="system:noop").count() == len(fires)
    assert len(set(_job_ids(schedule))) == len(fires)


def test_an_edited_schedule_fires_on_its_new_time_and_a_disabled_one_not_at_all(redis_conn, start_worker):
    moving = schedule_create(name="moving", job_type="system:noop", interval_seconds=3600)
    stopped = schedule_create(name="stopped", job_type="system:noop", interval_seconds=10, enabled=False)
    start_worker()
    time.sleep(3)
    moving = schedule_update(schedule=moving, interval_seconds=10)  # re-timed while the worker runs
    wait_for(lambda: _fires(moving), timeout=30, message="the edited schedule to fire")
    first = _fires(moving)[0]
    anchor = moving.interval_entry.scheduled_time
    assert (first.fire_time - anchor.replace(microsecond=0)).total_seconds() % 10 == 0
    assert first.fire_time > anchor
    time.sleep(11)
    assert _fires(stopped) == []


def test_overlap_skip_skips_while_the_previous_run_is_still_running(redis_conn, start_worker):
    schedule = schedule_create(name="slow", job_type="system:noop", interval_seconds=10, payload={"sleep_seconds": 14})
    start_worker()
    wait_for(lambda: len(_fires(schedule)) >= 2, timeout=40, message="a second fire")
    first, second = _fires(schedule)[:2]
    assert (first.outcome, second.outcome) == (FireOutcome.ENQUEUED, FireOutcome.SKIPPED)
    assert "still running" in second.reason
    assert JobRecord.objects.filter(job_type="system:noop").count() == 1


def test_catch_up_latest_after_an_outage_runs_once_and_records_older_fires_as_missed(redis_conn, start_worker):
    schedule = schedule_create(name="caught up", job_type="system:noop", interval_seconds=10)
    # The outage, built on purpose: the schedule existed a minute ago and no ticker ran since.
    a_minute_ago = timezone.now() - timedelta(seconds=65)
    Schedule.objects.filter(pk=schedule.pk).update(baseline_at=a_minute_ago)
    schedule.interval_entry.scheduled_time = a_minute_ago
    schedule.interval_entry.save()
    start_worker()
    wait_for(lambda: _fires(schedule, FireOutcome.ENQUEUED), timeout=30, message="the catch-up run")
    [run] = _fires(schedule, FireOutcome.ENQUEUED)
    missed = _fires(schedule, FireOutcome.MISSED)
    # Every fire time that passed while nobody ticked (about six): the latest ran, the others were missed.
    passed = int((run.fire_time - a_minute_ago.replace(microsecond=0)).total_seconds() // 10)
    assert passed >= 6
    assert len(missed) == passed - 1
    assert all(fire.fire_time < run.fire_time for fire in missed)
    assert f"{passed - 1} earlier fire(s) missed" in run.reason
    wait_for(
        lambda: JobRecord.objects.filter(pk=run.job_id, status=JobStatus.SUCCEEDED).exists(),
        timeout=20,
        message="the catch-up run to succeed",
    )
