"""The job record admin tells the truth: what a job is about, times to the second, earlier runs kept on a
retry, History entries for retry and cancel, and no bulk delete of the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.patterns.factories import ShipmentFactory
from trenova_jobs import enqueue
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.transitions import record_attempt_failed, record_attempt_started

URL = "/admin/trenova_jobs/jobrecord/"


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user("ops", password="pw", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def _failed(error: str = "boom: the carrier API said no") -> JobRecord:
    record = enqueue("system:noop", {})
    record_attempt_started(record_id=record.id)
    record_attempt_failed(record_id=record.id, error=error, will_retry=False)
    return JobRecord.objects.get(pk=record.pk)


@pytest.mark.django_db
def test_a_job_about_a_shipment_links_to_it_in_the_list_and_names_it_on_its_page(staff_client, redis_conn):
    shipment = ShipmentFactory(pro_number="PRO-ADMIN-1")
    record = JobRecord.objects.create(
        job_type="shipment:status_update",
        queue="critical",
        status=JobStatus.SUCCEEDED,
        payload={"shipment_id": shipment.pk, "organization_id": shipment.organization_id},
        organization_id=shipment.organization_id,
    )
    listing = staff_client.get(URL).content.decode()
    assert f'href="/admin/patterns/shipment/{shipment.pk}/change/"' in listing
    page = staff_client.get(f"{URL}{record.pk}/change/").content.decode()
    assert "PRO-ADMIN-1" in page
    assert f'href="/admin/patterns/organization/{shipment.organization_id}/change/"' in page


@pytest.mark.django_db
def test_times_show_seconds_and_the_duration_is_given(staff_client, redis_conn):
    started = timezone.now().replace(microsecond=0) - timedelta(seconds=90)
    record = JobRecord.objects.create(
        job_type="system:noop",
        queue="default",
        status=JobStatus.SUCCEEDED,
        started_at=started,
        finished_at=started + timedelta(seconds=12, milliseconds=340),
    )
    page = staff_client.get(f"{URL}{record.pk}/change/").content.decode()
    assert timezone.localtime(started).strftime("%Y-%m-%d %H:%M:%S") in page
    assert "12.34 s" in page


@pytest.mark.django_db
def test_a_retry_keeps_the_earlier_run_and_writes_a_history_entry(staff_client, redis_conn):
    record = _failed()
    response = staff_client.post(URL, {"action": "retry_jobs", "_selected_action": [record.id]}, follow=True)
    assert "Re-queued 1 job(s)." in response.content.decode()
    record.refresh_from_db()
    assert record.status in (JobStatus.PENDING, JobStatus.QUEUED) and record.error == ""
    assert len(record.history) == 1
    earlier = record.history[0]
    assert (earlier["status"], earlier["attempts"]) == (JobStatus.FAILED, 1)
    assert earlier["error"] == "boom: the carrier API said no" and earlier["finished_at"]
    page = staff_client.get(f"{URL}{record.pk}/change/").content.decode()
    assert "boom: the carrier API said no" in page
    entry = LogEntry.objects.get(object_id=record.pk)
    assert "Re-queued" in entry.get_change_message()
    history = staff_client.get(f"{URL}{record.pk}/history/").content.decode()
    assert "Re-queued from the admin." in history


@pytest.mark.django_db
def test_a_refused_action_writes_no_history_entry_and_cancel_writes_one(staff_client, redis_conn):
    running = enqueue("system:noop", {})
    record_attempt_started(record_id=running.id)
    queued = enqueue("system:noop", {})
    staff_client.post(URL, {"action": "cancel_jobs", "_selected_action": [running.id, queued.id]})
    assert not LogEntry.objects.filter(object_id=running.pk).exists()
    assert "Cancelled" in LogEntry.objects.get(object_id=queued.pk).get_change_message()


@pytest.mark.django_db
def test_job_records_cannot_be_bulk_deleted(staff_client, redis_conn):
    record = _failed()
    page = staff_client.get(URL).content.decode()
    assert "delete_selected" not in page
    response = staff_client.post(URL, {"action": "delete_selected", "_selected_action": [record.id], "post": "yes"})
    assert response.status_code in (200, 302)
    assert JobRecord.objects.filter(pk=record.pk).exists()


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_whatever_the_number_of_records(staff_client, redis_conn):
    shipment = ShipmentFactory()
    owner = get_user_model().objects.create_user("planner", password="pw")

    def records(count: int) -> None:  # every column filled: subject, user, times, several statuses
        now = timezone.now()
        JobRecord.objects.bulk_create(
            JobRecord(
                job_type="shipment:status_update",
                queue="critical",
                status=list(JobStatus)[n % len(JobStatus)],
                payload={"shipment_id": shipment.pk, "organization_id": shipment.organization_id},
                organization_id=shipment.organization_id,
                user=owner,
                started_at=now - timedelta(seconds=5),
                finished_at=now,
                error="boom" if n % 2 else "",
            )
            for n in range(count)
        )

    records(3)
    staff_client.get(URL)  # the session and content types
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(URL).status_code == 200
    records(37)
    with CaptureQueriesContext(connection) as many:
        page = staff_client.get(URL).content.decode()
    assert page.count(f'href="/admin/patterns/shipment/{shipment.pk}/change/"') == 40
    assert len(many.captured_queries) <= len(few.captured_queries) <= 12, [q["sql"] for q in many.captured_queries]


@pytest.mark.django_db
def test_the_list_filters_come_from_configuration_and_filter(staff_client, redis_conn):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    noop = enqueue("system:noop", {})
    other = enqueue("system:noop", {}, queue="critical")
    with CaptureQueriesContext(connection) as queries:
        page = staff_client.get(URL).content.decode()
    assert not [q["sql"] for q in queries if "DISTINCT" in q["sql"]]  # no scan of the table per filter
    assert "?job_type=pattern%3Aanalyze" in page and "?queue=critical" in page  # registered, not seen
    listed = staff_client.get(URL, {"queue": "critical"}).content.decode()
    assert other.id in listed and noop.id not in listed
    listed = staff_client.get(URL, {"job_type": "system:noop", "queue": "default"}).content.decode()
    assert noop.id in listed and other.id not in listed
