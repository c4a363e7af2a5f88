"""Schemathesis against the live OpenAPI schema: generated requests to every operation, as an authenticated
organization admin (staff), must never get a server error and every response must match the schema.

Examples per operation are bounded (``FUZZ_EXAMPLES``) so that the suite's time budget holds.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import ignored_auth

from tests.api.helpers import member
from tests.patterns.factories import DedicatedLaneSuggestionFactory, ShipmentFactory

FUZZ_EXAMPLES = int(os.environ.get("TRENOVA_FUZZ_EXAMPLES", "25"))


@pytest.fixture
def api_schema(db, redis_conn):
    # As Django's test client does: a WSGI request must not close the test's connection (and its transaction).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.from_wsgi("/api/v1/schema/", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(db, redis_conn) -> str:
    user = member(staff=True, org_admin=True)
    organization = user.membership.organization
    # Some data to find, so that object endpoints have something behind them.
    DedicatedLaneSuggestionFactory(organization=organization)
    ShipmentFactory(organization=organization, business_unit=user.membership.business_unit)
    return Token.objects.create(user=user).key


schema = schemathesis.from_pytest_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@pytest.mark.django_db
def test_no_server_errors_and_responses_match_the_schema(case, token):
    cache.clear()  # throttling: each example starts with a fresh allowance
    response = case.call_wsgi(headers={"Authorization": f"Token {token}"})
    # ignored_auth re-sends the request with our header still on it; 401s are asserted per endpoint instead.
    case.validate_response(response, excluded_checks=[ignored_auth])
