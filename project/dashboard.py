"""The operator dashboard: one admin page over the job system and the best pending lane suggestions.

It lives in the project package because it shows two apps that must not know each other: the job
system through ``trenova_jobs``' public surface (``operations_overview``), the suggestions through
``patterns``' models. It reads in a bounded number of queries whatever the data size (a test holds it
to that): one per section, one grouped query for every shown lane's weekly shipments.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import reduce
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.db.models.functions import Coalesce, TruncWeek
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from patterns.lanes import LANE_COLUMNS, REQUIRED_LANE_FIELDS, lane_key, lane_key_fields
from patterns.models import DedicatedLaneSuggestion, PatternConfig, Shipment, ShipmentStatus, SuggestionStatus
from patterns.selectors import suggestions_ranked
from project.charts import Series, sparkline_svg, stacked_bars_svg
from trenova_jobs import JobRecord, JobStateError, OperationsOverview, job_retry, operations_overview, progress_html

SUGGESTIONS_SHOWN = 10
FAILURES_SHOWN = 10
THROUGHPUT_MINUTES = 60
# Bottom to top in the chart; the colours read on the admin's light and dark themes alike.
OUTCOME_COLORS = {"succeeded": "#2e7d32", "failed": "#c62828", "cancelled": "#8d8d8d"}
_DEFAULT_WINDOW_DAYS: int = PatternConfig._meta.get_field("analysis_window_days").default


# --- Suggestions and their lanes' weekly shipments ---------------------------------------------------------


@dataclass(frozen=True)
class LaneWindow:
    """The calendar weeks (Monday 00:00, current time zone) a suggestion's analysis window touches."""

    first_week: date
    weeks: int
    exact: bool  # whether the lane's shipments must match its types too, as detection grouped them

    @property
    def week_starts(self) -> list[date]:
        return [self.first_week + timedelta(weeks=i) for i in range(self.weeks)]


@dataclass(frozen=True)
class SuggestionRow:
    suggestion: DedicatedLaneSuggestion
    weeks: list[date]
    counts: list[int]

    @property
    def sparkline(self) -> SafeString:
        return sparkline_svg(weeks=self.weeks, values=self.counts)

    @property
    def shipments_in_window(self) -> int:
        return sum(self.counts)


def _week_of(moment: datetime) -> date:
    day = timezone.localtime(moment).date()
    return day - timedelta(days=day.weekday())


def _week_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def lane_window(suggestion: DedicatedLaneSuggestion, *, now: datetime) -> LaneWindow:
    """The window detection used (``pattern_details``), else the organization's configured days up to now."""
    details = _mapping(suggestion.pattern_details)
    window, used = _mapping(details.get("window")), _mapping(details.get("config"))
    config = getattr(suggestion.organization, "pattern_config", None)
    end = _moment(window.get("end")) or now
    days = config.analysis_window_days if config is not None else _DEFAULT_WINDOW_DAYS
    start = _moment(window.get("start")) or end - timedelta(days=days)
    exact = used.get("require_exact_match")
    if not isinstance(exact, bool):
        exact = bool(config.require_exact_match) if config is not None else False
    first, last = _week_of(min(start, end)), _week_of(end)
    return LaneWindow(first_week=first, weeks=(last - first).days // 7 + 1, exact=exact)


def suggestions_top_pending(*, limit: int, now: datetime) -> list[DedicatedLaneSuggestion]:
    """Pending, unexpired suggestions of every organization, ranked as the suggestion list ranks them
    (score, then the evidence that separates ties: weeks active, revenue, last seen)."""
    pending = DedicatedLaneSuggestion.objects.filter(status=SuggestionStatus.PENDING, expires_at__gt=now)
    return list(
        suggestions_ranked(suggestions=pending).select_related(
            "organization__pattern_config", "customer", "origin_location", "destination_location"
        )[:limit]
    )


def lane_weekly_counts(
    suggestions: list[DedicatedLaneSuggestion], *, now: datetime
) -> dict[int, tuple[list[date], list[int]]]:
    """Each suggestion's shipments per calendar week over its window: ONE grouped query for all of them.

    The shipments counted are those detection counts (not Canceled, every required lane field set), dated
    by planned pickup else creation, on the suggestion's lane (its route; its types too if detection
    matched exactly). Whole weeks are counted, so that one (lane, week) row belongs to a lane's window
    or does not. Give it suggestions with ``organization__pattern_config`` selected (as
    ``suggestions_top_pending`` does), or each one's window costs a query.
    """
    if not suggestions:
        return {}
    windows = {s.pk: lane_window(s, now=now) for s in suggestions}
    conditions = []
    for s in suggestions:
        w = windows[s.pk]
        conditions.append(
            Q(
                organization_id=s.organization_id,
                business_date__gte=_week_start(w.first_week),
                business_date__lt=_week_start(w.first_week + timedelta(weeks=w.weeks)),
                **{name: getattr(s, name) for name in lane_key_fields(exact=w.exact)},
            )
        )
    rows = (
        Shipment.objects.filter(**{f"{name}__isnull": False for name in REQUIRED_LANE_FIELDS})
        .exclude(status=ShipmentStatus.CANCELED)
        .annotate(business_date=Coalesce("planned_pickup_at", "created_at"))
        .filter(reduce(operator.or_, conditions))
        .annotate(week=TruncWeek("business_date"))
        .order_by()
        .values("organization_id", *LANE_COLUMNS, "week")
        .annotate(n=Count("id"))
    )
    per_lane: dict[tuple[bool, int, tuple[Any, ...]], dict[date, int]] = {}
    for row in rows:
        week = timezone.localtime(row["week"]).date()
        for exact in (False, True):
            weekly = per_lane.setdefault((exact, row["organization_id"], lane_key(row, exact=exact)), {})
            weekly[week] = weekly.get(week, 0) + row["n"]
    counts = {}
    for s in suggestions:
        w = windows[s.pk]
        weekly = per_lane.get((w.exact, s.organization_id, lane_key(s, exact=w.exact)), {})
        starts = w.week_starts
        counts[s.pk] = (starts, [weekly.get(week, 0) for week in starts])
    return counts


def suggestion_rows(*, limit: int = SUGGESTIONS_SHOWN, now: datetime) -> list[SuggestionRow]:
    suggestions = suggestions_top_pending(limit=limit, now=now)
    weekly = lane_weekly_counts(suggestions, now=now)
    return [SuggestionRow(suggestion=s, weeks=weekly[s.pk][0], counts=weekly[s.pk][1]) for s in suggestions]


# --- The page ----------------------------------------------------------------------------------------------


def throughput_chart(overview: OperationsOverview) -> SafeString:
    throughput = overview.throughput
    series = [Series(name, color, throughput.counts.get(name, [])) for name, color in OUTCOME_COLORS.items()]
    return stacked_bars_svg(minutes=throughput.minutes, series=series, empty_text="No job finished in the last hour.")


def _can_retry(request: HttpRequest) -> bool:
    opts = JobRecord._meta
    return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


def dashboard(request: HttpRequest) -> TemplateResponse:
    """The page (staff only: mounted through ``admin.site.admin_view``)."""
    overview = operations_overview(failures=FAILURES_SHOWN, minutes=THROUGHPUT_MINUTES)
    context = {
        **admin.site.each_context(request),
        "title": "Operator dashboard",
        "overview": overview,
        "queues": [{"stats": q, "workers": overview.queue_workers.get(q.name, [])} for q in overview.queues],
        "chart": throughput_chart(overview),
        "outcomes": [(name, color, overview.throughput.totals.get(name, 0)) for name, color in OUTCOME_COLORS.items()],
        "outbox_age": overview.outbox.oldest_age(overview.now),
        "suggestions": suggestion_rows(now=overview.now),
        "running": [
            {**vars(job), "progress_html": progress_html(job.progress) if job.progress else "—"}
            for job in overview.running
        ],
        "can_retry": _can_retry(request),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)


@require_POST
def dashboard_retry(request: HttpRequest, job_id: str) -> HttpResponse:
    """Retry one failed (or cancelled) job through ``job_retry`` and return to the dashboard."""
    if not _can_retry(request):
        raise PermissionDenied
    record = JobRecord.objects.filter(pk=job_id).first()
    if record is None:
        messages.error(request, f"There is no job {job_id}.")
    else:
        try:
            job_retry(record=record)
        except JobStateError as exc:
            messages.warning(request, str(exc))
        else:
            messages.success(request, f"Re-queued {record.job_type} {record.id}.")
    return HttpResponseRedirect(reverse("admin_dashboard"))
