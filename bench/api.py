"""REST API latency over 100 000 job records: job status and the lane-suggestion list (target: p95 < 100 ms).

    .venv/bin/python bench/api.py [--threads 8] [--requests 200] [--server gunicorn|django|runserver] [--rebuild]

It builds (once: a rerun reuses them while they match) `--jobs` JobRecord rows written with COPY — ten
organizations (the measured one holds a tenth of the rows, another tenth belong to no organization), every
status and registered job type, created over 30 days — plus the measured organization's user with a token
(as `manage.py issue_token` makes it) and lane suggestions: 120 Pending, 20 Pending past expiry, 30
Rejected, 30 Expired in it, 50 Pending in each other organization; then ANALYZE, as a live database has
statistics. It starts a real server on 127.0.0.1:<free port> in a process group of its own, DEBUG off
unless `--debug`: by default gunicorn as production runs it (README, "Operating it": `--server-workers`
processes, default 2 for the two cores, of 4 gthread threads, keep-alive on); `--server django` is one
process, runserver's own server classes (a thread and a database connection per keep-alive client
connection) serving the project's WSGI application with TCP_NODELAY set, because `manage.py runserver`
itself stalls every keep-alive response ~40 ms (headers and body in two writes, Nagle against delayed
ACK; `--server runserver` measures it as is).
It measures, per endpoint:
  * job-detail        `GET /api/v1/jobs/{id}/`, cycling over 1 000 of the organization's job ids;
  * lane-suggestions  `GET /api/v1/lane-suggestions/` (the default page: 50 of 150, best first);
  * job-list          `GET /api/v1/jobs/` (only with `--endpoints ... job-list`; 50 newest of ~10 000).
First one client (what one request costs), then the load the target is for: `--threads` threads with an
httpx.Client each, a warm-up of 10 requests each, then `--requests` timed requests each, one after another.
Every response must be 200 (anything else, or a transport error, is an error; the first one is printed).
Prints p50/p95/max and requests/s per endpoint, the error count (target 0) beside the target p95 < 100 ms,
and the SQL queries one request makes (counted in this process through Django's test client).
The client threads share the machine (and its cores) with the server: the figures include that.
Uses DATABASE_URL (default: a `trenova_bench_api` PostgreSQL database, created and migrated if missing)
and REDIS_URL (default: redis://127.0.0.1:6379/11).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx

# Before benchenv, which only sets what is still unset.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trenova_bench_api")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")

from benchenv import ROOT, percentile, setup_django

ORG_SLUG = "bench-api"  # the measured organization; the others are bench-api-other-<n>
OTHER_ORGS = 9
USERNAME = "bench-api"
DETAIL_IDS = 1000
WARMUP_PER_THREAD = 10
TARGET_P95_MS = 100.0
# Measured organization's suggestions by kind; the list shows the Pending, unexpired and decided ones.
PENDING, STALE, REJECTED, EXPIRED = 120, 20, 30, 30
OTHER_PENDING = 50
ENDPOINTS: dict[str, str] = {
    "job-detail": "/api/v1/jobs/{id}/",
    "lane-suggestions": "/api/v1/lane-suggestions/",
    "job-list": "/api/v1/jobs/",
}
# (status, weight): a production-like table is mostly finished jobs.
STATUS_MIX = [
    ("succeeded", 80),
    ("failed", 5),
    ("cancelled", 2),
    ("queued", 4),
    ("scheduled", 2),
    ("running", 3),
    ("retrying", 2),
    ("pending", 2),
]


@dataclass
class Fixture:
    organization_id: int
    token: str
    job_ids: list[str]
    suggestions_listed: int


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    wall: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


# --- The data -------------------------------------------------------------------------------------------


def _wipe() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from patterns.models import DedicatedLaneSuggestion, Organization
    from trenova_jobs.models import JobRecord

    with connection.cursor() as cursor:
        cursor.execute(f'TRUNCATE "{JobRecord._meta.db_table}"')
    # In this order: suggestions protect their lane rows and deciders, memberships their business units.
    DedicatedLaneSuggestion.objects.filter(organization__slug__startswith=ORG_SLUG).delete()
    get_user_model().objects.filter(username__startswith=USERNAME).delete()
    Organization.objects.filter(slug__startswith=ORG_SLUG).delete()


def _organization(slug: str, name: str) -> tuple[Any, Any, dict[str, list[Any]]]:
    """An organization with a business unit and master data: customers, locations, service and shipment types."""
    from patterns.models import BusinessUnit, Customer, Location, Organization, ServiceType, ShipmentType

    org = Organization.objects.create(slug=slug, name=name)
    unit = BusinessUnit.objects.create(organization=org, name=f"{name} Terminal", code="BU1")
    rows: dict[str, list[Any]] = {
        "customers": Customer.objects.bulk_create(
            Customer(organization=org, code=f"C{i:03d}", name=f"Customer {i}") for i in range(20)
        ),
        "locations": Location.objects.bulk_create(
            Location(organization=org, code=f"L{i:03d}", name=f"Facility {i}", city=f"City {i}", state="IL")
            for i in range(30)
        ),
        "service_types": ServiceType.objects.bulk_create(
            ServiceType(organization=org, code=code, description=code) for code in ("STD", "EXP")
        ),
        "shipment_types": ShipmentType.objects.bulk_create(
            ShipmentType(organization=org, code=code, description=code) for code in ("FTL", "LTL")
        ),
    }
    return org, unit, rows


def _suggestions(
    org: Any, unit: Any, rows: dict[str, list[Any]], kinds: list[str], user: Any, rng: random.Random
) -> None:
    from patterns.models import DedicatedLaneSuggestion, SuggestionStatus

    now = datetime.now(UTC)
    routes = [
        (c, o, d)
        for c in rows["customers"]
        for o in rows["locations"][:6]
        for d in rows["locations"][6:12]
        if o.pk != d.pk
    ]
    rng.shuffle(routes)
    built = []
    for (customer, origin, destination), kind in zip(routes, kinds, strict=False):
        decided = kind == "rejected"
        built.append(
            DedicatedLaneSuggestion(
                organization=org,
                business_unit=unit,
                status={
                    "pending": SuggestionStatus.PENDING,
                    "stale": SuggestionStatus.PENDING,
                    "rejected": SuggestionStatus.REJECTED,
                    "expired": SuggestionStatus.EXPIRED,
                }[kind],
                customer=customer,
                origin_location=origin,
                destination_location=destination,
                service_type=rng.choice(rows["service_types"]),
                shipment_type=rng.choice(rows["shipment_types"]),
                confidence_score=Decimal(rng.randint(5000, 9999)) / 10000,
                frequency=rng.randint(3, 40),
                total_freight_charge=Decimal("12000.0000"),
                average_freight_charge=Decimal("2000.0000"),
                first_shipment_date=now - timedelta(days=40),
                last_shipment_date=now - timedelta(days=rng.randint(1, 6)),
                suggested_name=f"{customer.code} {origin.code}-{destination.code}",
                pattern_details={"shipment_ids": [rng.randint(1, 10**6) for _ in range(10)], "window_days": 30},
                # Far enough ahead that a rerun next month still finds the Pending ones unexpired.
                expires_at=now + timedelta(days=-1 if kind in ("stale", "expired") else 365),
                processed_by=user if decided else None,
                processed_at=now - timedelta(days=2) if decided else None,
                reject_reason="Customer contract ends soon." if decided else "",
            )
        )
    DedicatedLaneSuggestion.objects.bulk_create(built)


def _job_records(n: int, tenants: list[tuple[int, int] | None], user_id: int, org_id: int, rng: random.Random) -> None:
    """``n`` job records through COPY: a tenth the measured organization's, a tenth nobody's, the rest spread."""
    from django.db import connection
    from ulid import ULID

    from trenova_jobs.models import JobRecord
    from trenova_jobs.registry import job_type_names, registry_get

    types = [(name, registry_get(name).queue) for name in sorted(job_type_names())]
    statuses = [s for s, _ in STATUS_MIX]
    weights = [w for _, w in STATUS_MIX]
    measured = next(t for t in tenants if t is not None and t[0] == org_id)
    others = [t for t in tenants if t is not None and t[0] != org_id]
    now = datetime.now(UTC)
    # Every column, so that a field added later (with a default) needs no change here.
    fields = list(JobRecord._meta.concrete_fields)
    columns = [f.column for f in fields]
    defaults = {f.column: _copy_value(f, f.get_default()) for f in fields}
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3's own cursor: COPY
        with raw.copy(f'COPY "{JobRecord._meta.db_table}" ({", ".join(columns)}) FROM STDIN') as copy:
            for i in range(n):
                draw = rng.random()
                tenant = measured if draw < 0.1 else None if draw < 0.2 else rng.choice(others)
                job_type, queue = rng.choice(types)
                status = rng.choices(statuses, weights)[0]
                created = now - timedelta(seconds=rng.uniform(60, 30 * 86400))
                ran = status in ("running", "succeeded", "failed", "retrying")
                started = created + timedelta(seconds=rng.uniform(0.01, 5)) if ran else None
                finished = None
                if started is not None and status in ("succeeded", "failed"):
                    finished = started + timedelta(seconds=rng.uniform(0.01, 30))
                elif status == "cancelled":
                    finished = created + timedelta(seconds=5)
                failed = status in ("failed", "retrying")
                enqueued = None if status == "pending" else created + timedelta(milliseconds=rng.uniform(1, 50))
                row = {
                    **defaults,
                    "id": f"job_{ULID.from_datetime(created)}",
                    "job_type": job_type,
                    "queue": queue,
                    "status": status,
                    "payload": json.dumps({"customer_id": rng.randint(1, 5000), "days": 30, "seq": i}),
                    "result": json.dumps({"value": i, "ok": True}) if status == "succeeded" else None,
                    "error": "TimeoutError: the carrier API did not answer" if failed else "",
                    "traceback": "Traceback (most recent call last):\n  ...\nTimeoutError\n" if failed else "",
                    "attempts": (1 if ran else 0) + (2 if failed else 0),
                    "max_retries": 3,
                    "organization_id": tenant[0] if tenant else None,
                    "business_unit_id": tenant[1] if tenant else None,
                    "user_id": user_id if tenant is measured and rng.random() < 0.3 else None,
                    "created_at": created,
                    "enqueued_at": enqueued,
                    "scheduled_for": created + timedelta(seconds=30) if status in ("scheduled", "retrying") else None,
                    "started_at": started,
                    "finished_at": finished,
                }
                copy.write_row([row[c] for c in columns])


def _copy_value(field: Any, value: Any) -> Any:
    """A field's default as COPY takes it: JSON as text, a callable's value (not the id's: every row sets it)."""
    from django.db.models import JSONField

    if isinstance(field, JSONField):
        return json.dumps(value)
    return value


def fixture_get(jobs: int, *, rebuild: bool) -> Fixture:
    """The benchmark's rows: reused when they are all there as built, otherwise wiped and built again."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.db.models import Q
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from patterns.models import DedicatedLaneSuggestion, Membership, Organization, SuggestionStatus
    from trenova_jobs.models import JobRecord

    org = Organization.objects.filter(slug=ORG_SLUG).first()
    token = Token.objects.filter(user__username=USERNAME).first()
    listed = PENDING + REJECTED
    if org is not None and token is not None and not rebuild:
        visible = (
            DedicatedLaneSuggestion.objects.filter(organization=org)
            .exclude(status=SuggestionStatus.EXPIRED)
            .exclude(Q(status=SuggestionStatus.PENDING) & Q(expires_at__lte=timezone.now()))
            .count()
        )
        if JobRecord.objects.count() == jobs and visible == listed:
            print(f"reusing the {jobs} job records and the suggestions already in the database", flush=True)
            return Fixture(org.pk, token.key, _detail_ids(org.pk), listed)

    started = time.perf_counter()
    rng = random.Random(20240611)
    _wipe()
    with transaction.atomic():
        org, unit, rows = _organization(ORG_SLUG, "Bench Freight Lines")
        user = get_user_model().objects.create_user(USERNAME, f"{USERNAME}@example.com", secrets.token_urlsafe(16))
        Membership.objects.create(user=user, organization=org, business_unit=unit)
        token = Token.objects.create(user=user)
        kinds = ["pending"] * PENDING + ["stale"] * STALE + ["rejected"] * REJECTED + ["expired"] * EXPIRED
        _suggestions(org, unit, rows, kinds, user, rng)
        tenants: list[tuple[int, int] | None] = [(org.pk, unit.pk)]
        for i in range(1, OTHER_ORGS + 1):
            other, other_unit, other_rows = _organization(f"{ORG_SLUG}-other-{i}", f"Other Carrier {i}")
            _suggestions(other, other_unit, other_rows, ["pending"] * OTHER_PENDING, user, rng)
            tenants.append((other.pk, other_unit.pk))
        _job_records(jobs, tenants, user.pk, org.pk, rng)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics for every table, as a live database has them
    print(
        f"built {jobs} job records and {PENDING + STALE + REJECTED + EXPIRED + OTHER_ORGS * OTHER_PENDING} "
        f"suggestions in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return Fixture(org.pk, token.key, _detail_ids(org.pk), listed)


def _detail_ids(org_id: int) -> list[str]:
    from trenova_jobs.models import JobRecord

    ids = list(JobRecord.objects.filter(organization_id=org_id).values_list("id", flat=True))
    return random.Random(7).sample(ids, min(DETAIL_IDS, len(ids)))


def queries_per_request(fixture: Fixture, paths: dict[str, str]) -> dict[str, int]:
    """SQL queries of one request to each endpoint, through Django's test client in this process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {fixture.token}")
    counts = {}
    for name, path in paths.items():
        client.get(path)  # warm: the first request also loads the tenant, content types, ...
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{name}: {path} answered {response.status_code}: {response.content[:300]!r}")
        counts[name] = len(captured)
    return counts


# --- The server and the load ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(port: int) -> None:
    """The server child of ``--server django``: runserver's own server classes, with TCP_NODELAY.

    ``manage.py runserver`` (wsgiref underneath) sends a response's headers and its body in two writes with
    Nagle's algorithm on, so on a keep-alive connection the body waits for the client's delayed ACK: about
    40 ms added to every request, even a 404. This is the same ThreadedWSGIServer and WSGIRequestHandler
    (one thread per connection, database connections closed with it), serving the project's
    WSGI_APPLICATION, with that one socket option set.
    """
    import django

    django.setup()
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, get_internal_wsgi_application

    class NoDelayHandler(WSGIRequestHandler):
        def setup(self) -> None:
            super().setup()
            # The client's socket (django-stubs calls it a WSGIRequest).
            client = cast(socket.socket, self.connection)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # runserver logs every request; the benchmark's tens of thousands say nothing

    server = ThreadedWSGIServer(("127.0.0.1", port), NoDelayHandler)
    server.set_app(get_internal_wsgi_application())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


def start_server(port: int, *, kind: str, debug: bool, log: Path, server_workers: int = 2) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
        "DJANGO_DEBUG": "1" if debug else "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        "PYTHONUNBUFFERED": "1",
    }
    with open(log, "w") as out:
        if kind == "runserver":
            command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        elif kind == "gunicorn":
            # What a deployment runs: one process per core, threads for keep-alive connections.
            command = [
                str(Path(sys.executable).with_name("gunicorn")),
                "project.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                f"--workers={server_workers}",
                "--worker-class=gthread",
                "--threads=4",
                "--keep-alive=30",
            ]
        else:
            command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)]
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_server(server: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def wait_until_serving(base: str, path: str, token: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(base + path, headers={"Authorization": f"Token {token}"}, timeout=2).status_code:
                return
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer within 60 s:\n{log.read_text()[-2000:]}")


def load(base: str, token: str, url_for: Callable[[int, int], str], threads: int, requests: int) -> Run:
    """``threads`` threads, each with its own client: a warm-up, then ``requests`` timed requests in turn."""
    run = Run()
    ready = threading.Barrier(threads + 1)

    def one(client: httpx.Client, url: str) -> tuple[float, str]:
        started = time.perf_counter()
        try:
            response = client.get(url)
        except httpx.HTTPError as exc:
            return time.perf_counter() - started, f"{url}: {type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            return elapsed, f"{url}: HTTP {response.status_code}: {response.text[:300]}"
        return elapsed, ""

    def worker(t: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=30) as client:
            for i in range(WARMUP_PER_THREAD):
                one(client, url_for(t, -1 - i))
            ready.wait()
            mine: list[float] = []
            for i in range(requests):
                elapsed, error = one(client, url_for(t, i))
                mine.append(elapsed)
                if error:
                    with run.lock:
                        run.errors += 1
                        run.first_error = run.first_error or error
        with run.lock:
            run.latencies.extend(mine)

    pool = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for thread in pool:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    run.wall = time.perf_counter() - started
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000, help="job records in the table")
    parser.add_argument("--threads", type=int, default=8, help="client threads, one httpx.Client each")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per thread and endpoint")
    parser.add_argument("--endpoints", nargs="+", choices=list(ENDPOINTS), default=["job-detail", "lane-suggestions"])
    parser.add_argument("--rebuild", action="store_true", help="build the rows again even if they are there")
    parser.add_argument("--debug", action="store_true", help="run the server with DJANGO_DEBUG=1")
    parser.add_argument(
        "--server",
        choices=("gunicorn", "django", "runserver"),
        default="gunicorn",
        help="gunicorn: --server-workers processes of 4 threads (gthread; default); django: one process, "
        "runserver's server classes with TCP_NODELAY; runserver: manage.py runserver as is",
    )
    parser.add_argument("--server-workers", type=int, default=2, help="gunicorn's processes (default 2: one per core)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the server child
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    setup_django()

    fixture = fixture_get(args.jobs, rebuild=args.rebuild)
    ids = fixture.job_ids

    def url_for(name: str) -> Callable[[int, int], str]:
        if name == "job-detail":
            return lambda t, i: ENDPOINTS[name].format(id=ids[(t * 7919 + i) % len(ids)])
        return lambda t, i: ENDPOINTS[name]

    paths = {name: url_for(name)(0, 0) for name in args.endpoints}
    queries = queries_per_request(fixture, paths)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp(prefix="trenova-bench-api-")) / "server.log"
    server = start_server(port, kind=args.server, debug=args.debug, log=log, server_workers=args.server_workers)
    runs: dict[tuple[str, int], Run] = {}
    try:
        wait_until_serving(base, paths[args.endpoints[0]], fixture.token, server, log)
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {fixture.token}"}) as client:
            body = client.get(paths.get("lane-suggestions", ENDPOINTS["lane-suggestions"])).json()
            if body.get("count") != fixture.suggestions_listed:
                print(
                    f"warning: the list counts {body.get('count')} suggestions, {fixture.suggestions_listed} expected"
                )
            detail = client.get(ENDPOINTS["job-detail"].format(id=ids[0])).json()
            if detail.get("id") != ids[0]:
                print(f"warning: job detail answered {str(detail)[:200]}")
        for name in args.endpoints:
            # One client first: the time one request takes; then the load, where requests also wait their turn.
            for threads in (1, args.threads):
                run = load(base, fixture.token, url_for(name), threads, args.requests)
                runs[name, threads] = run
                print(
                    f"{name:<17} {threads} thread(s): {len(run.latencies)} requests in {run.wall:.1f} s  "
                    f"p95 {percentile(run.latencies, 0.95) * 1000:.1f} ms  errors {run.errors}",
                    flush=True,
                )
    finally:
        stop_server(server)

    print()
    processes = f" ({args.server_workers} processes)" if args.server == "gunicorn" else ""
    print(
        f"server: {args.server}{processes}, DEBUG {'on' if args.debug else 'off'}; {args.jobs} job records; "
        f"{args.requests} requests per thread and endpoint after {WARMUP_PER_THREAD} warm-up; "
        f"the target is for {args.threads} threads"
    )
    print(
        f"{'endpoint':<17}{'threads':>8}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'req/s':>8}{'errors':>8}"
        f"{'queries':>9}   target p95 < {TARGET_P95_MS:.0f} ms, errors 0"
    )
    met = True
    for (name, threads), run in runs.items():
        ms = [v * 1000 for v in run.latencies]
        p95 = percentile(ms, 0.95)
        ok = p95 < TARGET_P95_MS and run.errors == 0
        verdict = "(one client: info)"
        if threads == args.threads:
            met = met and ok
            verdict = "met" if ok else "MISSED"
        print(
            f"{name:<17}{threads:>8}{len(ms):>6}{statistics.median(ms):>9.1f}{p95:>9.1f}{max(ms):>9.1f}"
            f"{len(ms) / run.wall:>8.0f}{run.errors:>8}{queries[name]:>9}   {verdict}"
        )
    for (name, threads), run in runs.items():
        if run.first_error:
            print(f"first error ({name}, {threads} threads): {run.first_error}")
    print(f"\nserver log: {log}")
    print("RESULT: " + ("all targets met" if met else "some target missed"))


if __name__ == "__main__":
    main()
