"""The job service's API: job status scoped to the caller's organization, staff actions, queues, schedules."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_error, client_for, count_queries, member
from tests.patterns.factories import OrganizationFactory, UserFactory
from trenova_jobs import JobStatus, enqueue
from trenova_jobs.models import JobRecord
from trenova_jobs.schedules import schedule_create

pytestmark = pytest.mark.django_db


def test_anonymous_is_401_and_a_user_without_membership_403(redis_conn):
    assert_error(client_for(None).get("/api/v1/jobs/"), 401, "not_authenticated")
    error = assert_error(client_for(UserFactory()).get("/api/v1/jobs/"), 403, "permission_denied")
    assert "membership" in error["message"]


def test_jobs_are_listed_and_shown_for_the_callers_organization_only(redis_conn):
    user = member()
    mine = enqueue("system:noop", {}, organization_id=user.membership.organization_id, user=user)
    theirs = enqueue("system:noop", {}, organization_id=OrganizationFactory().pk)
    system = enqueue("system:noop", {})
    client = client_for(user)
    body = client.get("/api/v1/jobs/").json()
    assert [row["id"] for row in body["results"]] == [mine.id]
    assert body["count"] == 1
    detail = client.get(f"/api/v1/jobs/{mine.id}/").json()
    assert (detail["status"], detail["attempts"], detail["max_attempts"]) == ("queued", 0, 4 - 3)
    assert detail["url"] == f"/api/v1/jobs/{mine.id}/"
    assert_error(client.get(f"/api/v1/jobs/{theirs.id}/"), 404, "not_found")
    assert_error(client.get(f"/api/v1/jobs/{system.id}/"), 404, "not_found")
    assert_error(client.get("/api/v1/jobs/job_nope/"), 404, "not_found")


def test_job_filters_and_ordering(redis_conn):
    user = member()
    org = user.membership.organization_id
    first = enqueue("system:noop", {}, organization_id=org)
    second = enqueue("test:flaky", {"token": "t"}, organization_id=org)
    JobRecord.objects.filter(pk=first.pk).update(status=JobStatus.FAILED)
    client = client_for(user)
    ids = lambda query: [row["id"] for row in client.get(f"/api/v1/jobs/{query}").json()["results"]]  # noqa: E731
    assert ids("?status=failed") == [first.id]
    assert ids("?status=failed&status=queued") == [second.id, first.id]
    assert ids("?job_type=test:flaky") == [second.id]
    assert ids("?ordering=created_at") == [first.id, second.id]
    assert_error(client.get("/api/v1/jobs/?status=bogus"), 400, "validation_error", field="status")
    assert_error(client.get("/api/v1/jobs/?created_after=yesterday"), 400, "validation_error", field="created_after")


def test_the_job_list_costs_the_same_queries_whatever_the_page_size(redis_conn):
    user = member()
    org = user.membership.organization_id
    client = client_for(user)
    for _ in range(3):
        enqueue("system:noop", {}, organization_id=org, user=user)
    few = count_queries(lambda: client.get("/api/v1/jobs/"))
    for _ in range(40):
        enqueue("system:noop", {}, organization_id=org, user=user)
    assert count_queries(lambda: client.get("/api/v1/jobs/?page_size=100")) == few


def test_retry_and_cancel_are_staff_only_and_refuse_the_wrong_state_with_409(redis_conn):
    staff = member(staff=True)
    org = staff.membership.organization_id
    planner = member(staff.membership.organization)
    record = enqueue("system:noop", {}, organization_id=org)
    assert_error(client_for(planner).post(f"/api/v1/jobs/{record.id}/cancel/"), 403, "permission_denied")
    client = client_for(staff)
    assert client.post(f"/api/v1/jobs/{record.id}/cancel/").json()["status"] == "cancelled"
    assert_error(client.post(f"/api/v1/jobs/{record.id}/cancel/"), 409, "conflict")
    assert client.post(f"/api/v1/jobs/{record.id}/retry/").json()["status"] in ("pending", "queued")
    assert_error(client.post(f"/api/v1/jobs/{record.id}/retry/"), 409, "conflict")
    other = enqueue("system:noop", {}, organization_id=OrganizationFactory().pk)
    assert_error(client.post(f"/api/v1/jobs/{other.id}/cancel/"), 404, "not_found")


def test_queues_and_schedules_are_for_staff(redis_conn):
    staff, planner = member(staff=True), member()
    assert_error(client_for(planner).get("/api/v1/queues/"), 403, "permission_denied")
    assert_error(client_for(planner).get("/api/v1/schedules/"), 403, "permission_denied")
    queues = client_for(staff).get("/api/v1/queues/").json()
    assert {q["name"] for q in queues["queues"]} >= {"critical", "default", "pattern"}
    schedule = schedule_create(name="noop", job_type="system:noop", interval_seconds=60)
    rows = client_for(staff).get("/api/v1/schedules/").json()["results"]
    assert rows[0]["name"] == "noop" and rows[0]["late"] is False and rows[0]["next_run"]
    assert_error(client_for(planner).post(f"/api/v1/schedules/{schedule.pk}/run/"), 403, "permission_denied")
    response = client_for(staff).post(f"/api/v1/schedules/{schedule.pk}/run/")
    assert response.status_code == 202
    assert response["Location"] == f"/api/v1/jobs/{response.json()['id']}/"
    assert_error(client_for(staff).post("/api/v1/schedules/999999/run/"), 404, "not_found")
