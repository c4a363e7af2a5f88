"""Counters the workers keep in Redis for ``/metrics``: outcomes, retries, durations, worker events.

A scrape must not scan the job table (it grows by every job), and jobs run in short-lived processes whose
in-memory counters would die with them; so each outcome increments a counter in one Redis hash. They are
Prometheus counters: a Redis restart resets them, which Prometheus' ``rate()`` handles as a counter reset.
Writing a counter never fails the caller: a Redis error is logged and the count is lost.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from trenova_jobs.logs import log_event

if TYPE_CHECKING:
    from redis import Redis

OUTCOMES_KEY = "trenova:stats:outcomes"  # "<job_type>|<outcome>" -> n
DURATIONS_KEY = "trenova:stats:durations"  # "<job_type>|<bucket index>", "|sum", "|count"
EVENTS_KEY = "trenova:stats:events"  # worker events: "job_refused", "bad_entry_removed", ...
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


def _connection() -> Redis:
    from trenova_jobs.queues import redis_connection

    return redis_connection()


def outcome_count(job_type: str, outcome: str, *, duration: float | None = None) -> None:
    """Count a final outcome (``succeeded``, ``failed``, ``cancelled``) or a ``retried`` attempt."""
    try:
        with _connection().pipeline(transaction=False) as pipe:
            pipe.hincrby(OUTCOMES_KEY, f"{job_type}|{outcome}", 1)
            if duration is not None:
                bucket = bisect.bisect_left(DURATION_BUCKETS, duration)
                pipe.hincrby(DURATIONS_KEY, f"{job_type}|{bucket}", 1)
                pipe.hincrbyfloat(DURATIONS_KEY, f"{job_type}|sum", duration)
            pipe.execute()
    except RedisError:
        log_event("stats_write_failed", logging.WARNING, job_type=job_type, outcome=outcome)


def worker_event_count(event: str, connection: Redis | None = None) -> None:
    try:
        (connection or _connection()).hincrby(EVENTS_KEY, event, 1)
    except RedisError:
        log_event("stats_write_failed", logging.WARNING, worker_event=event)


@dataclass
class Stats:
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    # job type -> (cumulative bucket counts in DURATION_BUCKETS order, count, sum)
    durations: dict[str, tuple[list[int], int, float]] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)


def stats_read() -> Stats:
    """Every counter, in one round trip (raises RedisError when Redis is down)."""
    with _connection().pipeline(transaction=False) as pipe:
        pipe.hgetall(OUTCOMES_KEY)
        pipe.hgetall(DURATIONS_KEY)
        pipe.hgetall(EVENTS_KEY)
        outcomes_raw, durations_raw, events_raw = pipe.execute()
    stats = Stats()
    for key, value in outcomes_raw.items():
        job_type, _, outcome = key.decode().rpartition("|")
        stats.outcomes[(job_type, outcome)] = int(value)
    per_type: dict[str, dict[str, str]] = defaultdict(dict)
    for key, value in durations_raw.items():
        job_type, _, part = key.decode().rpartition("|")
        per_type[job_type][part] = value.decode()
    for job_type, parts in per_type.items():
        counts = [int(parts.get(str(i), 0)) for i in range(len(DURATION_BUCKETS) + 1)]
        cumulative, running = [], 0
        for n in counts[:-1]:
            running += n
            cumulative.append(running)
        stats.durations[job_type] = (cumulative, sum(counts), float(parts.get("sum", 0.0)))
    stats.events = {key.decode(): int(value) for key, value in events_raw.items()}
    return stats
