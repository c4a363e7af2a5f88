"""Suggestion changes become suggestion.* webhook events, in the transaction that makes them true."""

from __future__ import annotations

import pytest

from notifications.models import WebhookDelivery
from notifications.webhooks import webhook_endpoint_create
from patterns.errors import SuggestionStateError
from patterns.services import analyze_patterns, suggestion_accept, suggestion_reject
from tests.patterns.factories import DedicatedLaneSuggestionFactory, UserFactory
from tests.patterns.lane_data import build_lane_data
from trenova_jobs import JobRecord

pytestmark = pytest.mark.django_db


def _subscribe(organization_id: int, *events: str):
    return webhook_endpoint_create(
        organization_id=organization_id, url="https://hooks.example.com/trenova", event_types=list(events)
    )


def test_an_analysis_emits_one_created_event_per_new_suggestion(redis_conn):
    data = build_lane_data()
    endpoint = _subscribe(data.org.pk, "suggestion.created")
    result = analyze_patterns(organization_id=data.org.pk, trigger_reason="manual")
    assert result.suggestions_created > 0
    deliveries = list(WebhookDelivery.objects.filter(endpoint=endpoint))
    assert len(deliveries) == result.suggestions_created
    assert len({d.event_id for d in deliveries}) == len(deliveries)  # one event id per suggestion
    created_ids = {lane.suggestion_id for lane in result.lanes if lane.suggestion_id}
    assert {d.payload["data"]["suggestion"]["id"] for d in deliveries} == created_ids
    assert JobRecord.objects.filter(job_type="notification:webhook").count() == len(deliveries)
    # A re-run creates nothing new, so it announces nothing.
    analyze_patterns(organization_id=data.org.pk, trigger_reason="manual")
    assert WebhookDelivery.objects.count() == len(deliveries)


def test_accept_and_reject_emit_their_events_with_the_lane(redis_conn):
    accepted, rejected = DedicatedLaneSuggestionFactory(), DedicatedLaneSuggestionFactory()
    org_a = accepted.organization_id
    endpoint = _subscribe(org_a, "suggestion.accepted", "suggestion.rejected")
    user = UserFactory()
    lane = suggestion_accept(suggestion=accepted, user=user)
    [event] = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert event.event_type == "suggestion.accepted"
    assert event.payload["data"]["suggestion"]["id"] == accepted.pk
    assert event.payload["data"]["suggestion"]["status"] == "Accepted"
    assert event.payload["data"]["dedicated_lane"]["id"] == lane.pk
    # Another organization's suggestion reaches only its own endpoints (none here).
    suggestion_reject(suggestion=rejected, user=user, reason="seasonal")
    assert WebhookDelivery.objects.count() == 1
    other = DedicatedLaneSuggestionFactory(organization_id=org_a, customer=accepted.customer)
    suggestion_reject(suggestion=other, user=user, reason=" seasonal ")
    event = WebhookDelivery.objects.get(event_type="suggestion.rejected")
    assert event.payload["data"]["suggestion"]["reject_reason"] == "seasonal"


def test_a_refused_change_emits_nothing(redis_conn):
    suggestion = DedicatedLaneSuggestionFactory()
    _subscribe(suggestion.organization_id, "suggestion.accepted", "suggestion.rejected")
    user = UserFactory()
    suggestion_reject(suggestion=suggestion, user=user)
    with pytest.raises(SuggestionStateError):
        suggestion_accept(suggestion=suggestion, user=user)
    assert list(WebhookDelivery.objects.values_list("event_type", flat=True)) == ["suggestion.rejected"]
