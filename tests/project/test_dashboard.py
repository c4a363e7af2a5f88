"""The operator dashboard (project/dashboard.py) and the admin index's navigation and branding."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patterns.models import DedicatedLaneSuggestion, Shipment, ShipmentStatus
from project.dashboard import lane_weekly_counts
from tests.conftest import wait_for
from tests.patterns import factories as f
from trenova_jobs.liveness import worker_beat
from trenova_jobs.models import FINISHED_STATUSES, FireOutcome, JobRecord, JobStatus, Schedule, ScheduleFire
from trenova_jobs.schedules import schedule_create
from trenova_jobs.selectors import job_throughput

pytestmark = pytest.mark.django_db

URL = "/admin/dashboard/"
SECTIONS = ("tj-queues", "tj-outbox", "tj-throughput", "tj-failures", "tj-schedules", "tj-suggestions")


@pytest.fixture
def staff_user() -> Any:
    return get_user_model().objects.create_user("ops", password="pw", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client: Client, staff_user: Any) -> Client:
    client.force_login(staff_user)
    return client


def _page(client: Client) -> str:
    response = client.get(URL)
    assert response.status_code == 200
    return response.content.decode()


def _failed(**fields: Any) -> JobRecord:
    values = {"job_type": "system:noop", "queue": "default", "status": JobStatus.FAILED, "error": "boom"}
    return JobRecord.objects.create(**{**values, "finished_at": timezone.now(), **fields})


def _lane_shipments(suggestion: Any, dates: list[datetime], **fields: Any) -> list[Shipment]:
    """Shipments on the suggestion's lane (bulk-created: no trigger fires)."""
    names = ("organization", "business_unit", "customer", "origin_location", "destination_location")
    lane = {name: getattr(suggestion, name) for name in (*names, "service_type", "shipment_type")}
    lane |= {"tractor_type": None, "trailer_type": None, **fields}
    built = [f.ShipmentFactory.build(**lane, planned_pickup_at=moment) for moment in dates]
    return Shipment.objects.bulk_create(built)


# --- Access --------------------------------------------------------------------------------------------


def test_staff_sees_every_section(staff_client: Client, redis_conn: Any) -> None:
    failure = _failed(error="ValueError: the customer is gone\nTraceback (most recent call last): …")
    JobRecord.objects.create(job_type="system:noop", queue="default", status=JobStatus.PENDING)
    schedule_create(name="Nightly analysis", job_type="system:noop", cron="0 2 * * *")
    suggestion = f.DedicatedLaneSuggestionFactory(suggested_name="CHI-DAL")
    _lane_shipments(suggestion, [timezone.now() - timedelta(days=d) for d in (1, 8, 9)])

    page = _page(staff_client)
    for section in SECTIONS:
        assert f'id="{section}"' in page, section
    assert '<tr class="tj-queue" data-queue="critical">' in page  # every configured queue, from Redis
    assert f'href="/admin/trenova_jobs/jobrecord/{failure.id}/change/"' in page
    assert "ValueError: the customer is gone" in page and "Traceback" not in page  # the first line only
    assert f'action="/admin/dashboard/retry/{failure.id}/"' in page
    assert 'data-pending="1"' in page
    assert "Nightly analysis" in page and "0 2 * * *" not in page
    assert "CHI-DAL" in page and 'class="tj-spark"' in page
    assert '<svg class="tj-chart"' in page
    # Server-rendered: no external script, stylesheet or image (the admin's own static files only).
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_non_staff_are_sent_to_the_login_page(client: Client) -> None:
    assert client.get(URL).url == f"/admin/login/?next={URL}"
    client.force_login(get_user_model().objects.create_user("driver", password="pw"))
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith("/admin/login/")
    assert client.post(f"{URL}retry/job_x/").status_code == 302


def test_the_retry_button_posts_with_csrf_and_retries_through_the_service(staff_user: Any, redis_conn: Any) -> None:
    failure = _failed()
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    page = _page(client)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    assert client.post(f"{URL}retry/{failure.id}/").status_code == 403  # no CSRF token
    assert JobRecord.objects.get(pk=failure.pk).status == JobStatus.FAILED

    response = client.post(f"{URL}retry/{failure.id}/", {"csrfmiddlewaretoken": token.group(1)}, follow=True)
    assert response.redirect_chain == [(URL, 302)]
    assert f"Re-queued system:noop {failure.id}." in response.content.decode()
    assert JobRecord.objects.get(pk=failure.pk).status == JobStatus.PENDING  # pushed after commit

    again = client.post(f"{URL}retry/{failure.id}/", {"csrfmiddlewaretoken": token.group(1)}, follow=True)
    assert "only failed or cancelled jobs can be retried" in again.content.decode()
    assert client.get(f"{URL}retry/{failure.id}/").status_code == 405


def test_staff_without_the_change_permission_get_no_retry_button(client: Client, redis_conn: Any) -> None:
    failure = _failed()
    client.force_login(get_user_model().objects.create_user("viewer", password="pw", is_staff=True))
    page = _page(client)
    assert failure.id in page and "/admin/dashboard/retry/" not in page
    assert client.post(f"{URL}retry/{failure.id}/").status_code == 403
    assert JobRecord.objects.get(pk=failure.pk).status == JobStatus.FAILED


# --- Workers and Redis ---------------------------------------------------------------------------------


def test_the_no_worker_banner_follows_the_liveness_beats(staff_client: Client, redis_conn: Any) -> None:
    assert 'id="tj-no-worker"' in _page(staff_client)
    worker_beat(redis_conn, "worker-1")  # what a worker's liveness thread writes
    page = _page(staff_client)
    assert 'id="tj-no-worker"' not in page
    assert "1 worker alive" in page


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_clears_the_banner_and_serves_every_queue(
    staff_client: Client, start_worker: Any, settings: Any
) -> None:
    assert 'id="tj-no-worker"' in _page(staff_client)
    start_worker()

    def without_banner() -> str | None:
        text = _page(staff_client)
        return text if 'id="tj-no-worker"' not in text else None

    page = wait_for(without_banner, timeout=60, message="the worker's first liveness beat")
    assert isinstance(page, str)
    assert "1 worker alive" in page
    serving = re.findall(r'data-workers="(\d+)"', page)
    assert serving == ["1"] * len(settings.TRENOVA_JOBS_QUEUE_WEIGHTS)  # rq's registrations ∩ live beats


def test_redis_down_renders_a_message_not_a_500(staff_client: Client, private_redis: Any) -> None:
    _failed()
    private_redis.stop()
    page = _page(staff_client)
    assert 'id="tj-redis-down"' in page and "Redis is unreachable" in page
    assert 'id="tj-no-worker"' not in page  # unknown, not "none"
    for section in SECTIONS:  # the database's sections are all there
        assert f'id="{section}"' in page, section
    assert 'class="tj-failure"' in page


# --- The throughput chart ------------------------------------------------------------------------------


def test_the_chart_counts_each_minute_by_outcome() -> None:
    now = datetime(2026, 3, 2, 12, 30, 40, tzinfo=UTC)

    def finished(status: str, minutes_ago: float, n: int = 1) -> None:
        moment = now - timedelta(minutes=minutes_ago)
        JobRecord.objects.bulk_create(
            JobRecord(job_type="system:noop", queue="default", status=status, finished_at=moment) for _ in range(n)
        )

    finished(JobStatus.SUCCEEDED, 0, 3)  # 12:30:40 → the current minute, 12:30
    finished(JobStatus.FAILED, 0.5)  # 12:30:10
    finished(JobStatus.SUCCEEDED, 1)  # 12:29:40
    finished(JobStatus.CANCELLED, 10.7)  # 12:19:58 → 12:19
    finished(JobStatus.SUCCEEDED, 59)  # 11:31:40, the first minute shown
    finished(JobStatus.SUCCEEDED, 61)  # 11:29:40: older than the hour
    finished(JobStatus.FAILED, -2)  # in the future (clock skew): not shown
    JobRecord.objects.create(job_type="system:noop", queue="default", status=JobStatus.RUNNING)

    with CaptureQueriesContext(connection) as queries:
        chart = job_throughput(minutes=60, now=now)
    assert len(queries) == 1 and "date_trunc" in queries[0]["sql"].lower()
    assert chart.minutes[0] == datetime(2026, 3, 2, 11, 31, tzinfo=UTC)
    assert chart.minutes[-1] == datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
    by_minute = {
        f"{minute:%H:%M}": {status: values[i] for status, values in chart.counts.items() if values[i]}
        for i, minute in enumerate(chart.minutes)
    }
    assert {k: v for k, v in by_minute.items() if v} == {
        "11:31": {"succeeded": 1},
        "12:19": {"cancelled": 1},
        "12:29": {"succeeded": 1},
        "12:30": {"succeeded": 3, "failed": 1},
    }
    assert chart.totals == {"succeeded": 5, "failed": 1, "cancelled": 1}


def test_the_chart_on_the_page_carries_the_counts(staff_client: Client, redis_conn: Any) -> None:
    now = timezone.now()
    JobRecord.objects.bulk_create(
        JobRecord(job_type="system:noop", queue="default", status=status, finished_at=now)
        for status in (JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, JobStatus.FAILED)
    )
    page = _page(staff_client)
    bars = re.findall(r'<g class="tj-bar" data-minute="([0-9:]+)"', page)
    assert len(bars) == 60
    assert f'data-minute="{now:%H:%M}" data-succeeded="2" data-failed="1" data-cancelled="0"' in page
    assert '<li data-outcome="succeeded" data-total="2">' in page
    assert '<li data-outcome="failed" data-total="1">' in page


# --- Suggestions and their weekly shipments ------------------------------------------------------------


def _window(start: datetime, end: datetime, *, exact: bool = False) -> dict[str, Any]:
    return {
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "config": {"require_exact_match": exact, "analysis_window_days": (end - start).days},
    }


@pytest.mark.parametrize("exact", [False, True])
def test_weekly_counts_cover_the_window_weeks_of_each_lane_in_one_query(exact: bool) -> None:
    start = datetime(2025, 1, 6, 12, tzinfo=UTC)  # a Monday
    end = datetime(2025, 2, 2, 12, tzinfo=UTC)  # a Sunday: weeks of Jan 6, 13, 20, 27
    lane = f.DedicatedLaneSuggestionFactory(pattern_details=_window(start, end, exact=exact))
    day = lambda d, h=8: datetime(2025, 1, 1, h, tzinfo=UTC) + timedelta(days=d - 1)  # noqa: E731
    _lane_shipments(lane, [day(6), day(8), day(8), day(22), datetime(2025, 2, 2, 20, tzinfo=UTC)])
    _lane_shipments(lane, [datetime(2025, 2, 3, 1, tzinfo=UTC), day(1)])  # the weeks after and before
    _lane_shipments(lane, [day(8)], status=ShipmentStatus.CANCELED)  # detection does not count these
    _lane_shipments(lane, [day(14)], service_type=f.ServiceTypeFactory(organization=lane.organization))
    # Another lane in the same query, with a window of its own (two weeks).
    other = f.DedicatedLaneSuggestionFactory(
        pattern_details=_window(datetime(2025, 1, 13, tzinfo=UTC), datetime(2025, 1, 26, tzinfo=UTC))
    )
    _lane_shipments(other, [day(15), day(16), day(20)])

    shown = list(DedicatedLaneSuggestion.objects.select_related("organization__pattern_config").order_by("pk"))
    with CaptureQueriesContext(connection) as queries:
        counts = lane_weekly_counts(shown, now=timezone.now())
    assert len(queries) == 1
    weeks, values = counts[lane.pk]
    assert [f"{w:%m-%d}" for w in weeks] == ["01-06", "01-13", "01-20", "01-27"]
    # Whole weeks: the Monday 08:00 shipment is before the window's start time, in its first week.
    assert values == ([3, 0, 1, 1] if exact else [3, 1, 1, 1])  # another service type counts unless exact
    assert counts[other.pk] == ([datetime(2025, 1, 13).date(), datetime(2025, 1, 20).date()], [2, 1])


def test_top_suggestions_rank_like_patterns_and_skip_decided_and_expired(staff_client: Client, redis_conn: Any) -> None:
    org = f.OrganizationFactory()
    best = f.DedicatedLaneSuggestionFactory(organization=org, confidence_score=Decimal("0.95"), suggested_name="BEST")
    # A score tie is broken as the suggestion list breaks it: weeks active (none here), then revenue.
    tie_more = f.DedicatedLaneSuggestionFactory(
        organization=org, confidence_score=Decimal("0.90"), frequency=4, total_freight_charge=Decimal("9000")
    )
    tie_less = f.DedicatedLaneSuggestionFactory(
        confidence_score=Decimal("0.90"), frequency=9, total_freight_charge=Decimal("4000")
    )
    f.DedicatedLaneSuggestionFactory(confidence_score=Decimal("0.99"), stale=True, suggested_name="STALE")
    f.DedicatedLaneSuggestionFactory(confidence_score=Decimal("0.99"), rejected=True, suggested_name="REJECTED")
    for n in range(12):
        f.DedicatedLaneSuggestionFactory(organization=org, confidence_score=Decimal("0.71"), suggested_name=f"low{n}")

    page = _page(staff_client)
    shown = [int(pk) for pk in re.findall(r'<tr class="tj-suggestion" data-suggestion="(\d+)">', page)]
    assert len(shown) == 10
    assert shown[:3] == [best.pk, tie_more.pk, tie_less.pk]
    assert "STALE" not in page and "REJECTED" not in page


# --- A bounded number of queries -------------------------------------------------------------------------


def _fill(*, jobs: int, suggestions: int, schedules: int, tag: str) -> None:
    now = timezone.now()
    statuses = [JobStatus.SUCCEEDED] * 6 + [JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PENDING, JobStatus.QUEUED]
    JobRecord.objects.bulk_create(
        (
            JobRecord(
                job_type="system:noop",
                queue="default",
                status=status,
                error="boom" if status == JobStatus.FAILED else "",
                finished_at=now - timedelta(seconds=(i * 7) % 3600) if status in FINISHED_STATUSES else None,
            )
            for i in range(jobs)
            for status in [statuses[i % len(statuses)]]
        ),
        batch_size=2000,
    )
    org = f.OrganizationFactory()
    f.PatternConfigFactory(organization=org)
    for n in range(suggestions):
        suggestion = f.DedicatedLaneSuggestionFactory(
            organization=org, confidence_score=Decimal("0.70") + Decimal(n % 30) / 100
        )
        _lane_shipments(suggestion, [now - timedelta(days=d) for d in range(0, 90, 9)])
    for n in range(schedules):
        schedule = schedule_create(name=f"{tag} {n}", job_type="system:noop", interval_seconds=60 + n)
        job = JobRecord.objects.create(job_type="system:noop", queue="default", status=JobStatus.SUCCEEDED)
        ScheduleFire.objects.create(schedule=schedule, fire_time=now, outcome=FireOutcome.ENQUEUED, job_id=job.id)


def _queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        _page(client)
    return len(captured)


def test_the_page_reads_in_a_bounded_number_of_queries(staff_client: Client, redis_conn: Any) -> None:
    _fill(jobs=10, suggestions=1, schedules=1, tag="small")
    _page(staff_client)  # warm up the session and content types
    small = _queries(staff_client)
    assert small <= 11  # session, user, then one query per section (schedules: three)

    _fill(jobs=10_000, suggestions=40, schedules=15, tag="large")
    assert JobRecord.objects.count() > 10_000 and Schedule.objects.count() == 16
    page = _page(staff_client)
    assert page.count('class="tj-suggestion"') == 10 and page.count('class="tj-failure"') == 10
    assert _queries(staff_client) == small


def test_running_jobs_are_listed_with_their_progress(staff_client: Client, redis_conn: Any) -> None:
    from trenova_jobs.progress import progress_report

    now = timezone.now()
    reporting = JobRecord.objects.create(
        job_type="pattern:analyze", queue="pattern", status=JobStatus.RUNNING, attempts=1, started_at=now
    )
    silent = JobRecord.objects.create(
        job_type="system:noop", queue="default", status=JobStatus.RUNNING, attempts=1, started_at=now
    )
    progress_report(reporting.id, 3, 5, "Collecting the qualified lanes' shipments and types…")
    page = _page(staff_client)
    section = page.split('id="tj-running"', 1)[1].split('<div class="module', 1)[0]
    assert section.count('class="tj-running-job"') == 2
    assert reporting.id in section and silent.id in section
    assert 'value="60"' in section and "3 / 5" in section and "Collecting the qualified lanes&#x27;" in section


# --- The admin index: navigation and branding -------------------------------------------------------------


def test_the_admin_index_is_branded_and_links_the_operator_pages(staff_client: Client) -> None:
    response = staff_client.get("/admin/")
    page = response.content.decode()
    assert '<div id="site-name"><a href="/admin/">Trenova Jobs</a></div>' in page
    assert "<title>Operations and data | Trenova Jobs admin</title>" in page
    assert '<a href="/admin/dashboard/">View site</a>' in page  # "View site" is the dashboard
    assert '<a href="/admin/dashboard/"><strong>Operator dashboard</strong></a>' in page
    assert '<a href="/admin/django_rq/queue/">Queues</a>' in page  # django-rq's queue dashboard
    assert ">Redis queues (rq)</a>" in page and "Django_Rq" not in page
    assert staff_client.get("/admin/django_rq/queue/").status_code == 200
    login = Client().get("/admin/login/").content.decode()
    assert "Trenova Jobs" in login and "Django administration" not in login


def test_the_admin_index_has_no_duplicate_entries(staff_client: Client) -> None:
    apps = staff_client.get("/admin/").context["app_list"]
    names = [model["name"] for app in apps for model in app["models"]]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert "scheduler" not in {app["app_label"] for app in apps}  # django-rq-scheduler's pages are replaced
    assert names.count("Queues") == 1 and "Workers" not in names
    patterns = next(app for app in apps if app["app_label"] == "patterns")
    assert "Drivers" in [model["name"] for model in patterns["models"]]
