"""The notifications API: the caller's own notifications, and the organization's webhook endpoints (admins only)."""

from __future__ import annotations

import pytest

from notifications.models import DeliveryStatus, Notification, WebhookDelivery, WebhookEndpoint
from notifications.webhooks import DELIVERY_JOB_TYPE, webhook_endpoint_create
from tests.api.helpers import assert_error, client_for, count_queries, member
from tests.patterns.factories import UserFactory
from trenova_jobs import JobRecord

pytestmark = pytest.mark.django_db

NOTIFICATION_FIELDS = {
    "id",
    "event_type",
    "priority",
    "title",
    "message",
    "data",
    "tags",
    "job_id",
    "job_url",
    "outcome",
    "read_at",
    "dismissed_at",
    "created_at",
}
ENDPOINT_FIELDS = {
    "id",
    "url",
    "description",
    "event_types",
    "is_enabled",
    "secret_hint",
    "secret_rotated_at",
    "created_at",
    "updated_at",
    "recent_deliveries",
}
DELIVERY_FIELDS = {
    "id",
    "event_id",
    "event_type",
    "status",
    "attempts",
    "last_status_code",
    "error",
    "created_at",
    "delivered_at",
}
URL = "https://hooks.example.com/trenova"


def _notify(user, title: str = "Hello", **fields) -> Notification:
    return Notification.objects.create(user=user, event_type="job.test", title=title, message="m", **fields)


def _admin():
    return member(org_admin=True)


def _endpoint(user, url: str = URL, event_types=("job.failed",), **fields) -> WebhookEndpoint:
    return webhook_endpoint_create(
        organization_id=user.membership.organization_id, url=url, event_types=list(event_types), **fields
    )


def _delivery(endpoint: WebhookEndpoint, n: int, **fields) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        event_id=f"evt_{endpoint.pk}_{n}", event_type="job.failed", endpoint=endpoint, payload={"n": n}, **fields
    )


# --- Notifications ---------------------------------------------------------------------------------------

NOTIFICATION_CALLS = [
    ("get", "/api/v1/notifications/"),
    ("get", "/api/v1/notifications/unread-count/"),
    ("post", "/api/v1/notifications/read-all/"),
    ("post", "/api/v1/notifications/{id}/read/"),
    ("post", "/api/v1/notifications/{id}/dismiss/"),
]


@pytest.mark.parametrize(("method", "path"), NOTIFICATION_CALLS)
def test_notification_endpoints_are_401_anonymous_and_403_without_membership(method, path):
    outsider = UserFactory()
    notification = _notify(outsider)
    url = path.format(id=notification.pk)
    assert_error(getattr(client_for(None), method)(url), 401, "not_authenticated")
    error = assert_error(getattr(client_for(outsider), method)(url), 403, "permission_denied")
    assert "membership" in error["message"]
    notification.refresh_from_db()
    assert notification.read_at is None and notification.dismissed_at is None


def test_the_list_is_the_callers_own_newest_first_with_the_unread_count():
    user = member()
    colleague = member(user.membership.organization)
    first = _notify(user, "first", read_at="2025-01-01T00:00:00Z")
    second = _notify(user, "second", job_id="job_01ABC", outcome="succeeded", tags=["patterns"], data={"k": 1})
    _notify(user, "dismissed", read_at="2025-01-01T00:00:00Z", dismissed_at="2025-01-01T00:00:00Z")
    _notify(colleague, "the colleague's")
    body = client_for(user).get("/api/v1/notifications/").json()
    assert set(body) == {"count", "next", "previous", "results", "unread_count"}
    assert [row["title"] for row in body["results"]] == ["second", "first"]
    assert (body["count"], body["unread_count"]) == (2, 1)
    row = body["results"][0]
    assert set(row) == NOTIFICATION_FIELDS
    assert row["id"] == second.pk
    assert (row["job_id"], row["job_url"], row["outcome"]) == ("job_01ABC", "/api/v1/jobs/job_01ABC/", "succeeded")
    assert (row["tags"], row["data"], row["read_at"]) == (["patterns"], {"k": 1}, None)
    assert body["results"][1]["id"] == first.pk
    assert (body["results"][1]["job_url"], body["results"][1]["job_id"]) == (None, "")


def test_the_unread_filter_and_its_validation():
    user = member()
    _notify(user, "read", read_at="2025-01-01T00:00:00Z")
    _notify(user, "unread")
    client = client_for(user)
    titles = lambda query: [row["title"] for row in client.get(f"/api/v1/notifications/{query}").json()["results"]]  # noqa: E731
    assert titles("?unread=true") == ["unread"]
    assert titles("?unread=false") == ["read"]
    assert titles("") == ["unread", "read"]
    body = client.get("/api/v1/notifications/?unread=false").json()
    assert body["unread_count"] == 1  # the count is the caller's, whatever the filter
    assert_error(client.get("/api/v1/notifications/?unread=maybe"), 400, "validation_error", field="unread")


def test_unread_count_is_cheap_and_the_callers_own():
    user = member()
    for _ in range(3):
        _notify(user)
    _notify(user, read_at="2025-01-01T00:00:00Z")
    _notify(member(user.membership.organization))
    client = client_for(user)
    response = client.get("/api/v1/notifications/unread-count/")
    assert response.status_code == 200
    assert response.json() == {"unread_count": 3}
    assert count_queries(lambda: client.get("/api/v1/notifications/unread-count/")) <= 3  # token, membership, count


def test_read_and_dismiss_ones_own_notification():
    user = member()
    notification = _notify(user)
    client = client_for(user)
    read = client.post(f"/api/v1/notifications/{notification.pk}/read/")
    assert read.status_code == 200
    assert read.json()["read_at"] is not None and read.json()["dismissed_at"] is None
    assert client.post(f"/api/v1/notifications/{notification.pk}/read/").json()["read_at"] == read.json()["read_at"]
    other = _notify(user)
    dismissed = client.post(f"/api/v1/notifications/{other.pk}/dismiss/")
    assert dismissed.status_code == 200
    assert set(dismissed.json()) == NOTIFICATION_FIELDS
    assert dismissed.json()["dismissed_at"] is not None and dismissed.json()["read_at"] is not None
    assert [row["id"] for row in client.get("/api/v1/notifications/").json()["results"]] == [notification.pk]


@pytest.mark.parametrize("action", ["read", "dismiss"])
def test_another_users_notification_is_404_and_untouched(action):
    owner = member()
    colleague = member(owner.membership.organization, org_admin=True, staff=True)
    notification = _notify(owner)
    assert_error(client_for(colleague).post(f"/api/v1/notifications/{notification.pk}/{action}/"), 404, "not_found")
    assert_error(client_for(owner).post(f"/api/v1/notifications/999999/{action}/"), 404, "not_found")
    notification.refresh_from_db()
    assert notification.read_at is None and notification.dismissed_at is None


def test_read_all_marks_the_callers_unread_and_says_how_many():
    user = member()
    other = member(user.membership.organization)
    for _ in range(3):
        _notify(user)
    _notify(user, read_at="2025-01-01T00:00:00Z")
    theirs = _notify(other)
    client = client_for(user)
    response = client.post("/api/v1/notifications/read-all/")
    assert (response.status_code, response.json()) == (200, {"marked": 3})
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 0}
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread_count": 0}
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_notification_list_costs_the_same_queries_for_3_and_30_rows():
    user = member()
    client = client_for(user)
    for _ in range(3):
        _notify(user, job_id="", tags=["a"])
    few = count_queries(lambda: client.get("/api/v1/notifications/?page_size=100"))
    for n in range(27):
        _notify(user, job_id=f"job_{n}", outcome="failed")
    many = count_queries(lambda: client.get("/api/v1/notifications/?page_size=100"))
    assert len(client.get("/api/v1/notifications/?page_size=100").json()["results"]) == 30
    assert many == few <= 5  # token, membership, count, page, unread count


# --- Webhook endpoints -----------------------------------------------------------------------------------

WEBHOOK_CALLS = [
    ("get", "/api/v1/webhooks/"),
    ("post", "/api/v1/webhooks/"),
    ("get", "/api/v1/webhooks/{id}/"),
    ("put", "/api/v1/webhooks/{id}/"),
    ("patch", "/api/v1/webhooks/{id}/"),
    ("delete", "/api/v1/webhooks/{id}/"),
    ("post", "/api/v1/webhooks/{id}/rotate-secret/"),
    ("post", "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver/"),
]
WRITE_BODY = {"url": "https://other.example.com/hook", "event_types": ["job.succeeded"]}


@pytest.mark.parametrize(("method", "path"), WEBHOOK_CALLS)
def test_webhooks_are_for_organization_admins_only(method, path):
    admin = _admin()
    endpoint = _endpoint(admin)
    delivery = _delivery(endpoint, 1)
    url = path.format(id=endpoint.pk, delivery=delivery.pk)
    body = WRITE_BODY if method in ("post", "put", "patch") else None
    call = lambda client: getattr(client, method)(url, body, format="json")  # noqa: E731
    assert_error(call(client_for(None)), 401, "not_authenticated")
    assert "membership" in assert_error(call(client_for(UserFactory())), 403, "permission_denied")["message"]
    planner = member(admin.membership.organization, staff=True)  # staff, but no organization admin
    assert "administrators" in assert_error(call(client_for(planner)), 403, "permission_denied")["message"]
    unchanged = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (unchanged.url, unchanged.secret) == (endpoint.url, endpoint.secret)
    assert WebhookEndpoint.objects.filter(organization_id=admin.membership.organization_id).count() == 1


def test_create_shows_the_secret_once_and_nowhere_else():
    admin = _admin()
    client = client_for(admin)
    response = client.post(
        "/api/v1/webhooks/",
        {"url": URL, "event_types": ["suggestion.created", "job.failed", "job.failed"], "description": "ERP"},
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert set(created) == {*ENDPOINT_FIELDS, "secret"}
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert endpoint.organization_id == admin.membership.organization_id
    assert created["secret"] == endpoint.secret and created["secret"].startswith("whsec_")
    assert created["secret_hint"] == endpoint.secret_hint and created["secret_hint"].endswith(endpoint.secret[-4:])
    assert created["event_types"] == ["job.failed", "suggestion.created"]  # the service's order, no duplicates
    assert (created["description"], created["is_enabled"], created["recent_deliveries"]) == ("ERP", True, [])
    for response in (
        client.get("/api/v1/webhooks/"),
        client.get(f"/api/v1/webhooks/{endpoint.pk}/"),
        client.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"description": "ERP 2"}),
        client.put(f"/api/v1/webhooks/{endpoint.pk}/", {"url": URL, "event_types": ["job.failed"]}),
    ):
        assert response.status_code == 200, response.json()
        assert endpoint.secret not in response.content.decode()
        assert "secret" not in (response.json()["results"][0] if "results" in response.json() else response.json())
    endpoint.refresh_from_db()
    assert endpoint.secret == created["secret"]  # updates keep it


def test_disabled_at_creation_and_the_defaults():
    client = client_for(_admin())
    body = client.post("/api/v1/webhooks/", {"url": URL, "event_types": ["job.failed"], "is_enabled": False}).json()
    assert (body["is_enabled"], body["description"]) == (False, "")


def test_list_and_retrieve_are_scoped_to_the_organization():
    admin, stranger = _admin(), _admin()
    mine = _endpoint(admin, url="https://b.example.com/")
    mine_too = _endpoint(admin, url="https://a.example.com/")
    theirs = _endpoint(stranger)
    client = client_for(admin)
    body = client.get("/api/v1/webhooks/").json()
    assert [row["id"] for row in body["results"]] == [mine_too.pk, mine.pk]  # by URL
    assert body["count"] == 2
    assert set(body["results"][0]) == ENDPOINT_FIELDS
    assert client.get(f"/api/v1/webhooks/{mine.pk}/").json()["url"] == "https://b.example.com/"
    assert_error(client.get(f"/api/v1/webhooks/{theirs.pk}/"), 404, "not_found")
    assert_error(client.get("/api/v1/webhooks/999999/"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/webhooks/{id}/"),
        ("put", "/api/v1/webhooks/{id}/"),
        ("patch", "/api/v1/webhooks/{id}/"),
        ("delete", "/api/v1/webhooks/{id}/"),
        ("post", "/api/v1/webhooks/{id}/rotate-secret/"),
        ("post", "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver/"),
    ],
)
def test_another_organizations_endpoint_is_404_and_untouched(method, path):
    admin, stranger = _admin(), _admin()
    theirs = _endpoint(stranger)
    delivery = _delivery(theirs, 1, status=DeliveryStatus.FAILED)
    body = WRITE_BODY if method in ("post", "put", "patch") else None
    url = path.format(id=theirs.pk, delivery=delivery.pk)
    assert_error(getattr(client_for(admin), method)(url, body, format="json"), 404, "not_found")
    unchanged = WebhookEndpoint.objects.get(pk=theirs.pk)
    assert (unchanged.url, unchanged.event_types, unchanged.secret) == (theirs.url, theirs.event_types, theirs.secret)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.job_id == ""


def test_update_replaces_with_put_and_changes_some_with_patch():
    admin = _admin()
    endpoint = _endpoint(admin, description="ERP", event_types=["job.failed", "job.succeeded"])
    client = client_for(admin)
    patched = client.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"is_enabled": False})
    assert patched.status_code == 200
    assert (patched.json()["is_enabled"], patched.json()["description"]) == (False, "ERP")
    assert patched.json()["event_types"] == ["job.succeeded", "job.failed"]
    put = client.put(
        f"/api/v1/webhooks/{endpoint.pk}/", {"url": "https://new.example.com/", "event_types": ["suggestion.accepted"]}
    )
    assert put.status_code == 200
    row = put.json()
    assert (row["url"], row["event_types"]) == ("https://new.example.com/", ["suggestion.accepted"])
    assert (row["description"], row["is_enabled"]) == ("", True)  # PUT: what is left out takes its default
    assert_error(client.put(f"/api/v1/webhooks/{endpoint.pk}/", {"description": "x"}), 400, "validation_error")


def test_validation_errors_are_field_errors_and_change_nothing(settings):
    admin = _admin()
    endpoint = _endpoint(admin)
    client = client_for(admin)
    create = lambda body: client.post("/api/v1/webhooks/", body)  # noqa: E731
    patch = lambda body: client.patch(f"/api/v1/webhooks/{endpoint.pk}/", body)  # noqa: E731
    error = assert_error(create({"url": URL, "event_types": ["job.exploded"]}), 400, "validation_error")
    assert "job.exploded" in error["fields"]["event_types"][0]
    assert_error(create({"url": URL, "event_types": []}), 400, "validation_error", field="event_types")
    assert_error(create({"url": URL, "event_types": "job.failed"}), 400, "validation_error", field="event_types")
    missing = assert_error(create({}), 400, "validation_error")
    assert set(missing["fields"]) == {"url", "event_types"}
    assert_error(create({"url": "not a url", "event_types": ["job.failed"]}), 400, "validation_error", field="url")
    assert_error(
        create({"url": "https://user:pw@example.com/", "event_types": ["job.failed"]}),
        400,
        "validation_error",
        field="url",
    )
    assert_error(patch({"event_types": []}), 400, "validation_error", field="event_types")
    assert_error(patch({"event_types": ["nope"]}), 400, "validation_error", field="event_types")
    assert_error(patch({"description": "x" * 201}), 400, "validation_error", field="description")
    settings.TRENOVA_WEBHOOKS_ALLOW_HTTP = False
    settings.TRENOVA_WEBHOOKS_ALLOW_PRIVATE = False
    error = assert_error(create({"url": "http://example.com/", "event_types": ["job.failed"]}), 400, "validation_error")
    assert error["fields"]["url"] == ["Webhook URLs must use https."]
    assert_error(patch({"url": "http://example.com/"}), 400, "validation_error", field="url")
    for private in ("https://10.1.2.3/hook", "https://127.0.0.1:8443/", "https://[::1]/", "https://169.254.169.254/"):
        error = assert_error(create({"url": private, "event_types": ["job.failed"]}), 400, "validation_error")
        assert "private" in error["fields"]["url"][0], error
        assert_error(patch({"url": private}), 400, "validation_error", field="url")
    assert WebhookEndpoint.objects.count() == 1
    unchanged = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (unchanged.url, unchanged.event_types, unchanged.description) == (URL, ["job.failed"], "")


def test_delete_removes_the_endpoint_and_its_deliveries():
    admin = _admin()
    endpoint = _endpoint(admin)
    _delivery(endpoint, 1)
    client = client_for(admin)
    response = client.delete(f"/api/v1/webhooks/{endpoint.pk}/")
    assert (response.status_code, response.content) == (204, b"")
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.filter(endpoint_id=endpoint.pk).exists()
    assert_error(client.delete(f"/api/v1/webhooks/{endpoint.pk}/"), 404, "not_found")


def test_rotate_shows_the_new_secret_once():
    admin = _admin()
    endpoint = _endpoint(admin)
    old = endpoint.secret
    client = client_for(admin)
    response = client.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/")
    assert response.status_code == 200
    assert set(response.json()) == {"secret"}
    new = response.json()["secret"]
    endpoint.refresh_from_db()
    assert new != old and new == endpoint.secret and new.startswith("whsec_")
    shown = client.get(f"/api/v1/webhooks/{endpoint.pk}/")
    assert new not in shown.content.decode()
    assert shown.json()["secret_hint"] == endpoint.secret_hint
    assert shown.json()["secret_rotated_at"] is not None


def test_each_endpoint_shows_its_last_ten_deliveries_newest_first():
    admin = _admin()
    endpoint, quiet = _endpoint(admin, url="https://a.example.com/"), _endpoint(admin, url="https://b.example.com/")
    deliveries = [_delivery(endpoint, n) for n in range(12)]
    WebhookDelivery.objects.filter(pk=deliveries[-1].pk).update(
        status=DeliveryStatus.FAILED, attempts=2, last_status_code=500, error="Answered 500."
    )
    client = client_for(admin)
    rows = {row["id"]: row for row in client.get("/api/v1/webhooks/").json()["results"]}
    recent = rows[endpoint.pk]["recent_deliveries"]
    assert [row["id"] for row in recent] == [d.pk for d in reversed(deliveries[2:])]
    assert set(recent[0]) == DELIVERY_FIELDS
    assert (recent[0]["status"], recent[0]["attempts"], recent[0]["last_status_code"]) == ("failed", 2, 500)
    assert (recent[0]["event_id"], recent[0]["event_type"]) == (deliveries[-1].event_id, "job.failed")
    assert rows[quiet.pk]["recent_deliveries"] == []
    detail = client.get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    assert [row["id"] for row in detail["recent_deliveries"]] == [row["id"] for row in recent]


def test_the_endpoint_list_costs_the_same_queries_for_3_and_30_endpoints():
    admin = _admin()
    client = client_for(admin)

    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            endpoint = _endpoint(admin, url=f"https://e{n:02}.example.com/")
            for k in range(3):
                _delivery(endpoint, k)

    add(3, 0)
    few = count_queries(lambda: client.get("/api/v1/webhooks/?page_size=100"))
    add(27, 3)
    many = count_queries(lambda: client.get("/api/v1/webhooks/?page_size=100"))
    body = client.get("/api/v1/webhooks/?page_size=100").json()
    assert len(body["results"]) == 30 and all(len(row["recent_deliveries"]) == 3 for row in body["results"])
    assert many == few <= 5  # token, membership, count, page, the page's deliveries


def test_redeliver_starts_a_new_job_for_a_delivery_of_the_endpoint(redis_conn):
    admin = _admin()
    endpoint, other = _endpoint(admin, url="https://a.example.com/"), _endpoint(admin, url="https://b.example.com/")
    delivery = _delivery(endpoint, 1, status=DeliveryStatus.FAILED, error="Answered 500.")
    elsewhere = _delivery(other, 1)
    client = client_for(admin)
    response = client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 202, response.json()
    job = response.json()
    assert set(job) == {"id", "url", "job_type", "queue", "status", "created_at"}
    assert response["Location"] == job["url"] == f"/api/v1/jobs/{job['id']}/"
    record = JobRecord.objects.get(pk=job["id"])
    assert (record.job_type, record.payload) == (DELIVERY_JOB_TYPE, {"delivery_id": delivery.pk})
    assert record.organization_id == admin.membership.organization_id
    delivery.refresh_from_db()
    assert (delivery.status, delivery.job_id, delivery.error) == (DeliveryStatus.PENDING, job["id"], "")
    # A delivery of another endpoint (even of the same organization) is not found under this one.
    assert_error(client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{elsewhere.pk}/redeliver/"), 404, "not_found")
    assert_error(client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/999999/redeliver/"), 404, "not_found")
    assert client.get(f"/api/v1/jobs/{job['id']}/").status_code == 200  # the job is the organization's
