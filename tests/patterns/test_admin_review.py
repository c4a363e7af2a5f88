"""The lane suggestion review page (the admin change view), its accept/reject forms, and the ranked list."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from patterns.evidence import week_start, weeks_touched
from patterns.models import (
    DedicatedLane,
    DedicatedLaneSuggestion,
    ShipmentStatus,
    SuggestionStatus,
    TriggerReason,
)
from patterns.scoring import score_breakdown
from patterns.selectors import suggestion_review
from patterns.services import analyze_patterns
from tests.patterns import factories as f

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:patterns_dedicatedlanesuggestion_changelist"


def review_url(suggestion: DedicatedLaneSuggestion) -> str:
    return reverse("admin:patterns_dedicatedlanesuggestion_change", args=[suggestion.pk])


def accept_url(suggestion: DedicatedLaneSuggestion) -> str:
    return reverse("admin:patterns_dedicatedlanesuggestion_accept", args=[suggestion.pk])


def reject_url(suggestion: DedicatedLaneSuggestion) -> str:
    return reverse("admin:patterns_dedicatedlanesuggestion_reject", args=[suggestion.pk])


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _log(obj: Any) -> list[LogEntry]:
    content_type = ContentType.objects.get_for_model(obj)
    return list(LogEntry.objects.filter(content_type=content_type, object_id=str(obj.pk)).order_by("pk"))


class Lane:
    """A customer's Chicago → Dallas lane in one organization, with shipments placed by hand."""

    def __init__(self) -> None:
        self.org = f.OrganizationFactory()
        self.bu = f.BusinessUnitFactory(organization=self.org)
        self.customer = f.CustomerFactory(organization=self.org, code="GLP", name="Great Lakes Paper Co.")
        self.chicago = f.LocationFactory(organization=self.org, code="CHI-01", city="Chicago", state="IL")
        self.dallas = f.LocationFactory(organization=self.org, code="DAL-01", city="Dallas", state="TX")
        self.service = f.ServiceTypeFactory(organization=self.org, code="STD")
        self.load = f.ShipmentTypeFactory(organization=self.org, code="FTL")

    def ship(self, when: datetime, amount: Decimal | None = Decimal("1000"), **extra: Any) -> Any:
        fields: dict[str, Any] = {
            "organization": self.org,
            "business_unit": self.bu,
            "customer": self.customer,
            "origin_location": self.chicago,
            "destination_location": self.dallas,
            "service_type": self.service,
            "shipment_type": self.load,
            "tractor_type": None,
            "trailer_type": None,
            "planned_pickup_at": when,
            "freight_charge_amount": amount,
            **extra,
        }
        return f.ShipmentFactory(**fields)

    def suggestion(self, **extra: Any) -> DedicatedLaneSuggestion:
        fields: dict[str, Any] = {
            "organization": self.org,
            "business_unit": self.bu,
            "customer": self.customer,
            "origin_location": self.chicago,
            "destination_location": self.dallas,
            "service_type": self.service,
            "shipment_type": self.load,
            **extra,
        }
        return f.DedicatedLaneSuggestionFactory(**fields)


# Six shipments in four calendar weeks, counted back from this week's Monday (M): (days from M, charge).
# Sorted gaps 3, 4, 7, 8, 11 days: median 7, quartiles 4 and 8 (inclusive), population stdev √8.24.
HAND_BUILT = [
    (-34, Decimal("2000")),  # Tue, 5 weeks back
    (-27, Decimal("2500")),  # Tue, 4 weeks back (gap 7)
    (-24, Decimal("3000")),  # Fri, 4 weeks back (gap 3)
    (-13, Decimal("1500")),  # Tue, 2 weeks back (gap 11)
    (-5, None),  # Wed, last week (gap 8): not rated
    (-1, Decimal("4000")),  # Sun, last week (gap 4)
]


@pytest.fixture
def detected() -> tuple[Lane, DedicatedLaneSuggestion, datetime]:
    """The hand-built lane, with noise, turned into a suggestion by detection itself."""
    lane = Lane()
    monday = datetime.combine(week_start(timezone.now()), datetime.min.time(), tzinfo=timezone.get_current_timezone())
    for days, amount in HAND_BUILT:
        lane.ship(monday + timedelta(days=days, hours=12), amount)
    # Not the lane's: cancelled, another customer on the same stops, another destination.
    lane.ship(monday - timedelta(days=20), status=ShipmentStatus.CANCELED)
    lane.ship(monday - timedelta(days=20), customer=f.CustomerFactory(organization=lane.org))
    lane.ship(monday - timedelta(days=20), destination_location=f.LocationFactory(organization=lane.org))
    analyze_patterns(organization_id=lane.org.pk, trigger_reason=TriggerReason.MANUAL)
    suggestion = DedicatedLaneSuggestion.objects.get(organization=lane.org)
    return lane, suggestion, monday


# --- The review page: breakdown and evidence -------------------------------------------------------


def test_review_page_of_a_pending_suggestion(admin_client: Client, detected: Any) -> None:
    lane, suggestion, _ = detected
    response = admin_client.get(review_url(suggestion))
    assert response.status_code == 200
    content = response.content.decode()
    assert "<title>Review suggestion: Chicago, IL → Dallas, TX" in content
    assert "<h1>Review suggestion: Chicago, IL → Dallas, TX</h1>" in content
    assert "Great Lakes Paper Co." in content
    # No change form: no Save or Delete, no editable suggestion fields; both decision forms instead.
    for absent in ('name="_save"', 'name="_continue"', "deletelink", 'name="suggested_name"', "shipment_ids"):
        assert absent not in content
    assert f'action="{accept_url(suggestion)}"' in content and f'action="{reject_url(suggestion)}"' in content
    assert f'value="{suggestion.suggested_name}"' in content  # the name field starts with the suggested name
    # The shipments behind it link to their admin pages; the noise is not among them.
    shipments = lane.customer.shipments.exclude(status=ShipmentStatus.CANCELED).filter(destination_location=lane.dallas)
    assert shipments.count() == 6
    for shipment in shipments:
        assert reverse("admin:patterns_shipment_change", args=[shipment.pk]) in content
    assert content.count('<rect class="bar"') == 4  # one bar per active week; empty weeks are a hairline
    assert "<script" not in content.split('<div id="content-main"')[1]

    review = response.context["review"]
    breakdown = review.breakdown
    assert (breakdown.frequency, breakdown.recency, breakdown.regularity, breakdown.value) == (
        Decimal("0.4"),
        Decimal("0.3"),
        Decimal("0.2"),
        Decimal("0.1"),
    )
    assert breakdown.frequency + breakdown.recency + breakdown.regularity + breakdown.value == Decimal("1")
    assert breakdown.total == suggestion.confidence_score == Decimal("1.0000")
    assert review.breakdown_matches
    assert [part["points"] for part in response.context["score_parts"]] == [
        breakdown.frequency,
        breakdown.recency,
        breakdown.regularity,
        breakdown.value,
    ]


def test_review_evidence_matches_the_hand_built_shipments(detected: Any) -> None:
    _, suggestion, monday = detected
    review = suggestion_review(suggestion_id=suggestion.pk)
    assert review is not None
    evidence = review.evidence
    assert evidence.shipments == 6 and evidence.rated == 5
    assert evidence.weeks_active == 4
    window_start = review.context.window_start
    assert review.context.window_end - window_start == timedelta(days=90)
    assert evidence.weeks_in_window == weeks_touched(start=window_start, end=review.context.window_end)
    assert [week.shipments for week in evidence.weeks if week.shipments] == [1, 2, 1, 2]
    active = {week.start: week.revenue for week in evidence.weeks if week.shipments}
    assert active[(monday - timedelta(days=28)).date()] == Decimal("5500")
    gaps = evidence.gaps
    assert gaps is not None
    assert (gaps.count, gaps.median, gaps.q1, gaps.q3, gaps.iqr) == (5, 7.0, 4.0, 8.0, 4.0)
    assert gaps.stdev == pytest.approx(math.sqrt(8.24))
    assert evidence.revenue == Decimal("13000")
    assert evidence.revenue_per_month == Decimal("4396.53")  # 13 000 * 30.4375 / 90
    assert evidence.per_week == pytest.approx(6 * 7 / 90)
    assert evidence.last_seen == monday - timedelta(days=1) + timedelta(hours=12)
    assert evidence.first_seen == monday - timedelta(days=34) + timedelta(hours=12)
    # The same figures as detection stored, and newest first in the table.
    assert evidence.revenue == suggestion.total_freight_charge and evidence.shipments == suggestion.frequency
    assert [row.business_date for row in review.shipments] == sorted(
        (row.business_date for row in review.shipments), reverse=True
    )


def test_review_page_shows_the_evidence(admin_client: Client, detected: Any) -> None:
    _, suggestion, _ = detected
    content = admin_client.get(review_url(suggestion)).content.decode()
    assert "<strong>4 of " in content  # weeks active of the window's weeks
    assert "median 7.0 days" in content and "IQR 4.0" in content and "standard deviation 2.9 days" in content
    assert "$13,000.00" in content and "$4,396.53" in content
    assert "(5 of 6 rated)" in content


def test_review_page_of_decided_suggestions(admin_client: Client) -> None:
    lane = Lane()
    accepted = lane.suggestion(accepted=True)
    rejected = Lane().suggestion(rejected=True, reject_reason="Seasonal only.")
    content = admin_client.get(review_url(accepted)).content.decode()
    assert "Accepted by" in content
    lane_url = reverse("admin:patterns_dedicatedlane_change", args=[accepted.created_dedicated_lane_id])
    assert lane_url in content
    content_rejected = admin_client.get(review_url(rejected)).content.decode()
    assert "Rejected by" in content_rejected and "Seasonal only." in content_rejected
    for page in (content, content_rejected):
        assert 'id="accept-form"' not in page and 'id="reject-form"' not in page
        assert 'name="_save"' not in page and "deletelink" not in page


def test_breakdown_sums_to_the_score_for_a_hand_made_suggestion(admin_client: Client) -> None:
    # Made by the factory (no pattern details): the parts come from its stored figures at its creation.
    suggestion = Lane().suggestion(confidence_score=Decimal("0.8500"))
    response = admin_client.get(review_url(suggestion))
    review = response.context["review"]
    expected = score_breakdown(
        frequency=6,
        first=suggestion.first_shipment_date,
        last=suggestion.last_shipment_date,
        total_freight=suggestion.total_freight_charge,
        now=suggestion.created_at,
        weight_recent=True,
    )
    assert review.breakdown == expected
    assert sum((expected.frequency, expected.recency, expected.regularity, expected.value)) == expected.total
    # 0.4 + 0.3 + 0.2 + 0.1 = 1.0, which the stored 0.85 does not match: the page says so.
    assert not review.breakdown_matches
    assert b"its figures give 1.0000" in response.content


def test_an_expired_pending_suggestion_offers_only_reject(admin_client: Client) -> None:
    suggestion = Lane().suggestion(stale=True)
    content = admin_client.get(review_url(suggestion)).content.decode()
    assert 'id="accept-form"' not in content and 'id="reject-form"' in content
    assert "no longer accepted" in content


def test_unknown_suggestion_redirects_with_a_message(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:patterns_dedicatedlanesuggestion_change", args=[987654]))
    assert response.status_code == 302 and response.url == reverse("admin:index")


# --- Accept and reject through the forms -----------------------------------------------------------


def test_accept_form_creates_the_lane_logs_it_and_redirects_to_it(admin_client: Client, detected: Any) -> None:
    lane, suggestion, _ = detected
    primary = f.WorkerFactory(organization=lane.org)
    secondary = f.WorkerFactory(organization=lane.org)
    data = {
        "name": "Chicago–Dallas paper",
        "primary_worker": primary.pk,
        "secondary_worker": secondary.pk,
        "auto_assign": "on",
    }
    response = admin_client.post(accept_url(suggestion), data)
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.ACCEPTED and suggestion.processed_by.username == "admin"
    created = suggestion.created_dedicated_lane
    assert created is not None
    assert (created.name, created.primary_worker, created.secondary_worker, created.auto_assign) == (
        "Chicago–Dallas paper",
        primary,
        secondary,
        True,
    )
    assert (created.origin_location, created.destination_location, created.customer) == (
        lane.chicago,
        lane.dallas,
        lane.customer,
    )
    assert response.status_code == 302
    assert response.url == reverse("admin:patterns_dedicatedlane_change", args=[created.pk])
    message = _messages(response)[0]
    assert "created the dedicated lane" in message and response.url in message
    [suggestion_entry] = _log(suggestion)
    assert suggestion_entry.action_flag == CHANGE and suggestion_entry.user.username == "admin"
    assert "Chicago–Dallas paper" in suggestion_entry.get_change_message()
    [lane_entry] = _log(created)
    assert lane_entry.action_flag == ADDITION
    # The History page shows the decision.
    history = admin_client.get(reverse("admin:patterns_dedicatedlanesuggestion_history", args=[suggestion.pk]))
    assert "Accepted: created the dedicated lane" in history.content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "X", "auto_assign": "on"}, "Auto-assign requires a primary worker."),
        ({"name": "TAKEN"}, "already exists; choose another name"),
        ({"name": ""}, "This field is required."),
        ({"name": "X", "primary_worker": "999999"}, "Select a valid choice."),
    ],
)
def test_invalid_accept_input_shows_the_error_and_changes_nothing(
    admin_client: Client, data: dict[str, str], error: str
) -> None:
    lane = Lane()
    suggestion = lane.suggestion()
    f.DedicatedLaneFactory(organization=lane.org, name="taken")
    lanes_before = DedicatedLane.objects.count()
    response = admin_client.post(accept_url(suggestion), data)
    assert response.status_code == 200
    content = response.content.decode()
    assert error in content
    assert "The suggestion was not accepted" in content
    assert 'class="errorlist' in content
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PENDING and suggestion.processed_by is None
    assert DedicatedLane.objects.count() == lanes_before
    assert not _log(suggestion)


def test_a_worker_of_another_organization_is_refused(admin_client: Client) -> None:
    suggestion = Lane().suggestion()
    stranger = f.WorkerFactory()
    response = admin_client.post(accept_url(suggestion), {"name": "X", "primary_worker": stranger.pk})
    assert response.status_code == 200 and b"Select a valid choice." in response.content
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PENDING


def test_accepting_a_decided_suggestion_is_refused_cleanly(admin_client: Client) -> None:
    suggestion = Lane().suggestion(rejected=True)
    response = admin_client.post(accept_url(suggestion), {"name": "X"})
    assert response.status_code == 200
    assert b"only Pending suggestions can be accepted or rejected" in response.content
    assert not DedicatedLane.objects.filter(name="X").exists()


def test_reject_form_records_the_reason_and_returns_to_the_list(admin_client: Client) -> None:
    suggestion = Lane().suggestion()
    response = admin_client.post(reject_url(suggestion), {"reason": "The contract ends in May."})
    assert response.status_code == 302 and response.url == reverse(CHANGELIST)
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.reject_reason) == (SuggestionStatus.REJECTED, "The contract ends in May.")
    assert suggestion.processed_by.username == "admin"
    assert any("Rejected the suggestion for" in m and review_url(suggestion) in m for m in _messages(response))
    [entry] = _log(suggestion)
    assert entry.action_flag == CHANGE and entry.get_change_message() == "Rejected: The contract ends in May."


def test_reject_needs_a_reason(admin_client: Client) -> None:
    suggestion = Lane().suggestion()
    response = admin_client.post(reject_url(suggestion), {"reason": "  "})
    assert response.status_code == 200 and b"This field is required." in response.content
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PENDING and not _log(suggestion)


def test_decision_urls_answer_get_with_the_review_page_and_change_view_refuses_post(admin_client: Client) -> None:
    suggestion = Lane().suggestion()
    response = admin_client.get(accept_url(suggestion))
    assert response.status_code == 302 and response.url == review_url(suggestion)
    assert admin_client.post(review_url(suggestion), {"status": "Accepted"}).status_code == 405
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PENDING


# --- Who may see and decide ------------------------------------------------------------------------


def _staff(*codenames: str) -> Client:
    user = f.UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_non_staff_and_users_without_permission_are_refused() -> None:
    suggestion = Lane().suggestion()
    outsider = Client()
    outsider.force_login(f.UserFactory(is_staff=False))
    for response in (
        outsider.get(review_url(suggestion)),
        outsider.post(accept_url(suggestion), {"name": "X"}),
        outsider.post(reject_url(suggestion), {"reason": "No."}),
    ):
        assert response.status_code == 302 and "/login/" in response.url

    nobody = _staff()
    assert nobody.get(review_url(suggestion)).status_code == 403
    assert nobody.post(accept_url(suggestion), {"name": "X"}).status_code == 403
    assert nobody.post(reject_url(suggestion), {"reason": "No."}).status_code == 403

    # View permission shows the page without the forms, and still may not decide.
    viewer = _staff("view_dedicatedlanesuggestion")
    response = viewer.get(review_url(suggestion))
    assert response.status_code == 200
    assert (
        b'id="accept-form"' not in response.content and b"may view this suggestion but not decide" in response.content
    )
    assert viewer.post(accept_url(suggestion), {"name": "X"}).status_code == 403
    assert viewer.post(reject_url(suggestion), {"reason": "No."}).status_code == 403
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PENDING

    # Change permission decides.
    planner = _staff("view_dedicatedlanesuggestion", "change_dedicatedlanesuggestion")
    assert b'id="accept-form"' in planner.get(review_url(suggestion)).content
    response = planner.post(accept_url(suggestion), {"name": "Planner lane"})
    assert response.status_code == 302
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.ACCEPTED


# --- The list --------------------------------------------------------------------------------------


def test_list_defaults_to_pending_and_all_is_reachable(admin_client: Client) -> None:
    pending = Lane().suggestion(suggested_name="OPEN-ONE")
    Lane().suggestion(rejected=True, suggested_name="NO-THANKS")
    Lane().suggestion(stale=True, suggested_name="TOO-LATE")
    response = admin_client.get(reverse(CHANGELIST))
    assert list(response.context["cl"].result_list) == [pending]
    content = response.content.decode()
    assert "Chicago, IL → Dallas, TX" in content and "Great Lakes Paper Co." in content
    assert "?status=all" in content

    every = admin_client.get(reverse(CHANGELIST), {"status": "all"})
    assert every.context["cl"].result_count == 3
    expired = admin_client.get(reverse(CHANGELIST), {"status": SuggestionStatus.EXPIRED})
    assert [s.suggested_name for s in expired.context["cl"].result_list] == ["TOO-LATE"]
    assert b"Pending (expired)" in expired.content


@pytest.mark.usefixtures("detected")
def test_list_shows_the_evidence_columns_without_wrapping_the_lane(admin_client: Client) -> None:
    content = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "Chicago, IL → Dallas, TX" in content
    assert "0.5/wk" in content  # 6 shipments in 90 days
    assert "$13,000" in content
    assert f"4 of {weeks_touched(start=timezone.now() - timedelta(days=90), end=timezone.now())}" in content
    assert "white-space: nowrap" in content and ".field-lane" in content


def test_no_delete_selected_action(admin_client: Client) -> None:
    Lane().suggestion()
    response = admin_client.get(reverse(CHANGELIST))
    actions = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions
    assert {"accept_selected", "reject_selected"} <= set(actions)


def test_ties_on_the_score_are_ranked_by_weeks_active_then_revenue_then_last_seen(admin_client: Client) -> None:
    now = timezone.now()

    def lane_with(weeks: list[int], revenue: str, last_days_ago: int = 1) -> DedicatedLaneSuggestion:
        lane = Lane()
        dates = [now - timedelta(days=7 * w + last_days_ago) for w in weeks]
        for when in dates:
            lane.ship(when)
        return lane.suggestion(
            confidence_score=Decimal("1.0000"),
            total_freight_charge=Decimal(revenue),
            first_shipment_date=min(dates),
            last_shipment_date=max(dates),
        )

    steady_rich = lane_with([0, 1, 2, 3], "9000")
    steady_poor = lane_with([0, 1, 2, 3], "5000")
    steady_poor_older = lane_with([0, 1, 2, 3], "5000", last_days_ago=3)
    bursty_rich = lane_with([0, 0, 0, 1], "20000")
    lower = Lane().suggestion(confidence_score=Decimal("0.9000"), total_freight_charge=Decimal("99999"))
    response = admin_client.get(reverse(CHANGELIST))
    ranked = list(response.context["cl"].result_list)
    assert {s.pk: s.weeks_active for s in ranked}[steady_rich.pk] == 4
    assert {s.pk: s.weeks_active for s in ranked}[bursty_rich.pk] == 2
    assert ranked == [steady_rich, steady_poor, steady_poor_older, bursty_rich, lower]


def test_weeks_active_with_exact_matching_counts_only_the_lanes_types(admin_client: Client) -> None:
    lane = Lane()
    now = timezone.now()
    dates = [now - timedelta(days=7 * w + 1) for w in range(3)]
    for when in dates:
        lane.ship(when)
    other_service = f.ServiceTypeFactory(organization=lane.org)
    lane.ship(now - timedelta(days=7 * 5 + 1), service_type=other_service)
    first, last = now - timedelta(days=7 * 5 + 1), max(dates)
    exact = lane.suggestion(
        first_shipment_date=first, last_shipment_date=last, pattern_details={"config": {"require_exact_match": True}}
    )
    response = admin_client.get(reverse(CHANGELIST))
    [row] = response.context["cl"].result_list
    assert row == exact and row.weeks_active == 3
    assert suggestion_review(suggestion_id=exact.pk).evidence.weeks_active == 3  # type: ignore[union-attr]
    DedicatedLaneSuggestion.objects.filter(pk=exact.pk).update(pattern_details={})
    [row] = admin_client.get(reverse(CHANGELIST)).context["cl"].result_list
    assert row.weeks_active == 4  # the route alone: the other service type counts too


# --- Query counts: the same for 3 and for 40 -------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    client.get(url)  # warm: session, content types, permissions
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_list_queries_do_not_grow_with_suggestions(admin_client: Client) -> None:
    lanes = [Lane() for _ in range(3)]
    for lane in lanes:
        lane.ship(timezone.now() - timedelta(days=3))
        lane.suggestion()
    few = _queries(admin_client, reverse(CHANGELIST))
    for _ in range(37):
        lane = Lane()
        lane.ship(timezone.now() - timedelta(days=3))
        lane.suggestion()
    assert DedicatedLaneSuggestion.objects.count() == 40
    many = _queries(admin_client, reverse(CHANGELIST))
    assert many == few
    assert few <= 8


def test_review_page_queries_do_not_grow_with_shipments(admin_client: Client) -> None:
    lane = Lane()
    now = timezone.now()
    for day in range(3):
        lane.ship(now - timedelta(days=day + 1))
    for _ in range(3):
        f.WorkerFactory(organization=lane.org)
    suggestion = lane.suggestion(first_shipment_date=now - timedelta(days=80), last_shipment_date=now)
    few = _queries(admin_client, review_url(suggestion))
    for day in range(37):
        lane.ship(now - timedelta(days=day * 2 + 4))
    for _ in range(37):
        f.WorkerFactory(organization=lane.org)
    review = suggestion_review(suggestion_id=suggestion.pk)
    assert review is not None and review.evidence.shipments == 40
    many = _queries(admin_client, review_url(suggestion))
    assert many == few
    assert few <= 8


def test_bulk_accept_and_reject_write_history(admin_client: Client) -> None:
    to_accept, to_reject = Lane().suggestion(suggested_name="BULK-A"), Lane().suggestion(suggested_name="BULK-R")
    selected = {"index": "0", "_selected_action": [str(to_accept.pk)]}
    admin_client.post(reverse(CHANGELIST), {"action": "accept_selected", **selected})
    to_accept.refresh_from_db()
    assert to_accept.status == SuggestionStatus.ACCEPTED
    assert [e.action_flag for e in _log(to_accept)] == [CHANGE]
    assert [e.action_flag for e in _log(to_accept.created_dedicated_lane)] == [ADDITION]

    selected = {"index": "0", "_selected_action": [str(to_reject.pk)], "apply": "1", "reason": "Not ours."}
    admin_client.post(reverse(CHANGELIST), {"action": "reject_selected", **selected})
    to_reject.refresh_from_db()
    assert to_reject.status == SuggestionStatus.REJECTED
    [entry] = _log(to_reject)
    assert entry.action_flag == CHANGE and entry.get_change_message() == "Rejected: Not ours."


def test_status_filter_counts_with_facets(admin_client: Client) -> None:
    Lane().suggestion()
    Lane().suggestion(rejected=True)
    content = admin_client.get(reverse(CHANGELIST), {"_facets": "True"}).content.decode()
    assert "All (2)" in content and "Pending (1)" in content and "Rejected (1)" in content
