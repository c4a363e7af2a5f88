"""Cost of the shipment triggers on a save: no triggers, the plain django-rq peer, and this project's triggers.

    .venv/bin/python bench/trigger_overhead.py [--saves 300] [--rounds 5]

Each round times, in one process against PostgreSQL and Redis, three ways in turn (alternating blocks):
  * off     — no receivers at all;
  * peer    — what a Django user would otherwise write: the same pre_save read of the stored status, and a
              post_save receiver that calls `django_rq.get_queue().enqueue(...)` in `transaction.on_commit`
              (one job per creation and per status change; no durable record, no deduplication);
  * service — this project's triggers (a durable JobRecord written in the save's transaction, the
              per-customer analysis deduplicated and debounced, pushed after commit).
for N shipment creations spread over 10 customers and N status changes. It prints the median
milliseconds per save and the ratios, with the targets: creation service/off <= 1.3x; status change
service/peer <= 1.3x. As a separate figure, how many analysis jobs 1 000 creations for one customer
produce (target: 1).
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
    import django_rq
    from django.db import transaction
    from django.db.models.signals import post_save, pre_save
    from rq.serializers import JSONSerializer

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
    from patterns.signals import connect_shipment_triggers, disconnect_shipment_triggers, remember_status_in_db
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
    peer_queue = django_rq.get_queue("default", serializer=JSONSerializer)

    def peer_saved(sender: type, instance: Shipment, created: bool, **kwargs: object) -> None:
        old = getattr(instance, "_trenova_status_in_db", None)
        if created:
            customer_id = instance.customer_id
            transaction.on_commit(lambda: peer_queue.enqueue("bench.bench_jobs.peer_analyze", customer_id))
        elif old is not None and old != instance.status:
            args = (instance.pk, old, instance.status)
            transaction.on_commit(lambda: peer_queue.enqueue("bench.bench_jobs.peer_status", *args))

    def peer_connect() -> None:
        pre_save.connect(remember_status_in_db, sender=Shipment, dispatch_uid="bench.peer_pre")
        post_save.connect(peer_saved, sender=Shipment, dispatch_uid="bench.peer_post")

    def disconnect_all() -> None:
        disconnect_shipment_triggers()
        pre_save.disconnect(sender=Shipment, dispatch_uid="bench.peer_pre")
        post_save.disconnect(sender=Shipment, dispatch_uid="bench.peer_post")

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

    modes = {
        "off": disconnect_all,
        "peer": lambda: (disconnect_all(), peer_connect()),
        "service": lambda: (disconnect_all(), connect_shipment_triggers()),
    }
    results: dict[str, list[float]] = {f"{k}_{m}": [] for k in ("create", "status") for m in modes}
    for r in range(1, args.rounds + 1):
        for mode, switch in modes.items():
            switch()
            results[f"create_{mode}"].append(timed_create(args.saves))
            reset()
            results[f"status_{mode}"].append(timed_status(args.saves))
        line = "   ".join(
            f"{kind} " + " / ".join(f"{results[f'{kind}_{m}'][-1]:.2f}" for m in modes) for kind in ("create", "status")
        )
        print(f"round {r}  ms/save off / peer / service:  {line}", flush=True)
    disconnect_all()
    connect_shipment_triggers()
    reset()
    create(1000, customers[:1])
    analyses = JobRecord.objects.filter(job_type="pattern:analyze").count()
    reset()

    med = {key: statistics.median(values) for key, values in results.items()}
    print()
    for kind_name in ("create", "status"):
        print(
            f"{kind_name:<7} median ms/save  off {med[f'{kind_name}_off']:6.2f}   peer {med[f'{kind_name}_peer']:6.2f}"
            f"   service {med[f'{kind_name}_service']:6.2f}"
        )
    print(f"ratio   creation service/off     {med['create_service'] / med['create_off']:5.2f}x  (target <= 1.3x)")
    print(f"ratio   status   service/peer    {med['status_service'] / med['status_peer']:5.2f}x  (target <= 1.3x)")
    print(f"        creation service/peer    {med['create_service'] / med['create_peer']:5.2f}x  (no target)")
    print(f"        status   service/off     {med['status_service'] / med['status_off']:5.2f}x  (no target)")
    print(f"1000 creations for one customer -> {analyses} pattern:analyze job(s) (target 1)")


if __name__ == "__main__":
    main()
