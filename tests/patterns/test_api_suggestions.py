"""Lane suggestions over the API: list (filters, order, expiry), detail, accept and reject, per tenant."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.throttling import ScopedRateThrottle

from patterns.models import DedicatedLane, DedicatedLaneStatus, DedicatedLaneSuggestion, SuggestionStatus
from tests.api.helpers import assert_error, client_for, count_queries, member
from tests.patterns import factories as f

pytestmark = pytest.mark.django_db

LIST = "/api/v1/lane-suggestions/"
SuggestionFactory = f.DedicatedLaneSuggestionFactory


def detail(pk: int) -> str:
    return f"{LIST}{pk}/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def planner():
    return member()


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


# --- List ------------------------------------------------------------------------------------------------


def test_the_list_is_best_first_hides_expired_rows_and_other_organizations(planner):
    org = planner.membership.organization
    low = SuggestionFactory(organization=org, confidence_score=Decimal("0.7"), frequency=9)
    high = SuggestionFactory(organization=org, confidence_score=Decimal("0.9"), frequency=3)
    tie = SuggestionFactory(organization=org, confidence_score=Decimal("0.7"), frequency=12)
    rejected = SuggestionFactory(organization=org, rejected=True, confidence_score=Decimal("0.6"))
    stale = SuggestionFactory(organization=org, stale=True)
    expired = SuggestionFactory(organization=org, status=SuggestionStatus.EXPIRED)
    SuggestionFactory()  # another organization
    client = client_for(planner)
    assert _ids(client.get(LIST)) == [high.pk, tie.pk, low.pk, rejected.pk]
    assert set(_ids(client.get(f"{LIST}?include_expired=true"))) == {
        *(high.pk, tie.pk, low.pk, rejected.pk),
        *(stale.pk, expired.pk),
    }
    assert _ids(client.get(f"{LIST}?status=Pending")) == [high.pk, tie.pk, low.pk]
    assert _ids(client.get(f"{LIST}?status=Rejected")) == [rejected.pk]
    assert _ids(client.get(f"{LIST}?status=Expired")) == [expired.pk]  # asking for Expired implies them
    assert set(_ids(client.get(f"{LIST}?status=Pending&include_expired=true"))) == {high.pk, tie.pk, low.pk, stale.pk}
    assert client.get(LIST).json()["count"] == 4


def test_customer_filter_and_ordering(planner):
    org = planner.membership.organization
    customer = f.CustomerFactory(organization=org)
    mine = SuggestionFactory(organization=org, customer=customer, frequency=4, confidence_score=Decimal("0.75"))
    other = SuggestionFactory(organization=org, frequency=8, confidence_score=Decimal("0.95"))
    client = client_for(planner)
    assert _ids(client.get(f"{LIST}?customer={customer.pk}")) == [mine.pk]
    assert _ids(client.get(f"{LIST}?ordering=frequency")) == [mine.pk, other.pk]
    assert _ids(client.get(f"{LIST}?ordering=-frequency")) == [other.pk, mine.pk]
    assert _ids(client.get(f"{LIST}?ordering=created_at")) == [mine.pk, other.pk]
    assert _ids(client.get(f"{LIST}?ordering=confidence_score")) == [mine.pk, other.pk]
    assert _ids(client.get(f"{LIST}?ordering=-confidence_score")) == [other.pk, mine.pk]


def test_bad_filters_are_400(planner):
    client = client_for(planner)
    assert_error(client.get(f"{LIST}?status=Maybe"), 400, "validation_error", field="status")
    assert_error(client.get(f"{LIST}?customer=abc"), 400, "validation_error", field="customer")


def test_the_list_costs_the_same_queries_whatever_the_page_size(planner):
    org = planner.membership.organization
    client = client_for(planner)

    def suggestions(count):  # every lane field set: a prefetch with no ids to fetch makes no query
        for _ in range(count):
            SuggestionFactory(
                organization=org,
                tractor_type=f.TractorTypeFactory(organization=org),
                trailer_type=f.TrailerTypeFactory(organization=org),
            )

    suggestions(3)
    few = count_queries(lambda: client.get(LIST))
    suggestions(37)
    assert count_queries(lambda: client.get(f"{LIST}?page_size=100")) == few


def test_anonymous_is_401_and_without_membership_403():
    suggestion = SuggestionFactory()
    for url in (LIST, detail(suggestion.pk)):
        assert_error(client_for(None).get(url), 401, "not_authenticated")
        assert_error(client_for(f.UserFactory()).get(url), 403, "permission_denied")
    for action in ("accept", "reject"):
        assert_error(client_for(None).post(f"{detail(suggestion.pk)}{action}/", {}), 401, "not_authenticated")
        assert_error(
            client_for(f.UserFactory()).post(f"{detail(suggestion.pk)}{action}/", {}), 403, "permission_denied"
        )
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PENDING


# --- Detail ----------------------------------------------------------------------------------------------


def test_the_detail_shows_the_lane_score_and_evidence(planner):
    org = planner.membership.organization
    suggestion = SuggestionFactory(
        organization=org,
        tractor_type=f.TractorTypeFactory(organization=org),
        pattern_details={"trigger_reason": "api", "latest_shipment_ids": [1, 2]},
    )
    body = client_for(planner).get(detail(suggestion.pk)).json()
    assert body["id"] == suggestion.pk and body["status"] == "Pending"
    assert body["suggested_name"] == suggestion.suggested_name
    assert body["customer"] == {
        "id": suggestion.customer_id,
        "code": suggestion.customer.code,
        "name": suggestion.customer.name,
    }
    origin, destination = suggestion.origin_location, suggestion.destination_location
    assert (body["origin_location"]["code"], body["origin_location"]["city"]) == (origin.code, origin.city)
    assert (body["destination_location"]["code"], body["destination_location"]["state"]) == (
        destination.code,
        destination.state,
    )
    assert body["service_type"]["code"] == suggestion.service_type.code
    assert body["tractor_type"]["equipment_class"] == "Tractor" and body["trailer_type"] is None
    assert (body["confidence_score"], body["frequency"]) == ("0.8500", 6)
    assert body["pattern_details"] == {"trigger_reason": "api", "latest_shipment_ids": [1, 2]}
    assert body["expires_at"] and body["processed_by_id"] is None and body["created_dedicated_lane_id"] is None


def test_another_organizations_suggestion_is_404_for_every_endpoint(planner):
    theirs = SuggestionFactory()
    client = client_for(planner)
    assert_error(client.get(detail(theirs.pk)), 404, "not_found")
    assert_error(client.post(f"{detail(theirs.pk)}accept/", {}), 404, "not_found")
    assert_error(client.post(f"{detail(theirs.pk)}reject/", {}), 404, "not_found")
    assert_error(client.get(detail(987654321)), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.status == SuggestionStatus.PENDING


# --- Accept ----------------------------------------------------------------------------------------------


def test_accepting_creates_the_dedicated_lane(planner):
    org = planner.membership.organization
    suggestion = SuggestionFactory(organization=org)
    primary, secondary = f.WorkerFactory(organization=org), f.WorkerFactory(organization=org)
    response = client_for(planner).post(
        f"{detail(suggestion.pk)}accept/",
        {
            "name": "  Chicago dedicated  ",
            "primary_worker_id": primary.pk,
            "secondary_worker_id": secondary.pk,
            "auto_assign": True,
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    lane = DedicatedLane.objects.get(pk=body["id"])
    assert (body["name"], body["status"], body["auto_assign"]) == ("Chicago dedicated", "Active", True)
    assert (body["primary_worker_id"], body["secondary_worker_id"]) == (primary.pk, secondary.pk)
    assert body["primary_worker"]["code"] == primary.code
    assert body["customer_id"] == suggestion.customer_id == lane.customer_id
    assert body["origin_location"]["id"] == suggestion.origin_location_id
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.ACCEPTED
    assert (suggestion.created_dedicated_lane_id, suggestion.processed_by_id) == (lane.pk, planner.pk)
    after = client_for(planner).get(detail(suggestion.pk)).json()
    assert (after["status"], after["created_dedicated_lane_id"]) == ("Accepted", lane.pk)


def test_accepting_with_an_empty_body_uses_the_suggested_name(planner):
    suggestion = SuggestionFactory(organization=planner.membership.organization)
    body = client_for(planner).post(f"{detail(suggestion.pk)}accept/", {}).json()
    assert (body["name"], body["auto_assign"], body["primary_worker"]) == (suggestion.suggested_name, False, None)


@pytest.mark.parametrize(
    ("make_body", "field"),
    [
        (lambda org: {"primary_worker_id": f.WorkerFactory().pk}, "primary_worker_id"),  # another organization's
        (lambda org: {"secondary_worker_id": f.WorkerFactory().pk}, "secondary_worker_id"),
        (lambda org: {"primary_worker_id": 987654321}, "primary_worker_id"),
        (lambda org: {"auto_assign": True}, "auto_assign"),  # needs a primary driver
        (lambda org: {"name": "x" * 101}, "name"),
        (lambda org: {"name": ""}, "name"),
        (lambda org: {"auto_assign": "sometimes"}, "auto_assign"),
    ],
)
def test_bad_accept_input_is_a_400_naming_the_field(planner, make_body, field):
    org = planner.membership.organization
    suggestion = SuggestionFactory(organization=org)
    response = client_for(planner).post(f"{detail(suggestion.pk)}accept/", make_body(org))
    assert_error(response, 400, "validation_error", field=field)
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PENDING and not DedicatedLane.objects.exists()


def test_the_same_driver_twice_is_a_400_on_the_request_field(planner):
    org = planner.membership.organization
    suggestion = SuggestionFactory(organization=org)
    driver = f.WorkerFactory(organization=org)
    response = client_for(planner).post(
        f"{detail(suggestion.pk)}accept/", {"primary_worker_id": driver.pk, "secondary_worker_id": driver.pk}
    )
    error = assert_error(response, 400, "validation_error", field="secondary_worker_id")
    assert "secondary_worker" not in error["fields"]


def test_a_taken_lane_name_is_a_409_in_any_case(planner):
    org = planner.membership.organization
    f.DedicatedLaneFactory(organization=org, name="Chicago Dedicated")
    suggestion = SuggestionFactory(organization=org)
    response = client_for(planner).post(f"{detail(suggestion.pk)}accept/", {"name": "chicago dedicated"})
    assert_error(response, 409, "conflict", field="name")
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PENDING


@pytest.mark.parametrize(
    "traits",
    [{"accepted": True}, {"rejected": True}, {"status": SuggestionStatus.EXPIRED}, {"stale": True}],
    ids=["accepted", "rejected", "expired", "pending-past-expiry"],
)
def test_accepting_a_processed_or_expired_suggestion_is_a_409(planner, traits):
    suggestion = SuggestionFactory(organization=planner.membership.organization, **traits)
    lanes_before = DedicatedLane.objects.count()
    assert_error(client_for(planner).post(f"{detail(suggestion.pk)}accept/", {}), 409, "conflict")
    assert DedicatedLane.objects.count() == lanes_before


# --- Reject ----------------------------------------------------------------------------------------------


def test_rejecting_records_who_and_why_and_a_second_decision_is_a_409(planner):
    suggestion = SuggestionFactory(organization=planner.membership.organization)
    client = client_for(planner)
    response = client.post(f"{detail(suggestion.pk)}reject/", {"reason": "  Contract ends in May. "})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["id"], body["status"], body["reject_reason"]) == (suggestion.pk, "Rejected", "Contract ends in May.")
    assert body["processed_by_id"] == planner.pk and body["processed_at"]
    assert_error(client.post(f"{detail(suggestion.pk)}reject/", {}), 409, "conflict")
    assert_error(client.post(f"{detail(suggestion.pk)}accept/", {}), 409, "conflict")


def test_rejecting_without_a_reason(planner):
    suggestion = SuggestionFactory(organization=planner.membership.organization)
    body = client_for(planner).post(f"{detail(suggestion.pk)}reject/", {}).json()
    assert (body["status"], body["reject_reason"]) == ("Rejected", "")


def test_reject_input_is_validated_and_json_only(planner):
    suggestion = SuggestionFactory(organization=planner.membership.organization)
    client = client_for(planner)
    assert_error(
        client.post(f"{detail(suggestion.pk)}reject/", {"reason": ["a", "b"]}), 400, "validation_error", field="reason"
    )
    assert_error(
        client.post(f"{detail(suggestion.pk)}reject/", "reason=x", content_type="text/plain"),
        415,
        "unsupported_media_type",
    )
    assert_error(
        client.post(f"{detail(suggestion.pk)}reject/", "{", content_type="application/json"), 400, "parse_error"
    )
    assert DedicatedLaneSuggestion.objects.get(pk=suggestion.pk).status == SuggestionStatus.PENDING


# --- Throttling ------------------------------------------------------------------------------------------


def test_accept_and_reject_share_a_per_user_throttle_with_retry_after(planner, monkeypatch):
    rates = {**ScopedRateThrottle.THROTTLE_RATES, "suggestion_decide": "2/min"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
    org = planner.membership.organization
    first, second, third = (SuggestionFactory(organization=org) for _ in range(3))
    client = client_for(planner)
    assert client.post(f"{detail(first.pk)}accept/", {}).status_code == 201
    assert client.post(f"{detail(second.pk)}reject/", {}).status_code == 200
    response = client.post(f"{detail(third.pk)}accept/", {})
    assert_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    assert_error(client.post(f"{detail(third.pk)}reject/", {}), 429, "throttled")
    third.refresh_from_db()
    assert third.status == SuggestionStatus.PENDING
    # Reading is not throttled, and a colleague has a count of their own.
    assert client.get(detail(third.pk)).status_code == 200
    assert client_for(member(org)).post(f"{detail(third.pk)}reject/", {}).status_code == 200


def test_the_accepted_lane_is_listed_with_the_dedicated_lanes(planner):
    suggestion = SuggestionFactory(
        organization=planner.membership.organization, expires_at=timezone.now() + timedelta(hours=1)
    )
    lane_id = client_for(planner).post(f"{detail(suggestion.pk)}accept/", {}).json()["id"]
    rows = client_for(planner).get("/api/v1/dedicated-lanes/").json()["results"]
    assert [(row["id"], row["status"]) for row in rows] == [(lane_id, DedicatedLaneStatus.ACTIVE)]
