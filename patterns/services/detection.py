"""Pattern detection: find an organization's recurring lanes in SQL, score them, suggest dedicated lanes.

Two queries read the shipments, however many there are:

1. the aggregation — one GROUP BY over the lane key giving each lane's count, first and last business
   date and freight totals; lanes below the minimum frequency never leave the database;
2. the details of the qualified lanes only — their latest shipment ids, the business unit of the
   latest shipment and, per type column, each value's count and recency (for the most common type).

On PostgreSQL both run as single SQL statements (a window count over the groups; GROUPING SETS over
the qualified lanes joined through ``unnest``), so Python only sees qualified lanes. On other
databases (SQLite, for the demo) the same results come from portable ORM queries streamed through
Python: every lane group in the first step, and every shipment of the qualified lanes' customers in
the second. That is slower and only meant for demo-sized data.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Min, QuerySet, Sum
from django.utils import timezone

from patterns import selectors
from patterns.errors import AnalysisInputError
from patterns.events import suggestions_created
from patterns.lanes import (
    LANE_ROUTE,
    NULLABLE_LANE_COLUMNS,
    ROUTE_FIELDS,
    TYPE_FIELDS,
    LaneKey,
    lane_key,
    lane_key_fields,
    lane_values,
)
from patterns.models import (
    MIN_FREQUENCY,
    DedicatedLaneSuggestion,
    PatternConfig,
    Shipment,
    SuggestionStatus,
    TriggerReason,
)
from patterns.scoring import confidence_score
from patterns.services.suggestions import suggestions_expire

# How many of a lane's shipment ids (the latest) its suggestion keeps as evidence.
SHIPMENT_IDS_KEPT = 100

SKIP_ACTIVE_LANE = "active_lane"
SKIP_PENDING_SUGGESTION = "pending_suggestion"
SKIP_RECENTLY_REJECTED = "recently_rejected"
SKIP_REASONS = (SKIP_ACTIVE_LANE, SKIP_PENDING_SUGGESTION, SKIP_RECENTLY_REJECTED)
CREATED = "created"

_MONEY = Decimal("0.0001")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DetectedLane:
    """A qualified lane: its attributes (the most common types unless exact matching), figures and outcome."""

    customer_id: int
    origin_location_id: int
    destination_location_id: int
    service_type_id: int
    shipment_type_id: int
    tractor_type_id: int | None
    trailer_type_id: int | None
    business_unit_id: int
    frequency: int
    first_shipment_date: datetime
    last_shipment_date: datetime
    total_freight_charge: Decimal
    average_freight_charge: Decimal | None
    confidence_score: Decimal
    shipment_ids: tuple[int, ...]
    outcome: str = ""  # CREATED or one of SKIP_REASONS
    suggestion_id: int | None = None


@dataclass
class AnalysisResult:
    """What one analysis did; ``as_json()`` is what the job record stores and notifications show."""

    organization_id: int
    customer_id: int | None
    trigger_reason: TriggerReason
    job_id: str | None
    window_start: datetime
    window_end: datetime
    detected_at: datetime
    min_frequency: int
    min_confidence_score: Decimal
    exact_match: bool
    disabled: bool = False
    lanes_examined: int = 0
    lanes_qualified: int = 0
    suggestions_created: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))
    duration_ms: int = 0
    lanes: list[DetectedLane] = field(default_factory=list)  # qualified lanes, best first

    def as_json(self) -> dict[str, Any]:
        return {
            "organization_id": self.organization_id,
            "customer_id": self.customer_id,
            "trigger_reason": self.trigger_reason.value,
            "job_id": self.job_id,
            "disabled": self.disabled,
            "window": {"start": self.window_start.isoformat(), "end": self.window_end.isoformat()},
            "detected_at": self.detected_at.isoformat(),
            "min_frequency": self.min_frequency,
            "min_confidence_score": str(self.min_confidence_score),
            "exact_match": self.exact_match,
            "lanes_examined": self.lanes_examined,
            "lanes_qualified": self.lanes_qualified,
            "suggestions_created": self.suggestions_created,
            "skipped": dict(self.skipped),
            "duration_ms": self.duration_ms,
        }


def analyze_patterns(
    *,
    organization_id: int,
    customer_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    min_frequency: int | None = None,
    trigger_reason: TriggerReason,
    job_id: str | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Detect the organization's recurring lanes and create Pending suggestions for the new ones.

    Reads the organization's PatternConfig (defaults when it has none); ``min_frequency`` and the
    window (``start``/``end``; default: the configured number of days up to now) override it for this
    run only. An organization with detection disabled is skipped unless a person asked for the analysis
    (``trigger_reason.is_manual``). Idempotent: lanes already suggested (Pending), covered by an Active
    dedicated lane or rejected within the cooldown are skipped, and a partial unique constraint stops
    concurrent runs from creating the same Pending suggestion twice. Raises ``AnalysisInputError`` for
    bad arguments, an unknown trigger reason included.
    """
    started = time.monotonic()
    say = progress or (lambda message: None)
    now = timezone.now()
    config = _config_for(organization_id=organization_id, customer_id=customer_id)
    window_start, window_end = _window(config=config, start=start, end=end, now=now)
    if min_frequency is not None and min_frequency not in MIN_FREQUENCY:
        raise AnalysisInputError(f"min_frequency must be {MIN_FREQUENCY.between()}; got {min_frequency!r}.")
    reason = _trigger_reason(trigger_reason)
    exact = config.require_exact_match
    result = AnalysisResult(
        organization_id=organization_id,
        customer_id=customer_id,
        trigger_reason=reason,
        job_id=job_id,
        window_start=window_start,
        window_end=window_end,
        detected_at=now,
        min_frequency=min_frequency or config.min_frequency,
        min_confidence_score=config.min_confidence_score,
        exact_match=exact,
    )
    if not config.enabled and not reason.is_manual:
        result.disabled = True
        say("Pattern detection is disabled for this organization; nothing to do.")
        return _finish(result, started)

    shipments = selectors.shipments_for_analysis(
        organization_id=organization_id, customer_id=customer_id, start=window_start, end=window_end
    )
    say(f"Grouping shipments from {window_start:%Y-%m-%d %H:%M} to {window_end:%Y-%m-%d %H:%M} by lane…")
    examined, groups = _lane_groups(shipments, exact=exact, min_frequency=result.min_frequency)
    result.lanes_examined = examined
    scored = [
        (group, score)
        for group in groups
        if (score := _score(group, config=config, now=now)) >= config.min_confidence_score
    ]
    say(f"{examined} lanes examined, {len(groups)} frequent enough, {len(scored)} qualified.")
    if not scored:
        return _finish(result, started)

    say("Collecting the qualified lanes' shipments and types…")
    keys = [lane_key(group, exact=exact) for group, _ in scored]
    details = _lane_details(shipments, keys, exact=exact)
    lanes = [
        lane
        for (group, score), key in zip(scored, keys, strict=True)
        if (lane := _detected_lane(group, score, details[key])) is not None
    ]
    lanes.sort(key=_rank)
    result.lanes_qualified = len(lanes)

    say("Creating suggestions…")
    result.lanes = _suggestions_create(lanes, config=config, result=result, now=now)
    for lane in result.lanes:
        if lane.outcome == CREATED:
            result.suggestions_created += 1
        else:
            result.skipped[lane.outcome] += 1
    say(f"{result.suggestions_created} suggestions created; skipped: {_skipped_text(result.skipped)}.")
    return _finish(result, started)


# --- Inputs ----------------------------------------------------------------------------------------


def _config_for(*, organization_id: int, customer_id: int | None) -> PatternConfig:
    if selectors.organization_get(organization_id=organization_id) is None:
        raise AnalysisInputError(f"Organization {organization_id} does not exist.")
    if customer_id is not None and not selectors.customer_exists(
        organization_id=organization_id, customer_id=customer_id
    ):
        raise AnalysisInputError(f"Customer {customer_id} does not exist in organization {organization_id}.")
    return PatternConfig.for_organization(organization_id)


def _trigger_reason(value: TriggerReason | str) -> TriggerReason:
    try:
        return TriggerReason(value)
    except ValueError:
        raise AnalysisInputError(
            f"Unknown trigger reason {value!r}; expected one of {', '.join(TriggerReason.values)}."
        ) from None


def _window(
    *, config: PatternConfig, start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    for name, value in (("start", start), ("end", end)):
        if value is not None and timezone.is_naive(value):
            raise AnalysisInputError(f"{name} must be a timezone-aware datetime.")
    window_end = end or now
    window_start = start or window_end - timedelta(days=config.analysis_window_days)
    if window_start >= window_end:
        raise AnalysisInputError("The window start must be before its end.")
    return window_start, window_end


def _finish(result: AnalysisResult, started: float) -> AnalysisResult:
    result.duration_ms = round((time.monotonic() - started) * 1000)
    return result


def _skipped_text(skipped: dict[str, int]) -> str:
    return ", ".join(f"{reason.replace('_', ' ')} {count}" for reason, count in skipped.items())


# --- Step 1: one GROUP BY over the lane key --------------------------------------------------------


def _lane_groups(shipments: QuerySet[Shipment], *, exact: bool, min_frequency: int) -> tuple[int, list[dict]]:
    """(number of lanes in the window, the lanes with at least ``min_frequency`` shipments).

    Each lane is a dict of its key columns, ``frequency``, ``first_date``, ``last_date``,
    ``total_freight`` (None when no shipment was rated) and ``rated`` (count of rated shipments).
    """
    grouped = (
        shipments.values(*lane_key_fields(exact=exact))
        .annotate(
            frequency=Count("id"),
            first_date=Min("business_date"),
            last_date=Max("business_date"),
            total_freight=Sum("freight_charge_amount"),
            rated=Count("freight_charge_amount"),
        )
        .order_by()
    )
    if connection.vendor == "postgresql":
        return _lane_groups_postgresql(grouped, min_frequency=min_frequency)
    return _lane_groups_portable(grouped, min_frequency=min_frequency)


def _lane_groups_postgresql(grouped: QuerySet, *, min_frequency: int) -> tuple[int, list[dict]]:
    # The grouping runs once (a CTE referenced twice is materialised); the count of all groups comes
    # back on every row, and on a single row of NULL lanes when none is frequent enough.
    sql, params = grouped.query.sql_with_params()
    wrapped = (
        f"WITH lanes AS ({sql}) "
        "SELECT counted.examined, lanes.* FROM (SELECT COUNT(*) AS examined FROM lanes) AS counted "
        "LEFT JOIN lanes ON lanes.frequency >= %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(wrapped, [*params, min_frequency])
        columns = [column.name for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    examined = rows[0]["examined"] if rows else 0
    return examined, [row for row in rows if row["frequency"] is not None]


def _lane_groups_portable(grouped: QuerySet, *, min_frequency: int) -> tuple[int, list[dict]]:
    examined = 0
    groups = []
    for row in grouped.iterator(chunk_size=2000):
        examined += 1
        if row["frequency"] >= min_frequency:
            groups.append(row)
    return examined, groups


def _score(group: dict, *, config: PatternConfig, now: datetime) -> Decimal:
    return confidence_score(
        frequency=group["frequency"],
        first=group["first_date"],
        last=group["last_date"],
        total_freight=group["total_freight"],
        now=now,
        weight_recent=config.weight_recent_shipments,
    )


# --- Step 2: details of the qualified lanes --------------------------------------------------------


@dataclass
class _Details:
    """What step 2 learns about one lane: latest shipment ids, latest business unit, type counts."""

    shipment_ids: list[int] = field(default_factory=list)
    business_unit_id: int | None = None
    # Per type column: value -> (shipments with it, recency rank of its latest shipment; 1 = the latest).
    types: dict[str, dict[int | None, tuple[int, int]]] = field(default_factory=lambda: {t: {} for t in TYPE_FIELDS})

    def most_common(self, column: str) -> int | None:
        """The value most shipments have; on a tie, the one seen most recently."""
        counts = self.types[column]
        return min(counts, key=lambda value: (-counts[value][0], counts[value][1]))


def _lane_details(shipments: QuerySet[Shipment], keys: list[LaneKey], *, exact: bool) -> dict[LaneKey, _Details]:
    if connection.vendor == "postgresql":
        return _lane_details_postgresql(shipments, keys, exact=exact)
    return _lane_details_portable(shipments, keys, exact=exact)


# GROUPING(<the type columns>) of each grouping set: a bit is set for a column that is not grouped, the
# first column being the most significant. The lane's own set groups by none (all bits set, 0b1111);
# the set of one type column clears that column's bit (service type: 0b0111, …, trailer type: 0b1110).
_GROUPING_LANE = (1 << len(TYPE_FIELDS)) - 1
_GROUPING_BY_TYPE = {_GROUPING_LANE ^ (1 << (len(TYPE_FIELDS) - 1 - i)): column for i, column in enumerate(TYPE_FIELDS)}
_TYPE_COLUMNS = ", ".join(TYPE_FIELDS)


def _lane_details_postgresql(
    shipments: QuerySet[Shipment], keys: list[LaneKey], *, exact: bool
) -> dict[LaneKey, _Details]:
    columns = ("id", "business_date", "business_unit_id", *ROUTE_FIELDS, *TYPE_FIELDS)
    source_sql, source_params = shipments.values(*columns).query.sql_with_params()
    key_fields = lane_key_fields(exact=exact)
    # The qualified lanes as a table (lane number + key columns), joined to the shipments on the key;
    # nullable types compare through COALESCE(…, 0) so that the join stays a hash join.
    arrays = [list(range(len(keys)))] + [
        [0 if key[i] is None else key[i] for key in keys] for i in range(len(key_fields))
    ]
    lane_columns = ", ".join(f"k_{name}" for name in key_fields)
    join = " AND ".join(
        f"COALESCE(s.{name}, 0) = lane.k_{name}" if name in NULLABLE_LANE_COLUMNS else f"s.{name} = lane.k_{name}"
        for name in key_fields
    )
    unnest = ", ".join(["%s::int[]"] + ["%s::bigint[]"] * len(key_fields))
    shipment_types = ", ".join(f"s.{name}" for name in TYPE_FIELDS)
    type_sets = ", ".join(f"(lane_no, {name})" for name in TYPE_FIELDS)
    sql = f"""
        WITH s AS ({source_sql}),
        lane AS (SELECT * FROM unnest({unnest}) AS lane(lane_no, {lane_columns})),
        ranked AS (
            SELECT lane.lane_no, s.id, s.business_date, s.business_unit_id,
                   {shipment_types},
                   row_number() OVER (PARTITION BY lane.lane_no ORDER BY s.business_date DESC, s.id DESC) AS recency
            FROM s JOIN lane ON {join}
        )
        SELECT lane_no,
               GROUPING({_TYPE_COLUMNS}) AS grouping_id,
               {_TYPE_COLUMNS},
               COUNT(*) AS shipments,
               MIN(recency) AS latest_rank,
               array_agg(id ORDER BY recency) FILTER (WHERE recency <= %s) AS recent_ids,
               MAX(business_unit_id) FILTER (WHERE recency = 1) AS latest_business_unit_id
        FROM ranked
        GROUP BY GROUPING SETS ((lane_no), {type_sets})
    """
    details = {key: _Details() for key in keys}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*source_params, *arrays, SHIPMENT_IDS_KEPT])
        for lane_no, grouping_id, *types, shipments_count, latest_rank, recent_ids, business_unit_id in cursor:
            lane = details[keys[lane_no]]
            if grouping_id == _GROUPING_LANE:
                lane.shipment_ids = list(recent_ids)
                lane.business_unit_id = business_unit_id
            else:
                column = _GROUPING_BY_TYPE[grouping_id]
                lane.types[column][types[TYPE_FIELDS.index(column)]] = (shipments_count, latest_rank)
    return details


def _lane_details_portable(
    shipments: QuerySet[Shipment], keys: list[LaneKey], *, exact: bool
) -> dict[LaneKey, _Details]:
    details = {key: _Details() for key in keys}
    seen: Counter[LaneKey] = Counter()
    customers = sorted({customer_id for customer_id, *_ in keys if customer_id is not None})
    rows = (
        shipments.filter(customer_id__in=customers)
        .values("id", "business_unit_id", *ROUTE_FIELDS, *TYPE_FIELDS)
        .order_by("-business_date", "-id")
    )
    for row in rows.iterator(chunk_size=2000):
        key = lane_key(row, exact=exact)
        lane = details.get(key)
        if lane is None:
            continue
        seen[key] += 1
        rank = seen[key]
        if rank == 1:
            lane.business_unit_id = row["business_unit_id"]
        if rank <= SHIPMENT_IDS_KEPT:
            lane.shipment_ids.append(row["id"])
        for column in TYPE_FIELDS:
            count, latest = lane.types[column].get(row[column], (0, rank))
            lane.types[column][row[column]] = (count + 1, latest)
    return details


def _detected_lane(group: dict[str, Any], score: Decimal, details: _Details) -> DetectedLane | None:
    """The qualified lane, or None when its shipments were all deleted or canceled between the two queries."""
    if details.business_unit_id is None:
        return None
    total = group["total_freight"]
    rated = group["rated"]
    # The route as grouped; each type the lane's own (exact matching) or its most common one. (Rows of
    # shipments_for_analysis: customer, stops, service and shipment type are set.)
    lane: dict[str, Any] = {column: group[column] for column in ROUTE_FIELDS}
    lane.update({column: details.most_common(column) for column in TYPE_FIELDS})
    return DetectedLane(
        **lane,
        business_unit_id=details.business_unit_id,
        frequency=group["frequency"],
        first_shipment_date=group["first_date"],
        last_shipment_date=group["last_date"],
        total_freight_charge=_money(total) if total is not None else Decimal("0.0000"),
        average_freight_charge=_money(Decimal(total) / rated) if total is not None and rated else None,
        confidence_score=score,
        shipment_ids=tuple(details.shipment_ids),
    )


def _money(value: Decimal | float | int) -> Decimal:
    return Decimal(str(value)).quantize(_MONEY)


def _rank(lane: DetectedLane) -> tuple[Any, ...]:
    """Best first: score, then frequency; then the most recent, then by key for a stable order."""
    return (
        -lane.confidence_score,
        -lane.frequency,
        -lane.last_shipment_date.timestamp(),
        lane.customer_id,
        lane.origin_location_id,
        lane.destination_location_id,
    )


# --- Step 3: suggestions ---------------------------------------------------------------------------


def _suggestions_create(
    lanes: list[DetectedLane], *, config: PatternConfig, result: AnalysisResult, now: datetime
) -> list[DetectedLane]:
    """Give each qualified lane its outcome, creating the Pending suggestions; returns the lanes."""
    organization_id, customer_id, exact = result.organization_id, result.customer_id, result.exact_match
    # Stale Pending rows would both hide nothing and still hold the partial unique constraint.
    suggestions_expire(organization_id=organization_id, now=now)
    covered = selectors.active_lane_keys(organization_id=organization_id, customer_id=customer_id, exact=exact)
    pending = selectors.open_suggestion_keys(
        organization_id=organization_id, customer_id=customer_id, exact=exact, now=now
    )
    rejected = (
        selectors.rejected_suggestion_keys(
            organization_id=organization_id,
            customer_id=customer_id,
            exact=exact,
            since=now - timedelta(days=config.rejection_cooldown_days),
        )
        if config.rejection_cooldown_days
        else set()
    )
    outcomes: dict[int, str] = {}
    for index, lane in enumerate(lanes):
        key = lane_key(lane, exact=exact)
        if key in covered:
            outcomes[index] = SKIP_ACTIVE_LANE
        elif key in pending:
            outcomes[index] = SKIP_PENDING_SUGGESTION
        elif key in rejected:
            outcomes[index] = SKIP_RECENTLY_REJECTED
    to_create = [index for index in range(len(lanes)) if index not in outcomes]
    suggestions = _build_suggestions([lanes[i] for i in to_create], config=config, result=result, now=now)
    with transaction.atomic():
        created = _insert(suggestions)
        inserted = [suggestion for suggestion in suggestions if suggestion.pk in created]
        if inserted:
            suggestions_created.send(
                sender=DedicatedLaneSuggestion, organization_id=organization_id, suggestions=inserted
            )
    ids: dict[int, int] = {}
    for index, suggestion in zip(to_create, suggestions, strict=True):
        if suggestion.pk in created:
            outcomes[index], ids[index] = CREATED, suggestion.pk
        else:
            outcomes[index] = SKIP_PENDING_SUGGESTION  # a concurrent analysis created it first
    return [replace(lane, outcome=outcomes[i], suggestion_id=ids.get(i)) for i, lane in enumerate(lanes)]


def _build_suggestions(
    lanes: list[DetectedLane], *, config: PatternConfig, result: AnalysisResult, now: datetime
) -> list[DedicatedLaneSuggestion]:
    if not lanes:
        return []
    codes = selectors.lane_codes(lanes=lanes, fields=LANE_ROUTE)
    taken = selectors.lane_names_taken(organization_id=result.organization_id)
    config_used = {
        "enabled": config.enabled,
        "min_frequency": result.min_frequency,
        "analysis_window_days": config.analysis_window_days,
        "min_confidence_score": str(config.min_confidence_score),
        "suggestion_ttl_days": config.suggestion_ttl_days,
        "require_exact_match": config.require_exact_match,
        "weight_recent_shipments": config.weight_recent_shipments,
        "rejection_cooldown_days": config.rejection_cooldown_days,
    }
    window = {"start": result.window_start.isoformat(), "end": result.window_end.isoformat()}
    expires_at = now + timedelta(days=config.suggestion_ttl_days)
    suggestions = []
    for lane in lanes:
        name = suggested_name(
            origin=codes["origin_location"][lane.origin_location_id],
            destination=codes["destination_location"][lane.destination_location_id],
            customer=codes["customer"][lane.customer_id],
            taken=taken,
        )
        taken.add(name.lower())
        suggestions.append(
            DedicatedLaneSuggestion(
                organization_id=result.organization_id,
                business_unit_id=lane.business_unit_id,
                status=SuggestionStatus.PENDING,
                **lane_values(lane),
                confidence_score=lane.confidence_score,
                frequency=lane.frequency,
                average_freight_charge=lane.average_freight_charge,
                total_freight_charge=lane.total_freight_charge,
                first_shipment_date=lane.first_shipment_date,
                last_shipment_date=lane.last_shipment_date,
                suggested_name=name,
                pattern_details={
                    "shipment_ids": list(lane.shipment_ids),
                    "config": config_used,
                    "window": window,
                    "detected_at": now.isoformat(),
                    "trigger_reason": result.trigger_reason.value,
                    "job_id": result.job_id,
                },
                expires_at=expires_at,
            )
        )
    return suggestions


def suggested_name(*, origin: str, destination: str, customer: str, taken: set[str]) -> str:
    """``{origin}-{destination}``; if taken (any case), with the customer code, then a number."""
    base = f"{origin}-{destination}"
    for candidate in (base, f"{base} {customer}"):
        if candidate.lower() not in taken:
            return candidate
    n = 2
    while f"{base} {customer} #{n}".lower() in taken:
        n += 1
    return f"{base} {customer} #{n}"


def _insert(suggestions: list[DedicatedLaneSuggestion]) -> set[int]:
    """Insert the suggestions; returns the ids of those inserted (the others lost a race).

    The usual case is one bulk insert. If a concurrent analysis inserted one of the same lanes first,
    the partial unique constraint refuses the batch; then each row goes in on its own savepoint and the
    refused ones are skipped. Rows are inserted in lane-key order so that two analyses inserting
    overlapping lanes wait for each other instead of deadlocking.
    """
    if not suggestions:
        return set()
    ordered = sorted(suggestions, key=_insert_order)
    try:
        with transaction.atomic():
            DedicatedLaneSuggestion.objects.bulk_create(ordered, batch_size=500)
        return {s.pk for s in ordered}
    except IntegrityError:
        pass
    inserted = set()
    for suggestion in ordered:
        suggestion.pk = None
        suggestion._state.adding = True
        try:
            with transaction.atomic():
                suggestion.save(force_insert=True)
        except IntegrityError:
            suggestion.pk = None
            if not selectors.pending_suggestion_exists(organization_id=suggestion.organization_id, lane=suggestion):
                raise
            continue
        inserted.add(suggestion.pk)
    return inserted


def _insert_order(suggestion: DedicatedLaneSuggestion) -> tuple[int, ...]:
    return tuple(value or 0 for value in lane_key(suggestion, exact=True))
