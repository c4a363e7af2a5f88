"""Outgoing webhooks against a real receiver on 127.0.0.1: signed, retried, never redirected, never private."""

from __future__ import annotations

import json
import time

import pytest
from django.test import override_settings

from notifications.errors import (
    WebhookConfigError,
    WebhookDestinationError,
    WebhookRejectedError,
    WebhookUnavailableError,
)
from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from notifications.signing import SIGNATURE_HEADER, signature_header, signature_verify
from notifications.webhooks import (
    destination_resolve,
    webhook_deliver,
    webhook_delivery_redeliver,
    webhook_endpoint_create,
    webhook_event_emit,
    webhook_secret_rotate,
    webhook_url_check,
)
from tests.conftest import wait_for
from tests.notifications.conftest import Answer, Receiver
from tests.patterns.factories import OrganizationFactory, UserFactory
from trenova_jobs import JobRecord, JobStatus, enqueue

pytestmark = pytest.mark.django_db(transaction=True)


def _endpoint(receiver: Receiver, *events: str, organization=None) -> WebhookEndpoint:
    return webhook_endpoint_create(
        organization_id=(organization or OrganizationFactory()).pk,
        url=receiver.url,
        event_types=list(events or ["job.succeeded", "job.failed"]),
    )


def _emit(endpoint: WebhookEndpoint, event_type: str = "suggestion.created") -> WebhookDelivery:
    [delivery] = webhook_event_emit(
        organization_id=endpoint.organization_id, event_type=event_type, data={"suggestion": {"id": 7}}
    )
    return delivery


def _job_status(job_id: str) -> str:
    return JobRecord.objects.values_list("status", flat=True).get(pk=job_id)


def _job_settled(job_id: str, status: str) -> JobRecord:
    """The delivery row is written by the handler; the job record only once the handler has returned."""
    wait_for(lambda: _job_status(job_id) == status, timeout=15, message=f"job {job_id} to be {status}")
    return JobRecord.objects.get(pk=job_id)


def _settled(delivery: WebhookDelivery, status: str, timeout: float = 40) -> WebhookDelivery:
    wait_for(
        lambda: WebhookDelivery.objects.values_list("status", flat=True).get(pk=delivery.pk) == status,
        timeout=timeout,
        message=f"delivery {delivery.pk} to be {status}",
    )
    return WebhookDelivery.objects.get(pk=delivery.pk)


# --- Signing ---------------------------------------------------------------------------------------------


def test_signature_round_trip_and_tampering():
    body = b'{"id":"evt_1"}'
    header = signature_header(secret="whsec_s", timestamp=int(time.time()), body=body)
    assert signature_verify(secret="whsec_s", header=header, body=body)
    assert not signature_verify(secret="whsec_other", header=header, body=body)
    assert not signature_verify(secret="whsec_s", header=header, body=b'{"id":"evt_2"}')
    old = signature_header(secret="whsec_s", timestamp=int(time.time()) - 3600, body=body)
    assert not signature_verify(secret="whsec_s", header=old, body=body)
    for junk in ("", "t=abc,v1=00", "v1=00", "garbage"):
        assert not signature_verify(secret="whsec_s", header=junk, body=body)


# --- Delivery with a real worker ---------------------------------------------------------------------------


@pytest.mark.worker
def test_a_local_receiver_gets_a_correctly_signed_body(redis_conn, start_worker, receiver):
    endpoint = _endpoint(receiver, "suggestion.created")
    delivery = _emit(endpoint)
    start_worker()
    done = _settled(delivery, DeliveryStatus.SUCCEEDED)
    [request] = receiver.requests
    assert request.path == "/hooks/trenova"
    header = request.headers[SIGNATURE_HEADER]
    assert header.startswith("t=") and ",v1=" in header
    # Verify the HMAC by hand, as a receiver would: HMAC-SHA256(secret, "<t>." + body).
    import hashlib
    import hmac

    timestamp = header.split(",")[0].removeprefix("t=")
    expected = hmac.new(endpoint.secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert header.endswith(f"v1={expected}")
    body = json.loads(request.body)
    assert body["id"] == delivery.event_id == request.headers["Trenova-Event-Id"]
    assert body["type"] == "suggestion.created"
    assert body["data"] == {"suggestion": {"id": 7}}
    assert request.headers["Content-Type"] == "application/json"
    assert (done.attempts, done.last_status_code, done.error) == (1, 200, "")
    assert done.delivered_at is not None
    _job_settled(done.job_id, JobStatus.SUCCEEDED)


@pytest.mark.worker
def test_500_twice_then_200_makes_three_attempts_and_one_success(redis_conn, start_worker, receiver):
    receiver.script(Answer(500, b"down"), Answer(500, b"still down"), Answer(200))
    delivery = _emit(_endpoint(receiver, "suggestion.created"))
    start_worker()
    done = _settled(delivery, DeliveryStatus.SUCCEEDED, timeout=60)
    assert len(receiver.requests) == 3
    assert len({r.headers["Trenova-Event-Id"] for r in receiver.requests}) == 1  # one event id throughout
    assert done.attempts == 3
    attempts = list(done.attempt_log.values_list("number", "status_code"))
    assert attempts == [(1, 500), (2, 500), (3, 200)]
    assert "Answered 500: down" in done.attempt_log.get(number=1).error
    job = _job_settled(
        done.job_id, JobStatus.SUCCEEDED if done.status == DeliveryStatus.SUCCEEDED else JobStatus.FAILED
    )
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 3)


@pytest.mark.worker
def test_a_400_answer_fails_at_once_without_retry(redis_conn, start_worker, receiver):
    receiver.script(Answer(400, b"bad signature"))
    delivery = _emit(_endpoint(receiver, "suggestion.created"))
    start_worker()
    done = _settled(delivery, DeliveryStatus.FAILED)
    time.sleep(2.5)  # a retry (2 s backoff) would arrive here
    assert len(receiver.requests) == 1
    assert done.attempts == 1
    assert done.error.startswith("Answered 400: bad signature")
    job = _job_settled(
        done.job_id, JobStatus.SUCCEEDED if done.status == DeliveryStatus.SUCCEEDED else JobStatus.FAILED
    )
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)


@pytest.mark.worker
def test_a_redirect_is_not_followed(redis_conn, start_worker, receiver):
    receiver.script(Answer(302, b"", {"Location": "/elsewhere"}))
    delivery = _emit(_endpoint(receiver, "suggestion.created"))
    start_worker()
    done = _settled(delivery, DeliveryStatus.FAILED)
    time.sleep(0.5)
    assert [r.path for r in receiver.requests] == ["/hooks/trenova"]
    assert "redirects are not followed" in done.error
    assert "/elsewhere" in done.error


@pytest.mark.worker
def test_job_outcomes_are_events_for_subscribed_endpoints_only_and_deliveries_do_not_loop(
    redis_conn, start_worker, receiver
):
    org = OrganizationFactory()
    succeeded_hook = _endpoint(receiver, "job.succeeded", organization=org)
    failed_only = _endpoint(receiver, "job.failed", organization=org)
    _endpoint(receiver, "job.succeeded")  # another organization's endpoint
    start_worker()
    record = enqueue("system:noop", {"value": 7}, organization_id=org.pk, user=UserFactory())
    [delivery] = wait_for(lambda: list(WebhookDelivery.objects.filter(event_type="job.succeeded")), timeout=30)
    assert delivery.endpoint == succeeded_hook
    done = _settled(delivery, DeliveryStatus.SUCCEEDED)
    body = json.loads(receiver.requests[0].body)
    assert body["data"]["job"]["id"] == record.id
    assert body["data"]["job"]["result"] == {"value": 7}
    time.sleep(1.5)  # the delivery job's own success must not become another event
    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.requests) == 1
    assert not failed_only.deliveries.exists()
    _job_settled(done.job_id, JobStatus.SUCCEEDED)


# --- Refusals, in process (no request may leave) ------------------------------------------------------------


@override_settings(TRENOVA_WEBHOOKS_ALLOW_PRIVATE=False)
def test_a_url_on_a_private_address_is_refused_with_the_setting_off(redis_conn, receiver):
    with override_settings(TRENOVA_WEBHOOKS_ALLOW_PRIVATE=True):
        delivery = _emit(_endpoint(receiver, "suggestion.created"))
    with pytest.raises(WebhookRejectedError, match="private, loopback or link-local"):
        webhook_deliver(delivery_id=delivery.pk)
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and "127.0.0.1" in delivery.error
    # A name that resolves to loopback is refused at delivery; literal private addresses already when saved.
    with pytest.raises(WebhookDestinationError, match="localhost resolves to"):
        destination_resolve("http://localhost:9/x")
    for url in ("http://10.0.0.5/x", "http://169.254.169.254/latest", "http://[::1]/x", "http://[::ffff:127.0.0.1]/"):
        with pytest.raises(WebhookDestinationError):
            webhook_url_check(url)


@override_settings(TRENOVA_WEBHOOKS_ALLOW_HTTP=False)
def test_plain_http_and_credentials_are_refused_when_registering():
    org = OrganizationFactory()
    with pytest.raises(WebhookDestinationError, match="must use https"):
        webhook_endpoint_create(organization_id=org.pk, url="http://hooks.example.com/x", event_types=["job.failed"])
    with pytest.raises(WebhookDestinationError, match="credentials"):
        webhook_url_check("https://user:pw@hooks.example.com/x")
    with pytest.raises(WebhookConfigError, match="Unknown event types"):
        webhook_endpoint_create(organization_id=org.pk, url="https://hooks.example.com/x", event_types=["job.done"])
    with pytest.raises(WebhookConfigError, match="at least one"):
        webhook_endpoint_create(organization_id=org.pk, url="https://hooks.example.com/x", event_types=[])
    assert WebhookEndpoint.objects.count() == 0


@override_settings(TRENOVA_WEBHOOKS_TIMEOUT=0.5)
def test_a_receiver_that_does_not_answer_in_time_is_retried(redis_conn, receiver):
    receiver.script(Answer(200, delay=2))
    delivery = _emit(_endpoint(receiver, "suggestion.created"))
    started = time.monotonic()
    with pytest.raises(WebhookUnavailableError, match=r"No answer within 0\.5 s"):
        webhook_deliver(delivery_id=delivery.pk)
    assert time.monotonic() - started < 1.5
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, None)


def test_a_closed_port_is_a_retryable_connection_error(redis_conn):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = webhook_endpoint_create(
        organization_id=OrganizationFactory().pk, url=f"http://127.0.0.1:{port}/x", event_types=["suggestion.created"]
    )
    delivery = _emit(endpoint)
    with pytest.raises(WebhookUnavailableError, match="Could not reach the endpoint"):
        webhook_deliver(delivery_id=delivery.pk)


def test_a_delivered_event_is_not_sent_again_and_redeliver_sends_the_same_event_id(redis_conn, receiver):
    delivery = _emit(_endpoint(receiver, "suggestion.created"))
    assert webhook_deliver(delivery_id=delivery.pk)["status_code"] == 200
    assert webhook_deliver(delivery_id=delivery.pk)["already_delivered"] is True
    assert len(receiver.requests) == 1
    job = webhook_delivery_redeliver(delivery=delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.job_id) == (DeliveryStatus.PENDING, job.id)
    webhook_deliver(delivery_id=delivery.pk)
    assert [r.headers["Trenova-Event-Id"] for r in receiver.requests] == [delivery.event_id] * 2


def test_disabled_endpoints_get_nothing_new_and_rotation_changes_the_signature(redis_conn, receiver):
    endpoint = _endpoint(receiver, "suggestion.created")
    old_secret = endpoint.secret
    new_secret = webhook_secret_rotate(endpoint=endpoint)
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    delivery = _emit(endpoint)
    webhook_deliver(delivery_id=delivery.pk)
    request = receiver.requests[0]
    assert signature_verify(secret=new_secret, header=request.headers[SIGNATURE_HEADER], body=request.body)
    assert not signature_verify(secret=old_secret, header=request.headers[SIGNATURE_HEADER], body=request.body)
    endpoint.is_enabled = False
    endpoint.save()
    assert webhook_event_emit(organization_id=endpoint.organization_id, event_type="suggestion.created", data={}) == []


def test_an_event_rolled_back_with_its_transaction_sends_nothing(redis_conn, receiver):
    from django.db import transaction

    endpoint = _endpoint(receiver, "suggestion.created")
    with pytest.raises(RuntimeError), transaction.atomic():
        _emit(endpoint)
        raise RuntimeError("the change the event reports did not commit")
    assert WebhookDelivery.objects.count() == 0
    assert not JobRecord.objects.filter(job_type="notification:webhook").exists()


def test_the_readme_receiver_recipe_verifies_our_signature():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("def trenova_signature_ok")
    code = readme[readme.rindex("```python", 0, start) + len("```python") : readme.index("```", start)]
    namespace: dict = {}
    exec(code, namespace)
    check = namespace["trenova_signature_ok"]
    body = b'{"id":"evt_1","type":"job.failed"}'
    header = signature_header(secret="whsec_readme", timestamp=int(time.time()), body=body)
    assert check("whsec_readme", header, body) is True
    assert check("whsec_other", header, body) is False
    assert check("whsec_readme", header, body + b" ") is False
    assert check("whsec_readme", "t=nope,v1=00", body) is False
