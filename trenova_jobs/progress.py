"""How far a running job has got: reported by its handler, read by the API, the admin and the dashboard.

    def handle(payload, ctx):
        for i, org in enumerate(orgs, 1):
            ...
            ctx.progress(i, len(orgs), f"Analysed {org}")

Progress lives in a small Redis hash of its own (``trenova:progress:<job id>``, kept for a day), not in
rq's job meta: rq and the worker rewrite the meta, and a reader would have to parse it through rq's
serializer. Writes are throttled (one per ``MIN_INTERVAL`` unless the work is complete) and never fail
the job; reads validate what they find (Redis is untrusted input) and give None when there is nothing
usable or Redis is down.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.utils.html import format_html
from redis.exceptions import RedisError

from trenova_jobs.logs import log_event

KEY_PREFIX = "trenova:progress:"
TTL_SECONDS = 86400
MIN_INTERVAL = 0.5
MESSAGE_MAX = 200

_last_write: dict[str, float] = {}


@dataclass(frozen=True)
class Progress:
    done: int
    total: int | None
    message: str
    updated_at: float

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return max(0, min(100, round(self.done * 100 / self.total)))

    def as_json(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "total": self.total,
            "percent": self.percent,
            "message": self.message,
            "updated_at": self.updated_at,
        }


def progress_key(job_id: str) -> str:
    return f"{KEY_PREFIX}{job_id}"


def _connection() -> Any:
    from trenova_jobs.queues import redis_connection

    return redis_connection()


def progress_report(job_id: str, done: int, total: int | None = None, message: str = "") -> None:
    """Record ``done`` of ``total`` (None: unknown) for ``job_id``. Bad arguments raise ValueError."""
    if not isinstance(done, int) or isinstance(done, bool) or done < 0:
        raise ValueError(f"progress done must be a non-negative integer; got {done!r}")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
        raise ValueError(f"progress total must be a non-negative integer or None; got {total!r}")
    now = time.time()
    complete = total is not None and done >= total
    if not complete and now - _last_write.get(job_id, 0.0) < MIN_INTERVAL:
        return
    if len(_last_write) > 1000:  # a process that reports for many jobs (not a work horse) stays small
        _last_write.clear()
    _last_write[job_id] = now
    fields = {"done": done, "total": "" if total is None else total, "message": str(message)[:MESSAGE_MAX], "at": now}
    try:
        with _connection().pipeline(transaction=False) as pipe:
            pipe.hset(progress_key(job_id), mapping=fields)
            pipe.expire(progress_key(job_id), TTL_SECONDS)
            pipe.execute()
    except RedisError:
        log_event("progress_write_failed", logging.WARNING, job_id=job_id)


def job_progress(job_id: str) -> Progress | None:
    """The latest progress of ``job_id``, or None (none reported, unreadable, Redis down)."""
    try:
        raw = _connection().hgetall(progress_key(job_id))
    except RedisError:
        return None
    return _parse(raw)


def jobs_progress(job_ids: list[str]) -> dict[str, Progress]:
    """Progress of several jobs in one round trip (those with none are left out)."""
    if not job_ids:
        return {}
    try:
        with _connection().pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(progress_key(job_id))
            replies = pipe.execute()
    except RedisError:
        return {}
    found = {}
    for job_id, raw in zip(job_ids, replies, strict=True):
        parsed = _parse(raw)
        if parsed is not None:
            found[job_id] = parsed
    return found


def _parse(raw: dict[bytes, bytes]) -> Progress | None:
    try:
        done = int(raw[b"done"])
        total_text = raw.get(b"total", b"")
        total = int(total_text) if total_text else None
        message = raw.get(b"message", b"").decode("utf-8", "replace")[:MESSAGE_MAX]
        updated_at = float(raw.get(b"at", b"0"))
    except (KeyError, ValueError, TypeError):
        return None
    if done < 0 or (total is not None and total < 0):
        return None
    return Progress(done=done, total=total, message=message, updated_at=updated_at)


def progress_html(progress: Progress) -> str:
    """A progress bar with "done / total — message" (also used by the operator dashboard)."""
    total = f" / {progress.total}" if progress.total is not None else ""
    percent = progress.percent
    bar = (
        format_html(
            '<progress max="100" value="{}" style="width: 12em; vertical-align: middle">{}%</progress> {}% ',
            percent,
            percent,
            percent,
        )
        if percent is not None
        else ""
    )
    return format_html("{}{}{} {}", bar, progress.done, total, f"— {progress.message}" if progress.message else "")
