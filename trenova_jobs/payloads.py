"""Typed job payloads: a pydantic model per job type, validated before anything is written."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from trenova_jobs.errors import PayloadValidationError


class JobPayload(BaseModel):
    """Base class for payloads. Unknown fields are refused and types are strict (no "5" for 5)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class EmptyPayload(JobPayload):
    """For job types that take no arguments."""


def payload_parse(job_type: str, payload_type: type[JobPayload], data: Any) -> JobPayload:
    """Validate ``data`` (a dict or an instance) against ``payload_type``, as it will travel: through JSON.

    Validating the JSON form means what is stored is exactly what the worker will parse: datetimes
    become ISO strings and are parsed back, while ``"5"`` is still refused for an ``int`` field.
    """
    if isinstance(data, payload_type):
        return data
    if isinstance(data, JobPayload):
        raise PayloadValidationError(
            job_type,
            [{"loc": (), "msg": f"expected {payload_type.__name__}, got {type(data).__name__}"}],
        )
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PayloadValidationError(job_type, [{"loc": (), "msg": "payload must be a JSON object"}])
    try:
        raw = json.dumps(data, cls=DjangoJSONEncoder)
    except TypeError as exc:
        raise PayloadValidationError(job_type, [{"loc": (), "msg": f"not JSON serializable: {exc}"}]) from None
    try:
        return payload_type.model_validate_json(raw)
    except PydanticValidationError as exc:
        raise PayloadValidationError(job_type, exc.errors(include_url=False, include_input=False)) from None


def payload_to_json(payload: JobPayload) -> dict[str, Any]:
    return payload.model_dump(mode="json")


class ResultNotJSONError(ValueError):
    """A handler returned something that is not storable as strict JSON."""


def result_to_json(value: Any) -> Any:
    """A handler's return value as strict JSON (dates, decimals and UUIDs become strings).

    Raises ``ResultNotJSONError`` for values JSON or PostgreSQL cannot hold: NaN and infinities, NUL
    characters, objects with no JSON form.
    """
    try:
        text = json.dumps(value, cls=DjangoJSONEncoder, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ResultNotJSONError(f"The job's result is not JSON: {exc}") from exc
    parsed = json.loads(text)
    if "\\u0000" in text and _has_nul(parsed):
        raise ResultNotJSONError("The job's result contains a NUL character, which PostgreSQL cannot store.")
    return parsed


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
