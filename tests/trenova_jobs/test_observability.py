"""Health, metrics, structured logs and the admin of job records."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from tests.conftest import wait_for
from trenova_jobs import enqueue
from trenova_jobs.liveness import worker_beat
from trenova_jobs.metrics import metrics_text
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.transitions import record_attempt_failed, record_attempt_started, record_succeeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user("ops", password="pw", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_healthz_is_503_without_a_live_worker(client, redis_conn):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert (body["database"], body["redis"], body["workers"]) == ("ok", "ok", 0)
    assert "errors" not in body  # anonymous callers get statuses only


def test_healthz_shows_error_text_to_staff_only(staff_client, private_redis):
    from django.test import Client

    private_redis.stop()
    anonymous = Client().get("/healthz").json()
    assert anonymous == {
        "status": "unavailable",
        "database": "ok",
        "redis": "down",
        "workers": 0,
        "schedules": {"late": 0},
    }
    staff = staff_client.get("/healthz").json()
    assert "127.0.0.1" in staff["errors"]["redis"] or "refused" in staff["errors"]["redis"].lower()


def test_healthz_is_200_with_a_live_worker(client, redis_conn):
    worker_beat(redis_conn, "w1")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "workers": 1, "schedules": {"late": 0}}


def test_healthz_and_metrics_report_late_schedules_without_failing(client, staff_client, redis_conn, settings):
    from datetime import timedelta

    from trenova_jobs.models import Schedule
    from trenova_jobs.schedules import schedule_create

    settings.TRENOVA_JOBS_SCHEDULE_GRACE = 5
    worker_beat(redis_conn, "w1")
    schedule_create(name="on time", job_type="system:noop", interval_seconds=3600)
    late = schedule_create(name="stuck", job_type="system:noop", interval_seconds=10)
    # Nobody has ticked for a minute: its fire times 10 … 60 s after creation were never claimed.
    Schedule.objects.filter(pk=late.pk).update(baseline_at=late.baseline_at - timedelta(seconds=60))
    late.interval_entry.scheduled_time = late.baseline_at - timedelta(seconds=60)
    late.interval_entry.save()
    from django.test import Client

    response = Client().get("/healthz")
    assert response.status_code == 200  # late schedules are reported, not a reason to take the node out
    assert response.json()["schedules"] == {"late": 1}
    assert staff_client.get("/healthz").json()["schedules"] == {"late": 1, "late_names": ["stuck"]}
    text = staff_client.get("/metrics").content.decode()
    assert 'trenova_schedule_late{schedule="stuck"} 1.0' in text
    assert 'trenova_schedule_late{schedule="on time"} 0.0' in text


def test_healthz_reports_redis_down(client, private_redis):
    private_redis.stop()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"] == "down"


@pytest.mark.django_db(transaction=True)
def test_healthz_sees_a_real_worker(client, start_worker):
    start_worker()
    wait_for(lambda: client.get("/healthz").status_code == 200, timeout=30, message="a healthy worker")


def test_metrics_need_staff_or_token(client, redis_conn):
    assert client.get("/metrics").status_code == 401
    with override_settings(TRENOVA_METRICS_TOKEN="s3cret"):
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    plain = get_user_model().objects.create_user("plain", password="pw")
    client.force_login(plain)
    assert client.get("/metrics").status_code == 403


@pytest.mark.django_db(transaction=True)  # the queued job is pushed on commit
def test_metrics_report_jobs_retries_durations_and_queues(staff_client, redis_conn):
    ok = enqueue("system:noop", {})
    record_attempt_started(record_id=ok.id)
    record_succeeded(record=ok, result=None, duration=0.01)
    bad = enqueue("test:flaky", {"token": "m"})
    record_attempt_started(record_id=bad.id)
    record_attempt_failed(record_id=bad.id, error="x", will_retry=True, retry_in=1)
    record_attempt_started(record_id=bad.id)
    record_attempt_failed(record_id=bad.id, error="x", will_retry=False)
    enqueue("system:noop", {}, queue="critical")

    text = staff_client.get("/metrics").content.decode()
    assert 'trenova_job_outcomes_total{job_type="system:noop",outcome="succeeded"} 1.0' in text
    assert 'trenova_job_outcomes_total{job_type="test:flaky",outcome="failed"} 1.0' in text
    assert 'trenova_jobs_active{job_type="system:noop",status="queued"} 1.0' in text
    assert 'trenova_job_retries_total{job_type="test:flaky"} 1.0' in text
    assert 'trenova_job_duration_seconds_count{job_type="system:noop"} 1.0' in text
    assert 'trenova_job_duration_seconds_bucket{job_type="system:noop",le="+Inf"} 1.0' in text
    assert 'trenova_queue_depth{queue="critical"} 1.0' in text
    assert "trenova_workers_alive 0.0" in text
    assert "trenova_redis_up 1.0" in text


@pytest.mark.django_db(transaction=True)
def test_job_events_are_logged_with_their_fields(redis_conn, caplog):
    caplog.set_level(logging.INFO, logger="trenova_jobs")
    record = enqueue("system:noop", {})
    record_attempt_started(record_id=record.id)
    record_attempt_failed(record_id=record.id, error="boom", will_retry=True, retry_in=2)
    record_attempt_started(record_id=record.id)
    record_succeeded(record=record, result=None, duration=0.25)
    failing = enqueue("system:noop", {})
    record_attempt_started(record_id=failing.id)
    record_attempt_failed(record_id=failing.id, error="boom", will_retry=False)

    events = [r.job for r in caplog.records if hasattr(r, "job")]
    mine = [e for e in events if e["job_id"] == record.id]
    assert [e["event"] for e in mine] == ["recorded", "enqueued", "started", "retrying", "started", "succeeded"]
    assert all(e["job_type"] == "system:noop" and e["queue"] == "default" for e in mine)
    assert mine[3]["retry_in_s"] == 2 and mine[3]["attempt"] == 1
    assert mine[-1]["attempt"] == 2 and mine[-1]["duration_ms"] == 250.0
    assert [e["event"] for e in events if e["job_id"] == failing.id][-1] == "failed"
    assert f"event=succeeded job_id={record.id}" in caplog.text


# --- Admin -------------------------------------------------------------------------------------------


def test_admin_lists_filters_and_shows_records(staff_client, redis_conn):
    record = enqueue("system:noop", {"value": 7}, unique_key="adm")
    assert staff_client.get("/admin/trenova_jobs/jobrecord/?status__exact=queued").status_code == 200
    page = staff_client.get(f"/admin/trenova_jobs/jobrecord/?q={record.id}").content.decode()
    assert record.id in page
    detail = staff_client.get(f"/admin/trenova_jobs/jobrecord/{record.id}/change/").content.decode()
    assert "&quot;value&quot;: 7" in detail
    index = staff_client.get("/admin/").content.decode()
    assert "/admin/django_rq/queue/" in index  # the queue dashboard is linked from the admin index


def test_admin_actions_cancel_and_retry(staff_client, redis_conn):
    queued = enqueue("system:noop", {})
    running = enqueue("system:noop", {})
    record_attempt_started(record_id=running.id)
    url = "/admin/trenova_jobs/jobrecord/"
    response = staff_client.post(
        url, {"action": "cancel_jobs", "_selected_action": [queued.id, running.id]}, follow=True
    )
    text = response.content.decode()
    assert "Cancelled 1 job(s)." in text
    assert "only jobs not yet running can be cancelled" in text
    assert JobRecord.objects.get(pk=queued.pk).status == JobStatus.CANCELLED
    assert JobRecord.objects.get(pk=running.pk).status == JobStatus.RUNNING

    response = staff_client.post(url, {"action": "retry_jobs", "_selected_action": [queued.id]}, follow=True)
    assert "Re-queued 1 job(s)." in response.content.decode()
    assert JobRecord.objects.get(pk=queued.pk).status in (JobStatus.PENDING, JobStatus.QUEUED)


@pytest.mark.django_db(transaction=True)
def test_a_scrape_reads_the_job_table_once_through_the_active_index(staff_client, redis_conn):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        done = enqueue("system:noop", {})
        record_attempt_started(record_id=done.id)
        record_succeeded(record=done, result=None, duration=0.2)
    enqueue("system:noop", {})
    with CaptureQueriesContext(connection) as queries:
        text = metrics_text().decode()
    job_queries = [q["sql"] for q in queries if "trenova_jobs_jobrecord" in q["sql"]]
    assert len(job_queries) == 1, job_queries
    assert "IN ('pending', 'scheduled', 'queued', 'running', 'retrying')" in job_queries[0]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + job_queries[0])
        plan = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert "job_record_active_idx" in plan, plan
    assert 'trenova_job_outcomes_total{job_type="system:noop",outcome="succeeded"} 3.0' in text
    assert 'trenova_job_duration_seconds_bucket{job_type="system:noop",le="0.25"} 3.0' in text
    assert 'trenova_job_duration_seconds_bucket{job_type="system:noop",le="0.1"} 0.0' in text


@pytest.mark.django_db(transaction=True)
def test_the_dashboards_finished_job_queries_read_the_finished_index(redis_conn):
    """Jobs per minute and the latest failures read finished records through job_record_finished_idx, not
    the whole table (at 1 M records: ~145 and ~160 ms by a scan, ~3 and ~1 ms through the index)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from trenova_jobs.selectors import job_failures_recent, job_throughput

    done = enqueue("system:noop", {})
    record_attempt_started(record_id=done.id)
    record_succeeded(record=done, result=None, duration=0.1)
    failed = enqueue("system:noop", {})
    record_attempt_started(record_id=failed.id)
    record_attempt_failed(record_id=failed.id, error="boom", will_retry=False)
    with CaptureQueriesContext(connection) as queries:
        throughput = job_throughput(minutes=60)
        failures = job_failures_recent(limit=10)
    assert throughput.totals[JobStatus.SUCCEEDED] == 1 and throughput.totals[JobStatus.FAILED] == 1
    assert [f.id for f in failures] == [failed.id]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        for query in queries.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "job_record_finished_idx" in plan, plan
        cursor.execute("SET enable_seqscan = on")


def test_counting_live_workers_does_not_scan_the_keyspace(client, redis_conn):
    for i in range(50):
        worker_beat(redis_conn, f"w{i}")
    redis_conn.zadd("trenova:workers", {"gone": 1})  # beat long ago: dead
    redis_conn.config_resetstat()
    body = client.get("/healthz").json()
    assert body["workers"] == 50
    stats = redis_conn.info("commandstats")
    assert "cmdstat_scan" not in stats and "cmdstat_keys" not in stats


def test_a_view_only_staff_user_cannot_retry_or_cancel(client, redis_conn):
    from django.contrib.auth.models import Permission

    viewer = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_jobrecord"))
    client.force_login(viewer)
    queued = enqueue("system:noop", {})
    page = client.get("/admin/trenova_jobs/jobrecord/").content.decode()
    assert "cancel_jobs" not in page and "retry_jobs" not in page
    client.post("/admin/trenova_jobs/jobrecord/", {"action": "cancel_jobs", "_selected_action": [queued.id]})
    assert JobRecord.objects.get(pk=queued.pk).status == JobStatus.QUEUED

    operator = get_user_model().objects.create_user("operator", password="pw", is_staff=True)
    operator.user_permissions.add(*Permission.objects.filter(codename__in=["view_jobrecord", "change_jobrecord"]))
    client.force_login(operator)
    assert "cancel_jobs" in client.get("/admin/trenova_jobs/jobrecord/").content.decode()
    client.post("/admin/trenova_jobs/jobrecord/", {"action": "cancel_jobs", "_selected_action": [queued.id]})
    assert JobRecord.objects.get(pk=queued.pk).status == JobStatus.CANCELLED
