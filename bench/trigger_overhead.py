"""Cost of the shipment triggers on a save: saves with triggers vs the same saves without them.

    .venv/bin/python bench/trigger_overhead.py [--saves 300] [--rounds 5]

Each round times, in one process against PostgreSQL and Redis:
  * create   — N shipment creations spread over 10 customers (one analysis job per customer is written
               and pushed; the rest deduplicate into it), triggers connected vs disconnected;
  * status   — N status changes (each writes a `shipment:status_update` job and pushes it), vs disconnected.
It prints the median milliseconds per save and the ratio with/without (target <= 1.3x; docs/decisions.md
says why status changes miss it), and, as a separate figure, how many analysis jobs 1 000 creations for
one customer produce (target: 1).
Uses DATABASE_URL (default: the `trenova_bench` PostgreSQL database) and REDIS_URL (default db 13).
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchenv import setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--saves", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    setup_django()
    from patterns.models import (
        BusinessUnit,
        Customer,
        Location,
        Organization,
        ServiceType,
        Shipment,
        ShipmentStatus,
        ShipmentType,
    )
    from patterns.signals import connect_shipment_triggers, disconnect_shipment_triggers
    from trenova_jobs.holds import delayed_holds_clear
    from trenova_jobs.models import JobRecord
    from trenova_jobs.queues import redis_connection

    org, _ = Organization.objects.get_or_create(slug="bench-triggers", defaults={"name": "Bench triggers"})
    bu, _ = BusinessUnit.objects.get_or_create(organization=org, code="BU", defaults={"name": "Bench"})
    customers = [
        Customer.objects.get_or_create(organization=org, code=f"C{i}", defaults={"name": f"Customer {i}"})[0]
        for i in range(10)
    ]
    origin, _ = Location.objects.get_or_create(
        organization=org, code="CHI", defaults={"name": "Chicago DC", "city": "Chicago", "state": "IL"}
    )
    destination, _ = Location.objects.get_or_create(
        organization=org, code="DAL", defaults={"name": "Dallas DC", "city": "Dallas", "state": "TX"}
    )
    service, _ = ServiceType.objects.get_or_create(organization=org, code="STD")
    kind, _ = ShipmentType.objects.get_or_create(organization=org, code="FTL")
    counter = iter(range(10**9))

    def reset() -> None:
        Shipment.objects.filter(organization=org).delete()
        JobRecord.objects.all().delete()
        delayed_holds_clear()
        redis_connection().flushdb()

    def create(n: int, customer_pool: list) -> list:
        made = []
        for i in range(n):
            made.append(
                Shipment.objects.create(
                    organization=org,
                    business_unit=bu,
                    customer=customer_pool[i % len(customer_pool)],
                    pro_number=f"B{next(counter):09d}",
                    origin_location=origin,
                    destination_location=destination,
                    service_type=service,
                    shipment_type=kind,
                )
            )
        return made

    def timed_create(n: int) -> float:
        reset()
        started = time.perf_counter()
        create(n, customers)
        return (time.perf_counter() - started) / n * 1000

    def timed_status(n: int) -> float:
        shipments = create(n, customers)
        started = time.perf_counter()
        for shipment in shipments:
            shipment.status = ShipmentStatus.ASSIGNED
            shipment.save()
        return (time.perf_counter() - started) / n * 1000

    results: dict[str, list[float]] = {k: [] for k in ("create_on", "create_off", "status_on", "status_off")}
    for r in range(1, args.rounds + 1):
        for triggers in ("off", "on"):
            (connect_shipment_triggers if triggers == "on" else disconnect_shipment_triggers)()
            results[f"create_{triggers}"].append(timed_create(args.saves))
            reset()
            results[f"status_{triggers}"].append(timed_status(args.saves))
        print(
            f"round {r}  create {results['create_off'][-1]:.2f} → {results['create_on'][-1]:.2f} ms   "
            f"status {results['status_off'][-1]:.2f} → {results['status_on'][-1]:.2f} ms",
            flush=True,
        )
    connect_shipment_triggers()
    reset()
    create(1000, customers[:1])
    analyses = JobRecord.objects.filter(job_type="pattern:analyze").count()
    reset()

    print()
    for kind_name in ("create", "status"):
        off, on = statistics.median(results[f"{kind_name}_off"]), statistics.median(results[f"{kind_name}_on"])
        print(f"{kind_name:<7} without triggers {off:6.2f} ms/save   with {on:6.2f} ms/save   ratio {on / off:4.2f}x")
    print(f"1000 creations for one customer -> {analyses} pattern:analyze job(s) (target 1)")


if __name__ == "__main__":
    main()
