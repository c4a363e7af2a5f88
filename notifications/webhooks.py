"""Outgoing webhooks: endpoints, events turned into one delivery job per endpoint, and the signed request.

An event (``webhook_event_emit``) is written in the caller's transaction as one ``WebhookDelivery`` per
subscribed endpoint plus one ``notification:webhook`` job each, so it is sent only if what it reports
committed, and at least once after that (the job service retries with backoff and recovers crashed
workers). The body carries the event id, the same for every endpoint and every attempt, by which a
receiver de-duplicates.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.db import transaction
from django.db.models import Case, F, TextField, Value, When
from django.utils import timezone
from ulid import ULID

from notifications.conf import webhooks_allow_http, webhooks_allow_private, webhooks_timeout
from notifications.errors import (
    WebhookConfigError,
    WebhookDestinationError,
    WebhookRejectedError,
    WebhookUnavailableError,
)
from notifications.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
    webhook_secret_new,
)
from notifications.selectors import webhook_endpoints_for_event
from notifications.signing import SIGNATURE_HEADER, signature_header
from trenova_jobs import JobRecord, enqueue

logger = logging.getLogger("notifications")

DELIVERY_JOB_TYPE = "notification:webhook"
USER_AGENT = "Trenova-Webhooks/1"
# How much of an answer's body is kept as the error text.
ERROR_BODY_LIMIT = 500
# Answers that may pass on another try; any other 4xx will not.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})


# --- Endpoints -------------------------------------------------------------------------------------------


def webhook_url_check(url: str) -> None:
    """Refuse a URL that can never be delivered to (``WebhookDestinationError``), without resolving it.

    What its name resolves to is checked again at every delivery, where it is connected to.
    """
    parts = urlsplit(url)
    allowed = ("https", "http") if webhooks_allow_http() else ("https",)
    if parts.scheme not in allowed:
        raise WebhookDestinationError(
            "Webhook URLs must use https." if not webhooks_allow_http() else "Webhook URLs must use http or https."
        )
    if not parts.hostname:
        raise WebhookDestinationError("The webhook URL has no host name.")
    if parts.username or parts.password:
        raise WebhookDestinationError("The webhook URL must not carry credentials; sign with the secret instead.")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    _address_check(literal, parts.hostname)


def _event_types_check(event_types: Any) -> list[str]:
    if not isinstance(event_types, list | tuple) or not event_types:
        raise WebhookConfigError("Choose at least one event type.")
    unknown = [value for value in event_types if value not in WebhookEventType.values]
    if unknown:
        raise WebhookConfigError(f"Unknown event types {unknown}; choose from {', '.join(WebhookEventType.values)}.")
    return sorted(set(event_types), key=WebhookEventType.values.index)


def webhook_endpoint_create(
    *, organization_id: int, url: str, event_types: list[str], description: str = "", is_enabled: bool = True
) -> WebhookEndpoint:
    """Register an endpoint with a fresh secret (read it from the returned object: it is shown once)."""
    webhook_url_check(url)
    return WebhookEndpoint.objects.create(
        organization_id=organization_id,
        url=url,
        event_types=_event_types_check(event_types),
        description=description,
        is_enabled=is_enabled,
    )


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    is_enabled: bool | None = None,
) -> WebhookEndpoint:
    if url is not None:
        webhook_url_check(url)
        endpoint.url = url
    if event_types is not None:
        endpoint.event_types = _event_types_check(event_types)
    if description is not None:
        endpoint.description = description
    if is_enabled is not None:
        endpoint.is_enabled = is_enabled
    endpoint.save()
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint and its delivery history; its pending delivery jobs then fail without a request."""
    endpoint_id = endpoint.pk
    endpoint.delete()
    logger.info("event=webhook_endpoint_deleted endpoint_id=%s", endpoint_id)


def webhook_secret_rotate(*, endpoint: WebhookEndpoint) -> str:
    """A new secret for the endpoint, returned once; deliveries from now on are signed with it."""
    endpoint.secret = webhook_secret_new()
    endpoint.secret_rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    logger.info("event=webhook_secret_rotated endpoint_id=%s", endpoint.pk)
    return endpoint.secret


# --- Events ----------------------------------------------------------------------------------------------


def event_id_new() -> str:
    return f"evt_{ULID()}"


def webhook_event_emit(*, organization_id: int | None, event_type: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """One delivery (and one delivery job) per enabled endpoint of the organization subscribed to the event.

    Call it inside the transaction that makes the event true: nothing is sent if that rolls back.
    """
    return webhook_events_emit(organization_id=organization_id, event_type=event_type, items=[data])


def webhook_events_emit(
    *, organization_id: int | None, event_type: str, items: list[dict[str, Any]]
) -> list[WebhookDelivery]:
    """One event per item (each with its own event id), for every subscribed endpoint; endpoints read once."""
    if event_type not in WebhookEventType.values:
        raise WebhookConfigError(f"Unknown webhook event type {event_type!r}.")
    if organization_id is None or not items:
        return []
    endpoints = webhook_endpoints_for_event(organization_id=organization_id, event_type=event_type)
    if not endpoints:
        return []
    deliveries = []
    with transaction.atomic():
        for data in items:
            event_id = event_id_new()
            payload = {
                "id": event_id,
                "type": event_type,
                "created_at": timezone.now().isoformat(),
                "organization_id": organization_id,
                "data": data,
            }
            for endpoint in endpoints:
                delivery = WebhookDelivery.objects.create(
                    event_id=event_id, event_type=event_type, endpoint=endpoint, payload=payload
                )
                delivery.job_id = _delivery_enqueue(delivery, organization_id).id
                delivery.save(update_fields=["job_id"])
                deliveries.append(delivery)
            logger.info(
                "event=webhook_event event_id=%s event_type=%s organization_id=%s endpoints=%s",
                event_id,
                event_type,
                organization_id,
                len(endpoints),
            )
    return deliveries


def _delivery_enqueue(delivery: WebhookDelivery, organization_id: int) -> JobRecord:
    return enqueue(DELIVERY_JOB_TYPE, {"delivery_id": delivery.pk}, organization_id=organization_id)


def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> JobRecord:
    """Send a delivery again (same event id and body) with a new job, whatever its state."""
    with transaction.atomic():
        job = _delivery_enqueue(delivery, delivery.endpoint.organization_id)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING, job_id=job.id, error="", delivered_at=None
        )
    logger.info("event=webhook_redeliver delivery_id=%s job_id=%s", delivery.pk, job.id)
    return job


def webhook_delivery_fail(*, delivery_id: int, error: str) -> None:
    """The delivery's job failed for good (pending only: a success is never undone).

    The last attempt's own error (what the endpoint answered) is kept; the job's error is recorded only
    where there was no attempt to explain it (a deleted or disabled endpoint).
    """
    WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED,
        error=Case(When(error="", then=Value(error[:2000])), default=F("error"), output_field=TextField()),
    )


# --- Sending ---------------------------------------------------------------------------------------------


def _address_check(address: ipaddress.IPv4Address | ipaddress.IPv6Address, host: str) -> None:
    if webhooks_allow_private():
        return
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    ):
        raise WebhookDestinationError(
            f"{host} resolves to {address}, a private, loopback or link-local address; webhooks are not sent there."
        )


@dataclass(frozen=True)
class Destination:
    url: str  # with the checked address in place of the host name
    host_header: str
    sni_hostname: str | None


def destination_resolve(url: str) -> Destination:
    """Resolve the endpoint once, check every address it has, and pin the request to the first one.

    Connecting to the checked address (rather than resolving again in the HTTP client) leaves no window
    in which a DNS answer could change to a private address; TLS still verifies the real host name.
    """
    webhook_url_check(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookUnavailableError(f"{host} could not be resolved: {exc}") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        _address_check(address, host)
    chosen = addresses[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{literal}:{port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return Destination(url=pinned, host_header=parts.netloc, sni_hostname=host if parts.scheme == "https" else None)


def _attempt_record(
    delivery: WebhookDelivery, *, status_code: int | None, duration_ms: int, error: str, succeeded: bool
) -> None:
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        number = locked.attempts + 1
        WebhookAttempt.objects.create(
            delivery=locked, number=number, status_code=status_code, duration_ms=duration_ms, error=error[:2000]
        )
        fields: dict[str, Any] = {
            "attempts": F("attempts") + 1,
            "last_status_code": status_code,
            "duration_ms": duration_ms,
            "error": error[:2000],
        }
        if succeeded:
            fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=timezone.now())
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)


def webhook_deliver(*, delivery_id: int) -> dict[str, Any]:
    """One attempt at a delivery: a signed POST, its outcome recorded.

    Returns on a 2xx (or when it was delivered already). Raises ``WebhookRejectedError`` when trying again
    cannot help (refused destination, redirect, 4xx other than 408/429, a gone or disabled endpoint) and
    ``WebhookUnavailableError`` when it may (5xx, 408, 429, timeouts, connection errors).
    """
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        raise WebhookRejectedError(f"Webhook delivery {delivery_id} no longer exists.")
    if delivery.status == DeliveryStatus.SUCCEEDED:
        return {"delivery_id": delivery.pk, "event_id": delivery.event_id, "already_delivered": True}
    endpoint = delivery.endpoint
    if not endpoint.is_enabled:
        raise WebhookRejectedError(f"Webhook endpoint {endpoint.pk} is disabled.")
    started = time.monotonic()
    try:
        destination = destination_resolve(endpoint.url)
    except WebhookDestinationError as exc:
        _attempt_record(delivery, status_code=None, duration_ms=0, error=str(exc), succeeded=False)
        raise WebhookRejectedError(str(exc)) from exc
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": destination.host_header,
        "Trenova-Event-Id": delivery.event_id,
        "Trenova-Event-Type": delivery.event_type,
        SIGNATURE_HEADER: signature_header(secret=endpoint.secret, timestamp=int(time.time()), body=body),
    }
    extensions = {"sni_hostname": destination.sni_hostname} if destination.sni_hostname else {}
    timeout = webhooks_timeout()
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream("POST", destination.url, content=body, headers=headers, extensions=extensions) as response,
        ):
            status_code = response.status_code
            location = response.headers.get("location", "")
            text = _body_start(response)
    except httpx.TimeoutException as exc:
        error = f"No answer within {timeout:g} s ({type(exc).__name__})."
        _attempt_record(delivery, status_code=None, duration_ms=_ms(started), error=error, succeeded=False)
        raise WebhookUnavailableError(error) from exc
    except httpx.HTTPError as exc:
        error = f"Could not reach the endpoint: {type(exc).__name__}: {exc}"
        _attempt_record(delivery, status_code=None, duration_ms=_ms(started), error=error, succeeded=False)
        raise WebhookUnavailableError(error) from exc
    duration_ms = _ms(started)
    if 200 <= status_code < 300:
        _attempt_record(delivery, status_code=status_code, duration_ms=duration_ms, error="", succeeded=True)
        logger.info(
            "event=webhook_delivered delivery_id=%s event_id=%s status=%s duration_ms=%s",
            delivery.pk,
            delivery.event_id,
            status_code,
            duration_ms,
        )
        return {"delivery_id": delivery.pk, "event_id": delivery.event_id, "status_code": status_code}
    if 300 <= status_code < 400:
        error = f"Answered {status_code} (redirect to {location or 'nowhere'}); redirects are not followed."
    else:
        error = f"Answered {status_code}: {text}" if text else f"Answered {status_code}."
    _attempt_record(delivery, status_code=status_code, duration_ms=duration_ms, error=error, succeeded=False)
    if status_code >= 500 or status_code in RETRYABLE_CLIENT_ERRORS:
        raise WebhookUnavailableError(error)
    raise WebhookRejectedError(error)


def _body_start(response: httpx.Response) -> str:
    """The first few hundred bytes of the answer, as text, without reading a large body."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= ERROR_BODY_LIMIT:
            break
    return b"".join(chunks)[:ERROR_BODY_LIMIT].decode("utf-8", "replace").strip()


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
