"""Shared helpers for API tests: users in organizations, authenticated clients, the error shape."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from patterns.models import Membership, Organization
from tests.patterns.factories import OrganizationFactory, UserFactory


def member(organization: Organization | None = None, *, staff: bool = False, org_admin: bool = False, **fields: Any):
    """A user with a membership in ``organization`` (a new one if not given)."""
    user = UserFactory(organization=organization or OrganizationFactory(), is_staff=staff, **fields)
    if org_admin:
        Membership.objects.filter(user=user).update(is_org_admin=True)
    return user


def client_for(user: Any | None) -> APIClient:
    """An API client authenticated with the user's token (anonymous for None)."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def assert_error(response: Any, status: int, code: str, *, field: str | None = None) -> dict[str, Any]:
    """The response is an error in the one shape, with this status and code (and a message for ``field``)."""
    assert response.status_code == status, (response.status_code, getattr(response, "data", response.content))
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"], body
    if field is not None:
        assert field in body["error"]["fields"], body
    return body["error"]


def count_queries(call: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)
