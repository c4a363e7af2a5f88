"""Queues, their weights, and the two pure rules the worker follows: weighted order and backoff."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import cast

import django_rq
from django.conf import settings
from redis import Redis
from rq import Queue

from trenova_jobs.conf import queue_weights, setting_int

_connections: dict[tuple[str, str], Redis] = {}


def queue_get(name: str, *, connection: Redis | None = None) -> Queue:
    if name not in queue_weights():
        raise ValueError(f"Unknown queue {name!r}; known: {', '.join(queue_weights())}.")
    return django_rq.get_queue(name, connection=connection or redis_connection(name))


def redis_connection(queue_name: str | None = None) -> Redis:
    """A pooled client for the queue's Redis (all queues share REDIS_URL by default).

    django-rq builds a new client, and so a new TCP connection, on every call; enqueueing on the hot path
    of a shipment save cannot afford that, so clients are kept per URL. Short timeouts make an
    unreachable Redis fail fast instead of stalling the request that enqueues.
    """
    url = _queue_url(queue_name)
    client = _connections.get(("main", url))
    if client is None:
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=30)
        _connections[("main", url)] = client
    return client


def push_connection(queue_name: str) -> Redis:
    """The client for the push after commit, on a request's hot path: it gives up within
    ``TRENOVA_JOBS_PUSH_TIMEOUT_MS`` (a record whose push fails waits in the outbox instead)."""
    url = _queue_url(queue_name)
    client = _connections.get(("push", url))
    if client is None:
        timeout = setting_int("TRENOVA_JOBS_PUSH_TIMEOUT_MS") / 1000
        client = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout, health_check_interval=30)
        _connections[("push", url)] = client
    return client


def connections_forget() -> None:
    """Drop the cached clients (tests that point the queues at another Redis)."""
    _connections.clear()


def _queue_url(queue_name: str | None) -> str:
    # A queue's config mixes strings and numbers, so its values type as object; "URL" is a string.
    return cast(str, settings.RQ_QUEUES[queue_name or next(iter(queue_weights()))]["URL"])


def weighted_order(names: Sequence[str], weights: Mapping[str, int], rng: random.Random) -> list[str]:
    """A random permutation of ``names`` where each next queue is drawn with probability ∝ its weight.

    This is Asynq's default mode: the worker tries queues in this order, so under load on every queue each
    one is served first in proportion to its weight, and an empty queue simply passes its turn to the next.
    """
    remaining = list(names)
    order: list[str] = []
    while remaining:
        total = sum(max(weights.get(n, 1), 0) for n in remaining)
        if total <= 0:
            order.extend(remaining)
            break
        pick = rng.uniform(0, total)
        upto = 0.0
        for index, name in enumerate(remaining):
            upto += max(weights.get(name, 1), 0)
            if pick <= upto:
                order.append(remaining.pop(index))
                break
        else:  # floating-point edge: pick landed on total
            order.append(remaining.pop())
    return order


def strict_order(names: Sequence[str], weights: Mapping[str, int]) -> list[str]:
    """Highest weight first; a queue is served only when every heavier queue is empty."""
    return sorted(names, key=lambda n: -weights.get(n, 1))


def backoff_delay(retry_number: int, cap_seconds: int) -> int:
    """Seconds to wait before retry number ``retry_number`` (1-based): 1, 2, 4, 8, 16 … capped."""
    if retry_number < 1:
        raise ValueError("retry_number is 1-based")
    return min(2 ** (retry_number - 1), cap_seconds)


def backoff_intervals(max_retries: int, cap_seconds: int) -> list[int]:
    """The delay before each retry, in order, as rq's ``Retry(interval=[...])`` wants them."""
    return [backoff_delay(n, cap_seconds) for n in range(1, max_retries + 1)]


def rq_due_time(timestamp: float) -> datetime:
    """The time to hand rq's scheduler so that a job never runs before ``timestamp``.

    rq keeps scheduled times in whole seconds, truncating, so a job due at 12.9 s would run at 12 s;
    rounding up to the next whole second keeps delays and backoffs at least as long as asked.
    """
    return datetime.fromtimestamp(math.ceil(timestamp), tz=UTC)
