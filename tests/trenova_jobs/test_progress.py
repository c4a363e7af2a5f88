"""Job progress: reported by a handler on a real worker, read by the API and the job record admin page;
throttled, validated on read, and harmless when Redis is down."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model

from tests.api.helpers import client_for, member
from tests.conftest import wait_for
from trenova_jobs import enqueue
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.progress import job_progress, jobs_progress, progress_key, progress_report
from trenova_jobs.registry import JobContext


def test_progress_is_written_and_read_back(redis_conn):
    progress_report("job_a", 2, 8, "two of eight")
    progress = job_progress("job_a")
    assert progress is not None
    assert (progress.done, progress.total, progress.percent, progress.message) == (2, 8, 25, "two of eight")
    assert redis_conn.ttl(progress_key("job_a")) > 3600


def test_reports_are_throttled_but_completion_always_lands(redis_conn):
    progress_report("job_b", 1, 10, "one")
    progress_report("job_b", 2, 10, "two")  # within MIN_INTERVAL: dropped
    assert job_progress("job_b").done == 1
    progress_report("job_b", 10, 10, "done")
    assert (job_progress("job_b").done, job_progress("job_b").message) == (10, "done")


def test_unknown_totals_and_several_jobs_in_one_round_trip(redis_conn):
    progress_report("job_c", 5)
    progress_report("job_d", 1, 2)
    found = jobs_progress(["job_c", "job_d", "job_none"])
    assert set(found) == {"job_c", "job_d"}
    assert (found["job_c"].total, found["job_c"].percent) == (None, None)


@pytest.mark.parametrize("done,total", [(-1, 3), (1.5, 3), ("1", 3), (True, 3), (1, -2), (1, "3")])
def test_bad_arguments_are_refused_clearly(redis_conn, done, total):
    with pytest.raises(ValueError, match="progress"):
        progress_report("job_e", done, total)
    assert job_progress("job_e") is None


@pytest.mark.parametrize(
    "fields",
    [
        {"done": "lots"},
        {"total": "3"},
        {"done": "-4", "total": "3"},
        {"done": "1", "total": "x"},
        {"done": "1", "at": "?"},
    ],
)
def test_what_redis_holds_is_validated_on_read(redis_conn, fields):
    redis_conn.hset(progress_key("job_f"), mapping=fields)
    assert job_progress("job_f") is None


def test_redis_down_neither_fails_the_report_nor_the_read(private_redis):
    private_redis.stop()
    progress_report("job_g", 1, 2, "x")  # logged, not raised
    assert job_progress("job_g") is None
    assert jobs_progress(["job_g"]) == {}


@pytest.mark.django_db(transaction=True)
def test_a_running_job_shows_its_progress_in_the_api_and_the_admin(redis_conn, start_worker):
    user = member()
    token = uuid.uuid4().hex
    record = enqueue("test:progress", {"token": token}, organization_id=user.membership.organization_id, user=user)
    start_worker()
    client = client_for(user)

    def reported() -> dict | None:
        body = client.get(f"/api/v1/jobs/{record.id}/").json()
        return body if body["status"] == "running" and body["progress"] else None

    body = wait_for(reported, timeout=30, message="the job to report progress")
    assert body["progress"]["done"] == 1 and body["progress"]["total"] == 3
    assert (body["progress"]["percent"], body["progress"]["message"]) == (33, "first of three")
    staff = get_user_model().objects.create_user("ops", password="pw", is_staff=True, is_superuser=True)
    from django.test import Client

    admin = Client()
    admin.force_login(staff)
    page = admin.get(f"/admin/trenova_jobs/jobrecord/{record.id}/change/").content.decode()
    assert 'value="33"' in page and "first of three" in page

    redis_conn.set(f"test:{token}:go", 1)
    wait_for(lambda: JobRecord.objects.get(pk=record.pk).status == JobStatus.SUCCEEDED, timeout=30, message="success")
    assert client.get(f"/api/v1/jobs/{record.id}/").json()["progress"]["done"] == 3


@pytest.mark.django_db
def test_a_job_that_reports_nothing_has_null_progress(redis_conn):
    user = member()
    record = enqueue("system:noop", {}, organization_id=user.membership.organization_id)
    assert client_for(user).get(f"/api/v1/jobs/{record.id}/").json()["progress"] is None


@pytest.mark.django_db
def test_pattern_analysis_reports_its_steps(redis_conn, monkeypatch):
    from patterns.jobs import PatternAnalyzePayload, handle_pattern_analyze
    from tests.patterns.factories import OrganizationFactory

    monkeypatch.setattr("trenova_jobs.progress.MIN_INTERVAL", 0)  # keep every step, not one per 0.5 s
    org = OrganizationFactory()
    ctx = JobContext(
        job_id="job_analysis_progress",
        job_type="pattern:analyze",
        attempt=1,
        max_retries=2,
        organization_id=org.pk,
        business_unit_id=None,
        user_id=None,
    )
    handle_pattern_analyze(
        PatternAnalyzePayload(organization_id=org.pk, business_unit_id=None, user_id=None, trigger_reason="manual"), ctx
    )
    progress = job_progress("job_analysis_progress")
    assert progress is not None and (progress.done, progress.total) == (2, 5)  # nothing qualified: it stops early
    assert progress.message == "0 lanes examined, 0 frequent enough, 0 qualified."
