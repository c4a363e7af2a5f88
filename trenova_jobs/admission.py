"""What a worker checks before it lets a dequeued job anywhere near a work horse.

A job hash in Redis is untrusted: anyone who can write to Redis can write one. trenova creates every job
the same way (``RUN_FUNCTION`` with the record id as its only argument, no callbacks, a dict for meta),
so anything else was not made by trenova and is refused — failed without importing anything, logged as a
security event and counted. ``job_problem()`` is pure: it reads the raw hash only.
"""

from __future__ import annotations

import contextlib
import json
import re
import zlib
from collections.abc import Mapping

from trenova_jobs.rq_compat import RUN_FUNCTION

JOB_ID_RE = re.compile(r"^job_[0-9A-HJKMNP-TV-Z]{26}$")
_CALLBACK_FIELDS = ("success_callback_name", "failure_callback_name", "stopped_callback_name")
_DEPENDENCY_FIELDS = ("dependency_id", "dependency_ids")


def _decode_data(raw: bytes) -> object:
    with contextlib.suppress(zlib.error):  # rq reads uncompressed data as it is, so must we
        raw = zlib.decompress(raw)
    return json.loads(raw)


def job_problem(job_id: str, fields: Mapping[bytes, bytes]) -> str | None:
    """Why the hash ``fields`` of job ``job_id`` must not run, or None when it is one of trenova's jobs."""
    if not JOB_ID_RE.match(job_id):
        return f"job id {job_id[:80]!r} is not a trenova job id"
    raw = fields.get(b"data")
    if raw is None:
        return "the job hash has no data"
    try:
        data = _decode_data(raw)
    except Exception:  # ValueError, UnicodeDecodeError, RecursionError on absurd nesting: all refused
        return "the job's data is not JSON"
    if not (isinstance(data, list) and len(data) == 4):
        return "the job's data is not [function, instance, args, kwargs]"
    func_name, instance, args, kwargs = data
    if func_name != RUN_FUNCTION:
        return f"the job names {str(func_name)[:200]!r}, not {RUN_FUNCTION}"
    if instance is not None:
        return "the job names an instance"
    if args != [job_id] or kwargs not in ({}, None):
        return "the job's arguments are not its own record id"
    for field in _CALLBACK_FIELDS:
        if fields.get(field.encode()):
            return f"the job names a callback ({field})"
    for field in _DEPENDENCY_FIELDS:
        value = fields.get(field.encode())
        if value and value not in (b"[]", b""):
            return f"the job declares dependencies ({field})"
    meta = fields.get(b"meta")
    if meta is not None:
        try:
            parsed = json.loads(meta)
        except Exception:
            return "the job's meta is not JSON"
        if not isinstance(parsed, dict):
            return "the job's meta is not a JSON object"
    return None
