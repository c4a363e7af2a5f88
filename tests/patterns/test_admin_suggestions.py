"""Admin for lane suggestions (list, accept, reject with a reason) and the "Analyze patterns now" actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from patterns.models import DedicatedLane, DedicatedLaneSuggestion, SuggestionStatus
from tests.patterns import factories as f
from trenova_jobs.models import JobRecord

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:patterns_dedicatedlanesuggestion_changelist"


def _action(
    client: Client, url_name: str, action: str, objects: list[Any], follow: bool = False, query: str = "", **extra: str
) -> Any:
    # An action applies to the selected rows the list's filters show: `query` carries them (e.g. "status=all").
    data = {"action": action, "index": "0", "_selected_action": [str(o.pk) for o in objects], **extra}
    url = f"{reverse(url_name)}?{query}" if query else reverse(url_name)
    return client.post(url, data, follow=follow or "apply" in extra)


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_changelist_shows_suggestions_best_first(admin_client: Client) -> None:
    org = f.OrganizationFactory()
    chi = f.LocationFactory(organization=org, code="CHI", city="Chicago", state="IL")
    dal = f.LocationFactory(organization=org, code="DAL", city="Dallas", state="TX")
    f.DedicatedLaneSuggestionFactory(organization=org, confidence_score=Decimal("0.75"), suggested_name="Second")
    f.DedicatedLaneSuggestionFactory(
        organization=org,
        origin_location=chi,
        destination_location=dal,
        confidence_score=Decimal("0.95"),
        suggested_name="First",
    )
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    content = response.content.decode()
    assert content.index("First") < content.index("Second")
    assert "Chicago, IL → Dallas, TX" in content and 'title="CHI → DAL"' in content and "0.9500" in content


def test_changelist_queries_do_not_grow_with_rows(admin_client: Client, django_assert_max_num_queries: Any) -> None:
    f.DedicatedLaneSuggestionFactory()
    url = reverse(CHANGELIST)
    admin_client.get(url)
    with django_assert_max_num_queries(12) as few:
        admin_client.get(url)
    for _ in range(5):
        f.DedicatedLaneSuggestionFactory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(url)


def test_change_page_is_read_only_and_adding_is_not_offered(admin_client: Client) -> None:
    # The change page is the review page (tests/patterns/test_admin_review.py): no edit form, no raw JSON.
    suggestion = f.DedicatedLaneSuggestionFactory(pattern_details={"shipment_ids": [101, 102]})
    response = admin_client.get(reverse("admin:patterns_dedicatedlanesuggestion_change", args=[suggestion.pk]))
    assert response.status_code == 200
    assert b'name="suggested_name"' not in response.content  # no editable inputs
    assert b"Review suggestion: " in response.content and b"shipment_ids" not in response.content
    assert admin_client.get(reverse("admin:patterns_dedicatedlanesuggestion_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:patterns_dedicatedlanesuggestion_delete", args=[suggestion.pk])).status_code
        == 403
    )


def test_accept_action_creates_lanes_and_reports_refusals(admin_client: Client) -> None:
    good = f.DedicatedLaneSuggestionFactory(suggested_name="CHI-DAL")
    stale = f.DedicatedLaneSuggestionFactory(stale=True, suggested_name="OLD-ONE")
    done = f.DedicatedLaneSuggestionFactory(rejected=True, suggested_name="NOPE")
    response = _action(
        admin_client, CHANGELIST, "accept_selected", [good, stale, done], follow=True, query="status=all"
    )
    assert response.status_code == 200
    good.refresh_from_db()
    assert good.status == SuggestionStatus.ACCEPTED and good.created_dedicated_lane.name == "CHI-DAL"
    assert good.processed_by.username == "admin"
    stale.refresh_from_db()
    assert stale.status == SuggestionStatus.PENDING
    messages = _messages(response)
    assert "Accepted 1 suggestion(s); created lanes: CHI-DAL." in messages
    assert any(m.startswith("OLD-ONE: Suggestion") and "expired on" in m for m in messages)
    assert any(m.startswith("NOPE: Suggestion") and "is Rejected" in m for m in messages)
    assert DedicatedLane.objects.count() == 1


def test_accept_reports_a_name_clash(admin_client: Client) -> None:
    suggestion = f.DedicatedLaneSuggestionFactory(suggested_name="CHI-DAL")
    f.DedicatedLaneFactory(organization=suggestion.organization, name="CHI-DAL")
    response = _action(admin_client, CHANGELIST, "accept_selected", [suggestion], follow=True)
    assert any("already exists; choose another name" in m for m in _messages(response))
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PENDING


def test_reject_action_asks_for_a_reason_first(admin_client: Client) -> None:
    suggestions = [f.DedicatedLaneSuggestionFactory(suggested_name=f"S{i}") for i in range(2)]
    response = _action(admin_client, CHANGELIST, "reject_selected", suggestions)
    assert response.status_code == 200
    assert b"Reject lane suggestions" in response.content
    assert response.content.count(b'name="_selected_action"') == 2
    assert all(s.status == SuggestionStatus.PENDING for s in DedicatedLaneSuggestion.objects.all())

    # No reason: the form comes back with an error and nothing changes.
    response = _action(admin_client, CHANGELIST, "reject_selected", suggestions, apply="1", reason="")
    assert response.status_code == 200 and b"This field is required" in response.content
    assert all(s.status == SuggestionStatus.PENDING for s in DedicatedLaneSuggestion.objects.all())

    response = _action(admin_client, CHANGELIST, "reject_selected", suggestions, apply="1", reason="Seasonal only.")
    assert response.redirect_chain and response.status_code == 200
    assert "Rejected 2 suggestion(s)." in _messages(response)
    for suggestion in DedicatedLaneSuggestion.objects.all():
        assert (suggestion.status, suggestion.reject_reason) == (SuggestionStatus.REJECTED, "Seasonal only.")
        assert suggestion.processed_by.username == "admin"


def test_reject_skips_suggestions_that_are_not_pending(admin_client: Client) -> None:
    accepted = f.DedicatedLaneSuggestionFactory(accepted=True, suggested_name="DONE")
    response = _action(
        admin_client, CHANGELIST, "reject_selected", [accepted], query="status=all", apply="1", reason="No."
    )
    assert any(m.startswith("DONE: Suggestion") for m in _messages(response))
    accepted.refresh_from_db()
    assert accepted.status == SuggestionStatus.ACCEPTED


def test_analyze_now_on_customers_enqueues_one_job_each(admin_client: Client) -> None:
    org = f.OrganizationFactory()
    customers = [f.CustomerFactory(organization=org, code=f"C{i}") for i in range(2)]
    response = _action(
        admin_client, "admin:patterns_customer_changelist", "analyze_patterns_now", customers, follow=True
    )
    records = {r.payload["customer_id"]: r for r in JobRecord.objects.filter(job_type="pattern:analyze")}
    assert set(records) == {c.pk for c in customers}
    for customer in customers:
        record = records[customer.pk]
        assert record.unique_key == f"pattern:analyze:{org.pk}:{customer.pk}"
        assert record.payload["trigger_reason"] == "admin"  # the plain value, as the payload travels
        assert record.payload["organization_id"] == org.pk
        assert record.user.username == "admin"
    messages = _messages(response)
    assert "Queued 2 pattern analysis job(s)." in messages
    assert {m.split(": job ")[1] for m in messages if ": job " in m} == {r.id for r in records.values()}

    # Asking again while they are queued folds into them.
    response = _action(
        admin_client, "admin:patterns_customer_changelist", "analyze_patterns_now", customers, follow=True
    )
    assert "2 already queued, not queued again:" in _messages(response)
    assert JobRecord.objects.count() == 2


def test_analyze_now_on_organizations(admin_client: Client) -> None:
    orgs = [f.OrganizationFactory(), f.OrganizationFactory()]
    member = f.UserFactory(organization=orgs[0], is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(member)
    response = _action(client, "admin:patterns_organization_changelist", "analyze_patterns_now", orgs, follow=True)
    records = {r.organization_id: r for r in JobRecord.objects.filter(job_type="pattern:analyze")}
    assert set(records) == {o.pk for o in orgs}
    assert records[orgs[0].pk].unique_key == f"pattern:analyze:{orgs[0].pk}"
    assert records[orgs[0].pk].payload["customer_id"] is None
    # The user's business unit goes with the job in their own organization only.
    assert records[orgs[0].pk].business_unit_id == member.membership.business_unit_id
    assert records[orgs[1].pk].business_unit_id is None
    assert "Queued 2 pattern analysis job(s)." in _messages(response)
