"""Django-level handlers for requests under /api/ that never reach a DRF view (no URL matched, a crash)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error

from project.api.errors import error_body

API_PREFIX = "/api/"


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """An API path no URL matches (``/api/v1/shipments/-1/``) is a 404 in the API's error shape."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body("not_found", "No such resource."), status=404)
    return page_not_found(request, exception)


def crashed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body("server_error", "Something went wrong on our side; it was logged."), status=500)
    return server_error(request, *args, **kwargs)
