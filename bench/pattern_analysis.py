"""Pattern analysis at scale: N shipments over C customers in PostgreSQL, analysed for every organization.

    .venv/bin/python bench/pattern_analysis.py [--shipments 1000000] [--customers 5000] [--organizations 4]
                                               [--fresh]

Two datasets are generated in SQL (INSERT … SELECT over generate_series, deterministic with setseed):
N shipments over C customers, and N/10 over C/10, each split over the organizations. Every customer
has a home lane carrying 40% of its shipments; the rest go to random pairs of 50 locations; business
dates spread over 120 days (the default window is 90), 3% Canceled, 10% unrated. Datasets are kept
between runs (organizations with slugs `bench-pa-…`); --fresh rebuilds them.

Each measurement runs in a child process, so that its peak RSS (getrusage of the child itself) is the
analysis's own plus Django's import baseline, which is printed separately:
  * ours, first run — `analyze_patterns` for every organization with no suggestions yet (creates them);
  * ours, re-run    — the same again, everything already suggested (detection without inserts);
  * naive at N/10   — load the window's rows into Python, group them in a dict, score, pick types.
Each of ours is timed next to its peer in the same child: the bare lane GROUP BY over the same window
rows (the query detection starts with, summed up in the database and nothing else: the scan limit), run before and
after the analysis (the faster of the two is kept).
It prints a table, the growth from N/10 to N, the naive/ours ratio at N/10 (against the re-run, since
the naive path creates nothing), and the targets at N: first run and re-run each ≤ 2x the bare GROUP BY,
peak RSS ≤ 300 MB.
Uses DATABASE_URL (default: the `trenova_bench` PostgreSQL database, created and migrated if missing).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

from benchenv import ROOT, setup_django

SLUG_PREFIX = "bench-pa-"
LOCATIONS = 50
HISTORY_DAYS = 120
HOME_LANE_SHARE = 0.4
TARGET_RATIO = 2.0
TARGET_RSS_MB = 300.0


def _slugs(shipments: int, customers: int, organizations: int) -> list[str]:
    return [f"{SLUG_PREFIX}{shipments}-{customers}-{i}" for i in range(organizations)]


# --- Data ------------------------------------------------------------------------------------------


def dataset_ensure(*, shipments: int, customers: int, organizations: int, fresh: bool) -> list[int]:
    """Organization ids of the dataset, generating it unless an identical one is in the database."""
    from django.db import transaction

    from patterns.models import Organization, Shipment

    slugs = _slugs(shipments, customers, organizations)
    existing = list(Organization.objects.filter(slug__in=slugs).order_by("slug").values_list("pk", flat=True))
    reusable = not fresh and len(existing) == organizations
    if reusable and Shipment.objects.filter(organization_id__in=existing).count() == shipments:
        print(f"  reusing {shipments:,} shipments over {customers:,} customers", flush=True)
        return existing
    dataset_drop(slugs)
    started = time.perf_counter()
    ids = []
    for index, slug in enumerate(slugs):
        per_org = shipments // organizations + (1 if index < shipments % organizations else 0)
        per_org_customers = customers // organizations + (1 if index < customers % organizations else 0)
        with transaction.atomic():
            ids.append(_generate_org(slug, index, per_org, per_org_customers))
        print(f"  generated {slug}: {per_org:,} shipments, {per_org_customers:,} customers", flush=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE patterns_shipment")
    print(f"  generation took {time.perf_counter() - started:.1f}s", flush=True)
    return ids


def dataset_drop(slugs: list[str]) -> None:
    from django.db import connection

    from patterns.models import Organization

    org_ids = list(Organization.objects.filter(slug__in=slugs).values_list("pk", flat=True))
    if not org_ids:
        return
    # Raw deletes, leaves first: the ORM's cascade collector would load a million rows.
    tables = [
        "patterns_dedicatedlanesuggestion",
        "patterns_shipment",
        "patterns_dedicatedlane",
        "patterns_customer",
        "patterns_location",
        "patterns_servicetype",
        "patterns_shipmenttype",
        "patterns_equipmenttype",
        "patterns_patternconfig",
        "patterns_businessunit",
    ]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {table} WHERE organization_id = ANY(%s)", [org_ids])
        cursor.execute("DELETE FROM patterns_organization WHERE id = ANY(%s)", [org_ids])


def _generate_org(slug: str, index: int, shipments: int, customers: int) -> int:
    from django.db import connection

    from patterns.models import (
        BusinessUnit,
        Customer,
        EquipmentType,
        Location,
        Organization,
        ServiceType,
        ShipmentType,
    )

    org = Organization.objects.create(name=f"Bench carrier {index}", slug=slug)
    bu = BusinessUnit.objects.create(organization=org, code="MAIN", name="Main")
    Customer.objects.bulk_create(
        [Customer(organization=org, code=f"C{n:05d}", name=f"Customer {n}") for n in range(customers)], batch_size=2000
    )
    Location.objects.bulk_create(
        Location(organization=org, code=f"L{n:02d}", name=f"Facility {n}", city="City", state="IL")
        for n in range(LOCATIONS)
    )
    ServiceType.objects.bulk_create(ServiceType(organization=org, code=code) for code in ("STD", "EXP"))
    ShipmentType.objects.bulk_create(ShipmentType(organization=org, code=code) for code in ("FTL", "LTL"))
    EquipmentType.objects.bulk_create(
        [EquipmentType(organization=org, code=c, equipment_class="Tractor") for c in ("SLEEPER", "DAYCAB")]
        + [EquipmentType(organization=org, code=c, equipment_class="Trailer") for c in ("DRY53", "REEFER53", "FLAT48")]
    )

    def ids(model: Any, **filters: Any) -> list[int]:
        return list(model.objects.filter(organization=org, **filters).order_by("code").values_list("pk", flat=True))

    params = {
        "org": org.pk,
        "bu": bu.pk,
        "n": shipments,
        "customers": ids(Customer),
        "locations": ids(Location),
        "services": ids(ServiceType),
        "kinds": ids(ShipmentType),
        "tractors": ids(EquipmentType, equipment_class="Tractor"),
        "trailers": ids(EquipmentType, equipment_class="Trailer"),
        "days": HISTORY_DAYS,
        "home": HOME_LANE_SHARE,
        "seed": (index + 1) / 100,
    }
    # One row of random draws per shipment, then the row built from them. A customer's home lane is a
    # fixed pair of its own: origin k*7 mod L, destination origin + 1 + (k mod (L-1)), never equal.
    sql = """
        WITH draws AS (
            SELECT i,
                   (i %% cardinality(%(customers)s::bigint[])) AS k,
                   random() < %(home)s AS on_home_lane,
                   floor(random() * %(nloc)s)::int AS o,
                   floor(random() * (%(nloc)s - 1))::int AS step,
                   random() AS age, random() AS status_draw, random() AS freight_draw,
                   random() AS s1, random() AS s2, random() AS s3, random() AS s4
            FROM generate_series(1, %(n)s) AS i
        ), rows AS (
            SELECT i, k, age, status_draw, freight_draw, s1, s2, s3, s4,
                   CASE WHEN on_home_lane THEN (k * 7) %% %(nloc)s ELSE o END AS o_index,
                   CASE WHEN on_home_lane THEN ((k * 7) %% %(nloc)s + 1 + k %% (%(nloc)s - 1)) %% %(nloc)s
                        ELSE (o + 1 + step) %% %(nloc)s END AS d_index,
                   on_home_lane
            FROM draws
        )
        INSERT INTO patterns_shipment (
            created_at, updated_at, pro_number, status, planned_pickup_at, freight_charge_amount, is_hazmat,
            organization_id, business_unit_id, customer_id, origin_location_id, destination_location_id,
            service_type_id, shipment_type_id, tractor_type_id, trailer_type_id,
            hazmat_un_number, hazmat_class, hazmat_emergency_contact, compliance_issues
        )
        SELECT now() - make_interval(secs => age * %(days)s * 86400) - interval '2 days',
               now(),
               'B' || i,
               CASE WHEN status_draw < 0.03 THEN 'Canceled' ELSE 'Completed' END,
               now() - make_interval(secs => age * %(days)s * 86400),
               CASE WHEN freight_draw < 0.1 THEN NULL ELSE round((500 + freight_draw * 4500)::numeric, 2) END,
               false,
               %(org)s, %(bu)s,
               (%(customers)s::bigint[])[k + 1],
               (%(locations)s::bigint[])[o_index + 1],
               (%(locations)s::bigint[])[d_index + 1],
               (%(services)s::bigint[])[CASE WHEN on_home_lane AND s1 < 0.8 THEN 1 ELSE 1 + floor(s1 * 2)::int END],
               (%(kinds)s::bigint[])[CASE WHEN on_home_lane AND s2 < 0.85 THEN 1 ELSE 1 + floor(s2 * 2)::int END],
               CASE WHEN s3 < 0.1 THEN NULL ELSE (%(tractors)s::bigint[])[1 + floor(s3 * 2)::int %% 2] END,
               CASE WHEN s4 < 0.1 THEN NULL ELSE (%(trailers)s::bigint[])[1 + floor(s4 * 3)::int %% 3] END,
               '', '', '', '[]'::jsonb
        FROM rows
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [params["seed"]])
        cursor.execute(sql, {**params, "nloc": LOCATIONS})
    return org.pk


# --- Children: one measurement each ----------------------------------------------------------------


def child(mode: str, org_ids: list[int]) -> dict[str, Any]:
    """Run one measurement in this (child) process; returns figures as JSON-able values."""
    import django

    django.setup()
    baseline = _max_rss_mb()
    from patterns.models import DedicatedLaneSuggestion

    if mode == "first":
        DedicatedLaneSuggestion.objects.filter(organization_id__in=org_ids).delete()
    peer = bare_group_by(org_ids) if mode != "naive" else None
    started = time.perf_counter()
    totals = {"examined": 0, "qualified": 0, "created": 0}
    for org_id in org_ids:
        if mode == "naive":
            examined, qualified = naive_analysis(org_id)
            totals["examined"] += examined
            totals["qualified"] += qualified
        else:
            from patterns.services import analyze_patterns

            result = analyze_patterns(organization_id=org_id, trigger_reason="manual")
            totals["examined"] += result.lanes_examined
            totals["qualified"] += result.lanes_qualified
            totals["created"] += result.suggestions_created
    seconds = time.perf_counter() - started
    rss = _max_rss_mb()
    if peer is not None:
        peer = min(peer, bare_group_by(org_ids))  # before and after: the same warm cache as the analysis had
    return {"seconds": seconds, "rss_mb": rss, "baseline_mb": baseline, "group_by_seconds": peer, **totals}


def bare_group_by(org_ids: list[int]) -> float:
    """The scan limit: the lane GROUP BY over the same window rows and nothing else (seconds)."""
    from datetime import timedelta

    from django.db import connection
    from django.db.models import Count, Max, Min, Sum
    from django.utils import timezone

    from patterns import selectors
    from patterns.lanes import lane_key_fields
    from patterns.models import PatternConfig

    started = time.perf_counter()
    for org_id in org_ids:
        config = PatternConfig.for_organization(org_id)
        now = timezone.now()
        grouped = (
            selectors.shipments_for_analysis(
                organization_id=org_id,
                customer_id=None,
                start=now - timedelta(days=config.analysis_window_days),
                end=now,
            )
            .values(*lane_key_fields(exact=config.require_exact_match))
            .annotate(
                frequency=Count("id"),
                first_date=Min("business_date"),
                last_date=Max("business_date"),
                total_freight=Sum("freight_charge_amount"),
            )
            .order_by()
        )
        sql, params = grouped.query.sql_with_params()
        with connection.cursor() as cursor:  # every aggregate used, one row back: no transfer cost
            cursor.execute(
                "SELECT COUNT(*), SUM(frequency), MIN(first_date), MAX(last_date), SUM(total_freight) "
                f"FROM ({sql}) AS lanes",
                params,
            )
            cursor.fetchall()
    return time.perf_counter() - started


def naive_analysis(org_id: int) -> tuple[int, int]:
    """The straightforward way: every row of the window into Python, grouped in a dict."""
    from collections import Counter, defaultdict
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from patterns import selectors
    from patterns.models import PatternConfig
    from patterns.scoring import confidence_score

    config = PatternConfig.for_organization(org_id)
    now = timezone.now()
    rows = list(
        selectors.shipments_for_analysis(
            organization_id=org_id,
            customer_id=None,
            start=now - timedelta(days=config.analysis_window_days),
            end=now,
        ).values_list(
            "id",
            "business_date",
            "freight_charge_amount",
            "customer_id",
            "origin_location_id",
            "destination_location_id",
            "service_type_id",
            "shipment_type_id",
            "tractor_type_id",
            "trailer_type_id",
        )
    )
    lanes: dict[tuple, list] = defaultdict(list)
    for row in rows:
        lanes[row[3:6]].append(row)
    qualified = 0
    for group in lanes.values():
        if len(group) < config.min_frequency:
            continue
        dates = [r[1] for r in group]
        rated = [r[2] for r in group if r[2] is not None]
        total = sum(rated, Decimal("0")) if rated else None
        score = confidence_score(
            frequency=len(group),
            first=min(dates),
            last=max(dates),
            total_freight=total,
            now=now,
            weight_recent=config.weight_recent_shipments,
        )
        if score >= config.min_confidence_score:
            qualified += 1
            group.sort(key=lambda r: (r[1], r[0]), reverse=True)
            _ids = [r[0] for r in group[:100]]
            _types = [Counter(r[i] for r in group).most_common(1) for i in range(6, 10)]
    return len(lanes), qualified


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def measure(mode: str, org_ids: list[int]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--org-ids", ",".join(map(str, org_ids))],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- Main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipments", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--organizations", type=int, default=4)
    parser.add_argument("--fresh", action="store_true", help="Regenerate the datasets.")
    parser.add_argument("--child", choices=["first", "rerun", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--org-ids", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, [int(i) for i in args.org_ids.split(",")])))
        return
    if args.shipments < 10 or args.customers < 10 * args.organizations:
        raise SystemExit("--shipments must be at least 10 and --customers at least 10 per organization.")

    setup_django()
    sizes = [(args.shipments // 10, args.customers // 10), (args.shipments, args.customers)]
    rows = []
    datasets = {}
    for shipments, customers in sizes:
        print(f"Dataset: {shipments:,} shipments, {customers:,} customers, {args.organizations} organizations")
        datasets[shipments] = dataset_ensure(
            shipments=shipments, customers=customers, organizations=args.organizations, fresh=args.fresh
        )
    small, large = sizes[0][0], sizes[1][0]
    plan = [("ours, first run", large), ("ours, re-run", large), ("ours, first run", small), ("ours, re-run", small)]
    plan.append(("naive", small))
    for label, shipments in plan:
        mode = {"ours, first run": "first", "ours, re-run": "rerun", "naive": "naive"}[label]
        print(f"Measuring {label} at {shipments:,} shipments…", flush=True)
        rows.append((label, shipments, measure(mode, datasets[shipments])))

    print()
    header = (
        f"{'run':<16} {'shipments':>10} {'examined':>9} {'qualified':>9} {'created':>8} {'seconds':>8} "
        f"{'GROUP BY s':>10} {'ratio':>6} {'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    for label, shipments, r in rows:
        peer = r.get("group_by_seconds")
        peer_text = f"{peer:>10.2f} {r['seconds'] / peer:>5.1f}x" if peer else f"{'':>10} {'':>6}"
        print(
            f"{label:<16} {shipments:>10,} {r['examined']:>9,} {r['qualified']:>9,} {r['created']:>8,} "
            f"{r['seconds']:>8.2f} {peer_text} {r['rss_mb']:>12.0f}"
        )
    baseline = rows[0][2]["baseline_mb"]
    print(f"(peak RSS includes ~{baseline:.0f} MB of Python + Django before the analysis starts)")

    def find(label: str, shipments: int) -> dict[str, Any]:
        return next(r for lab, n, r in rows if lab == label and n == shipments)

    big_first, small_first = find("ours, first run", large), find("ours, first run", small)
    big_rerun, small_rerun = find("ours, re-run", large), find("ours, re-run", small)
    naive = find("naive", small)
    print()
    print(
        f"growth {small:,} → {large:,} shipments (×{large / small:.0f}): first run ×"
        f"{big_first['seconds'] / small_first['seconds']:.1f} time, re-run ×"
        f"{big_rerun['seconds'] / small_rerun['seconds']:.1f} time; RSS {small_first['rss_mb']:.0f} → "
        f"{big_first['rss_mb']:.0f} MB"
    )
    print(
        f"naive / ours at {small:,} shipments: ×{naive['seconds'] / small_rerun['seconds']:.1f} time, "
        f"×{naive['rss_mb'] / small_rerun['rss_mb']:.1f} peak RSS "
        f"(naive qualified {naive['qualified']:,} lanes, ours {small_rerun['qualified']:,})"
    )
    for label, r in (("first run", big_first), ("re-run", big_rerun)):
        ratio = r["seconds"] / r["group_by_seconds"]
        verdict = "PASS" if ratio <= TARGET_RATIO and r["rss_mb"] <= TARGET_RSS_MB else "FAIL"
        print(
            f"target at {large:,}, {label}: ≤ {TARGET_RATIO:.0f}x the bare GROUP BY and ≤ {TARGET_RSS_MB:.0f} MB → "
            f"{r['seconds']:.2f} s / {r['group_by_seconds']:.2f} s = {ratio:.2f}x, {r['rss_mb']:.0f} MB: {verdict}"
        )


if __name__ == "__main__":
    main()
