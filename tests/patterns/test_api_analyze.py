"""POST /api/v1/patterns/analyze/: an API analysis of the caller's organization, validated at the edge."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.throttling import ScopedRateThrottle

from patterns.models import MIN_FREQUENCY
from tests.api.helpers import assert_error, client_for, member
from tests.patterns.factories import CustomerFactory, UserFactory
from trenova_jobs.models import JobRecord

pytestmark = pytest.mark.django_db

URL = "/api/v1/patterns/analyze/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()  # throttle counts live in the default (local memory) cache
    yield
    cache.clear()


def test_an_analysis_of_one_customer_is_enqueued_for_the_callers_organization(redis_conn):
    user = member()
    org = user.membership.organization
    customer = CustomerFactory(organization=org)
    response = client_for(user).post(
        URL,
        {
            "customer_id": customer.pk,
            "start_date": "2025-01-01T00:00:00Z",
            "end_date": "2025-03-01T00:00:00+02:00",
            "min_frequency": 4,
        },
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert response["Location"] == f"/api/v1/jobs/{body['id']}/" == body["url"]
    assert (body["job_type"], body["status"], body["deduplicated"]) == ("pattern:analyze", "queued", False)
    assert body["attempts"] == 0 and body["queue"] == "pattern"
    record = JobRecord.objects.get(pk=body["id"])
    assert (record.organization_id, record.business_unit_id, record.user_id) == (
        org.pk,
        user.membership.business_unit_id,
        user.pk,
    )
    payload = record.payload
    assert payload["trigger_reason"] == "api"
    assert (payload["customer_id"], payload["min_frequency"], payload["user_id"]) == (customer.pk, 4, user.pk)
    assert (payload["start_date"], payload["end_date"]) == ("2025-01-01T00:00:00Z", "2025-02-28T22:00:00Z")
    # The job's status URL answers for the same caller.
    assert client_for(user).get(body["url"]).json()["id"] == body["id"]


def test_an_empty_body_analyses_the_whole_organization_and_a_second_request_folds_into_the_first(redis_conn):
    user = member()
    client = client_for(user)
    first = client.post(URL, {}).json()
    assert first["payload"]["customer_id"] is None
    assert first["payload"]["start_date"] is None and first["payload"]["min_frequency"] is None
    again = client.post(URL, {"min_frequency": 5})
    assert again.status_code == 202
    assert (again.json()["id"], again.json()["deduplicated"]) == (first["id"], True)
    assert JobRecord.objects.filter(job_type="pattern:analyze").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start_date": "2025-01-01T00:00:00"}, "start_date"),  # no offset
        ({"end_date": "2025-01-01"}, "end_date"),  # a date, no time or offset
        ({"start_date": "yesterday"}, "start_date"),
        ({"start_date": "2025-02-01T00:00:00Z", "end_date": "2025-01-01T00:00:00Z"}, "end_date"),
        ({"start_date": "2025-02-01T00:00:00Z", "end_date": "2025-02-01T00:00:00Z"}, "end_date"),
        ({"min_frequency": MIN_FREQUENCY.low - 1}, "min_frequency"),
        ({"min_frequency": MIN_FREQUENCY.high + 1}, "min_frequency"),
        ({"min_frequency": "often"}, "min_frequency"),
        ({"customer_id": 987654321}, "customer_id"),
        ({"customer_id": "seven"}, "customer_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(redis_conn, body, field):
    response = client_for(member()).post(URL, body)
    assert_error(response, 400, "validation_error", field=field)
    assert not JobRecord.objects.exists()


def test_a_customer_of_another_organization_is_a_400_not_an_analysis_of_it(redis_conn):
    theirs = CustomerFactory()
    error = assert_error(client_for(member()).post(URL, {"customer_id": theirs.pk}), 400, "validation_error")
    assert "customer_id" in error["fields"]
    assert not JobRecord.objects.exists()


def test_min_frequency_bounds_are_accepted(redis_conn):
    client = client_for(member())
    assert client.post(URL, {"min_frequency": MIN_FREQUENCY.low}).status_code == 202
    cache.clear()
    assert client_for(member()).post(URL, {"min_frequency": MIN_FREQUENCY.high}).status_code == 202


def test_a_body_that_is_not_json_is_415_and_malformed_json_400(redis_conn):
    client = client_for(member())
    assert_error(
        client.post(URL, "customer_id=1", content_type="application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    )
    assert_error(client.post(URL, "{}", content_type="text/plain"), 415, "unsupported_media_type")
    assert_error(client.post(URL, '{"customer_id": ', content_type="application/json"), 400, "parse_error")
    assert_error(client.post(URL, "[1, 2]", content_type="application/json"), 400, "validation_error")
    assert not JobRecord.objects.exists()


def test_anonymous_is_401_a_user_without_membership_403_and_get_405(redis_conn):
    assert_error(client_for(None).post(URL, {}), 401, "not_authenticated")
    assert_error(client_for(UserFactory()).post(URL, {}), 403, "permission_denied")
    assert_error(client_for(member()).get(URL), 405, "method_not_allowed")
    assert not JobRecord.objects.exists()


def test_analyses_are_throttled_per_user_with_retry_after(redis_conn, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "analyze": "2/min"})
    user = member()
    client = client_for(user)
    assert [client.post(URL, {}).status_code for _ in range(2)] == [202, 202]
    error = assert_error(client.post(URL, {}), 429, "throttled")
    assert "throttled" in error["message"].lower()
    response = client.post(URL, {})
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 60
    # Another user, even of the same organization, has a count of their own.
    assert client_for(member(user.membership.organization)).post(URL, {}).status_code == 202
