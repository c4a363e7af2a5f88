"""Schedules in admin: one page over django-rq-scheduler's rows, every bad input a form error, run now."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from scheduler.models import CronJob, RepeatableJob, ScheduledJob

from trenova_jobs.models import JobRecord, Schedule, ScheduleFire
from trenova_jobs.schedules import schedule_create, schedules_tick

pytestmark = pytest.mark.django_db

ADD = reverse("admin:trenova_jobs_schedule_add")
LIST = reverse("admin:trenova_jobs_schedule_changelist")


def _form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Nightly analysis",
        "job_type": "pattern:analyze_all",
        "payload": '{"window_days": 7}',
        "cron": "0 2 * * *",
        "interval_seconds": "",
        "timezone": "America/Chicago",
        "enabled": "on",
        "overlap": "skip",
        "catch_up": "latest",
        "timeout": "",
        "fires-TOTAL_FORMS": "0",
        "fires-INITIAL_FORMS": "0",
        "fires-MIN_NUM_FORMS": "0",
        "fires-MAX_NUM_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_the_packages_own_admin_pages_are_gone():
    for model in (CronJob, RepeatableJob, ScheduledJob):
        assert not admin.site.is_registered(model)


def test_adding_a_schedule_writes_the_packages_row_and_trenovas(admin_client: Client, redis_conn):
    response = admin_client.post(ADD, _form(), follow=True)
    assert response.status_code == 200
    schedule = Schedule.objects.select_related("cron_entry").get()
    assert (schedule.name, schedule.cron, schedule.timezone, schedule.payload) == (
        "Nightly analysis",
        "0 2 * * *",
        "America/Chicago",
        {"window_days": 7},
    )
    assert schedule.cron_entry.callable == "pattern:analyze_all"
    assert redis_conn.dbsize() == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cron": "0 2 * *"}, "exactly 5 fields"),
        ({"cron": "0 0 2 * * *"}, "exactly 5 fields"),
        ({"cron": "", "interval_seconds": "5"}, "at least 10 seconds"),
        ({"cron": "", "interval_seconds": ""}, "either a cron string or an interval"),
        ({"interval_seconds": "60"}, "not both"),
        ({"job_type": "os.system"}, "Select a valid choice"),
        ({"payload": '{"window_days": 0}'}, "Invalid payload for pattern:analyze_all"),
        ({"payload": '{"window_days": 7, "cmd": "rm"}'}, "Extra inputs are not permitted"),
        ({"payload": "[1, 2]"}, "JSON object"),
        ({"payload": "{not json"}, "Enter a valid JSON"),
        ({"timezone": "Mars/Olympus"}, "Select a valid choice"),
        ({"overlap": "queue"}, "Select a valid choice"),
        ({"timeout": "0"}, "greater than or equal to 1"),
        ({"name": ""}, "This field is required"),
    ],
)
def test_every_bad_input_is_a_form_error_and_saves_nothing(admin_client: Client, redis_conn, overrides, message):
    response = admin_client.post(ADD, _form(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert b"errornote" in response.content
    assert Schedule.objects.count() == CronJob.objects.count() == RepeatableJob.objects.count() == 0


def test_a_duplicate_name_is_a_form_error(admin_client: Client, redis_conn):
    schedule_create(name="Nightly analysis", job_type="system:noop", interval_seconds=60)
    response = admin_client.post(ADD, _form())
    assert b"exists already" in response.content
    assert Schedule.objects.count() == 1


def test_editing_through_the_change_form_uses_the_services(admin_client: Client, redis_conn):
    schedule = schedule_create(name="noop", job_type="system:noop", interval_seconds=60)
    url = reverse("admin:trenova_jobs_schedule_change", args=[schedule.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and b'value="60"' in page.content
    response = admin_client.post(
        url, _form(name="noop", job_type="system:noop", payload="{}", cron="*/5 * * * *", timezone="UTC"), follow=True
    )
    assert response.status_code == 200
    schedule = Schedule.objects.select_related("cron_entry", "interval_entry").get(pk=schedule.pk)
    assert (schedule.cron, schedule.interval_seconds) == ("*/5 * * * *", None)
    assert not RepeatableJob.objects.exists()


def test_the_list_shows_next_run_last_outcome_and_late_in_a_bounded_number_of_queries(admin_client: Client, redis_conn):
    first = schedule_create(name="s0", job_type="system:noop", interval_seconds=10, timezone="Europe/Berlin")
    schedules_tick(now=first.baseline_at.replace(microsecond=0) + __import__("datetime").timedelta(seconds=10))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(LIST).status_code == 200
        return len(captured)

    few = queries()
    for n in range(1, 25):
        schedule_create(name=f"s{n}", job_type="system:noop", cron="0 * * * *", timezone="America/Chicago")
    assert queries() <= few + 2
    page = admin_client.get(LIST).content.decode()
    assert "every 10 s" in page and "0 * * * *" in page
    assert "America/Chicago" in page and "UTC" in page
    fire = ScheduleFire.objects.get(schedule=first)
    assert reverse("admin:trenova_jobs_jobrecord_change", args=[fire.job_id]) in page
    change = admin_client.get(reverse("admin:trenova_jobs_schedule_change", args=[first.pk])).content.decode()
    assert "recent fires (latest 20)" in change.lower() and fire.job_id in change


def test_run_now_enable_and_disable_actions(admin_client: Client, redis_conn):
    schedule = schedule_create(name="noop", job_type="system:noop", interval_seconds=3600)
    response = admin_client.post(LIST, {"action": "run_now", "_selected_action": [schedule.pk]}, follow=True)
    record = JobRecord.objects.get()
    assert f'enqueued <a href="{reverse("admin:trenova_jobs_jobrecord_change", args=[record.id])}"' in (
        response.content.decode()
    )
    admin_client.post(LIST, {"action": "disable", "_selected_action": [schedule.pk]})
    assert Schedule.objects.select_related("interval_entry").get().enabled is False
    admin_client.post(LIST, {"action": "enable", "_selected_action": [schedule.pk]})
    assert Schedule.objects.select_related("interval_entry").get().enabled is True
