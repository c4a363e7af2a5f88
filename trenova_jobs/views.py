"""Operator endpoints: ``/healthz`` (database, Redis, workers) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from trenova_jobs.metrics import metrics_text
from trenova_jobs.selectors import health_check


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    health = health_check()
    body: dict[str, object] = {
        "status": "ok" if health.ok else "unavailable",
        "database": "ok" if health.database else "down",
        "redis": "ok" if health.redis else "down",
        "workers": health.workers,
        "schedules": {"late": len(health.late_schedules)},
    }
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        body["errors"] = health.errors  # error text can name hosts and users: staff only (and the logs)
        body["schedules"] = {"late": len(health.late_schedules), "late_names": health.late_schedules}
    return JsonResponse(body, status=200 if health.ok else 503)


def _metrics_allowed(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = getattr(settings, "TRENOVA_METRICS_TOKEN", "")
    header = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _metrics_allowed(request):
        return HttpResponse(
            "Metrics need a staff session or 'Authorization: Bearer <TRENOVA_METRICS_TOKEN>'.\n",
            status=401 if not getattr(request.user, "is_authenticated", False) else 403,
            content_type="text/plain",
        )
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
