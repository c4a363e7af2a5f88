"""One error shape for every API response that is not a success::

    {"error": {"code": "validation_error", "message": "…", "fields": {"name": ["…"]}}}

The apps raise their own error types (services know nothing of HTTP); this handler maps each to a status.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from notifications.errors import NotificationsError, WebhookConfigError, WebhookDestinationError
from patterns.errors import (
    AnalysisInputError,
    LaneNameClashError,
    PatternsError,
    SuggestionStateError,
    SuggestionValidationError,
)
from trenova_jobs.errors import JobError, JobStateError, PayloadValidationError, UnknownJobTypeError
from trenova_jobs.schedules import ScheduleValidationError

_DRF_CODES = {
    status.HTTP_400_BAD_REQUEST: "validation_error",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field.sub": ["message", …]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key in ("non_field_errors", "__all__"):
                name = prefix or "non_field_errors"
            for field, messages in _flatten(value, name).items():
                out.setdefault(field, []).extend(messages)
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            for field, messages in _flatten(item, f"{prefix}.{index}" if prefix else str(index)).items():
                out.setdefault(field, []).extend(messages)
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def _first(fields: dict[str, list[str]], fallback: str) -> str:
    for field, messages in fields.items():
        if messages:
            return messages[0] if field == "non_field_errors" else f"{field}: {messages[0]}"
    return fallback


def _app_error(exc: Exception) -> tuple[int, str, dict[str, list[str]]] | None:
    """The status, code and field errors of the apps' own error types; None for anything else."""
    if isinstance(exc, ScheduleValidationError):
        return 400, "validation_error", exc.errors
    if isinstance(exc, PayloadValidationError):
        fields: dict[str, list[str]] = {}
        for error in exc.errors:
            name = ".".join(str(part) for part in error.get("loc", ())) or "payload"
            fields.setdefault(name, []).append(str(error.get("msg", "invalid")))
        return 400, "validation_error", fields
    if isinstance(exc, UnknownJobTypeError):
        return 400, "validation_error", {"job_type": [str(exc)]}
    if isinstance(exc, JobStateError):
        return 409, "conflict", {}
    if isinstance(exc, JobError):
        return 400, "job_error", {}
    if isinstance(exc, SuggestionValidationError):
        return 400, "validation_error", exc.errors
    if isinstance(exc, LaneNameClashError):
        return 409, "conflict", {"name": [str(exc)]}
    if isinstance(exc, SuggestionStateError):
        return 409, "conflict", {}
    if isinstance(exc, AnalysisInputError):
        return 400, "validation_error", {}
    if isinstance(exc, PatternsError):
        return 400, "patterns_error", {}
    if isinstance(exc, WebhookDestinationError):
        return 400, "validation_error", {"url": [str(exc)]}
    if isinstance(exc, WebhookConfigError):
        return 400, "validation_error", {"event_types": [str(exc)]}
    if isinstance(exc, NotificationsError):
        return 400, "notifications_error", {}
    return None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``: every error, the apps' and DRF's, in the one shape."""
    mapped = _app_error(exc)
    if mapped is not None:
        status_code, code, fields = mapped
        return Response(error_body(code, str(exc), fields), status=status_code)
    if isinstance(exc, DjangoValidationError):
        fields = (
            {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
            if hasattr(exc, "error_dict")
            else {"non_field_errors": [str(m) for m in exc.messages]}
        )
        return Response(error_body("validation_error", _first(fields, "Invalid input."), fields), status=400)
    if isinstance(exc, ObjectDoesNotExist | Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handling (and the logs) take it
    code = _DRF_CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ParseError):
        code = "parse_error"
    fields = {}
    message = str(getattr(exc, "detail", "")) or "Error."
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = _first(fields, "Invalid input.")
    response.data = error_body(code, message, fields)
    return response
