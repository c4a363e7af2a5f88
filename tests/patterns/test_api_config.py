"""GET/PUT /api/v1/pattern-config/: the caller's organization's settings; ranges checked, admins change them."""

from __future__ import annotations

import pytest

from patterns.models import ANALYSIS_WINDOW_DAYS, MIN_FREQUENCY, PatternConfig
from tests.api.helpers import assert_error, client_for, member
from tests.patterns import factories as f

pytestmark = pytest.mark.django_db

URL = "/api/v1/pattern-config/"
DEFAULTS = {
    "enabled": True,
    "min_frequency": 3,
    "analysis_window_days": 90,
    "min_confidence_score": "0.7000",
    "suggestion_ttl_days": 30,
    "require_exact_match": False,
    "weight_recent_shipments": True,
    "rejection_cooldown_days": 30,
}


@pytest.fixture
def admin():
    return member(org_admin=True)


def test_an_organization_without_a_configuration_reads_the_defaults_and_nothing_is_written():
    user = member()
    body = client_for(user).get(URL).json()
    assert body == {"organization_id": user.membership.organization_id, **DEFAULTS}
    assert not PatternConfig.objects.exists()


def test_the_saved_configuration_is_read():
    user = member()
    f.PatternConfigFactory(organization=user.membership.organization, min_frequency=7, enabled=False)
    f.PatternConfigFactory(min_frequency=50)  # another organization's
    body = client_for(user).get(URL).json()
    assert (body["min_frequency"], body["enabled"]) == (7, False)


def test_an_admin_changes_the_settings_given_and_keeps_the_others(admin):
    org = admin.membership.organization
    client = client_for(admin)
    response = client.put(URL, {"min_frequency": 5, "min_confidence_score": "0.85", "require_exact_match": True})
    assert response.status_code == 200, response.json()
    expected = {**DEFAULTS, "min_frequency": 5, "min_confidence_score": "0.8500", "require_exact_match": True}
    assert response.json() == {"organization_id": org.pk, **expected}
    config = PatternConfig.objects.get(organization=org)
    assert (config.min_frequency, config.require_exact_match) == (5, True)
    again = client.put(URL, {"analysis_window_days": ANALYSIS_WINDOW_DAYS.high}).json()
    assert (again["analysis_window_days"], again["min_frequency"]) == (ANALYSIS_WINDOW_DAYS.high, 5)
    assert client.get(URL).json() == again
    assert PatternConfig.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"min_frequency": MIN_FREQUENCY.low - 1}, "min_frequency"),
        ({"min_frequency": MIN_FREQUENCY.high + 1}, "min_frequency"),
        ({"analysis_window_days": 0}, "analysis_window_days"),
        ({"analysis_window_days": 366}, "analysis_window_days"),
        ({"min_confidence_score": "1.5"}, "min_confidence_score"),
        ({"min_confidence_score": "-0.1"}, "min_confidence_score"),
        ({"min_confidence_score": "0.123456"}, "min_confidence_score"),
        ({"suggestion_ttl_days": 0}, "suggestion_ttl_days"),
        ({"rejection_cooldown_days": -1}, "rejection_cooldown_days"),
        ({"rejection_cooldown_days": 366}, "rejection_cooldown_days"),
        ({"enabled": "maybe"}, "enabled"),
    ],
)
def test_a_value_out_of_range_is_a_400_and_nothing_is_saved(admin, body, field):
    assert_error(client_for(admin).put(URL, body), 400, "validation_error", field=field)
    assert not PatternConfig.objects.exists()


def test_the_range_ends_are_allowed(admin):
    client = client_for(admin)
    body = {"min_frequency": MIN_FREQUENCY.high, "min_confidence_score": "1", "rejection_cooldown_days": 0}
    assert client.put(URL, body).status_code == 200
    body = {"min_frequency": MIN_FREQUENCY.low, "min_confidence_score": "0", "suggestion_ttl_days": 365}
    assert client.put(URL, body).status_code == 200


def test_only_organization_admins_change_it():
    planner = member()
    assert_error(client_for(planner).put(URL, {"min_frequency": 5}), 403, "permission_denied")
    assert not PatternConfig.objects.exists()


def test_anonymous_is_401_without_membership_403_and_bodies_must_be_json(admin):
    assert_error(client_for(None).get(URL), 401, "not_authenticated")
    assert_error(client_for(None).put(URL, {}), 401, "not_authenticated")
    assert_error(client_for(f.UserFactory()).get(URL), 403, "permission_denied")
    assert_error(client_for(f.UserFactory()).put(URL, {}), 403, "permission_denied")
    client = client_for(admin)
    assert_error(
        client.put(URL, "min_frequency=5", content_type="application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    )
    assert_error(client.put(URL, "{", content_type="application/json"), 400, "parse_error")
    assert_error(client.post(URL, {}), 405, "method_not_allowed")
