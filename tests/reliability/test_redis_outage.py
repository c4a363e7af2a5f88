"""Redis stopped while shipments are saved: every save succeeds, and once Redis is back every job the saves
asked for is dispatched and run exactly once, by two workers that rode out the outage.

The outbox unit tests (tests/trenova_jobs/test_outbox.py), the single-shipment dispatch
(tests/patterns/test_triggers.py) and a worker's own sweep (tests/trenova_jobs/test_worker.py) each cover a
part; here it is the whole path, with two dispatchers racing and rq's and the handler's own counts checked.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from notifications.models import Notification
from patterns.models import Shipment, ShipmentStatus
from tests.conftest import wait_for
from tests.patterns.factories import CustomerFactory, OrganizationFactory, ShipmentFactory, UserFactory
from tests.reliability.processes import workers_beating
from trenova_jobs.models import JobRecord, JobStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

CUSTOMERS = 3
SHIPMENTS = 12


def test_shipments_saved_while_redis_is_down_save_and_each_job_runs_once_when_it_returns(private_redis, start_worker):
    server = redis.Redis.from_url(private_redis.url)
    names = [f"outage-{n}-{uuid.uuid4().hex[:6]}" for n in range(2)]
    workers = [start_worker("--name", name, env={"REDIS_URL": private_redis.url}) for name in names]
    wait_for(lambda: workers_beating(server, names, workers), timeout=30, message="both workers to beat")
    org = OrganizationFactory()
    owner = UserFactory(organization=org)
    customers = [CustomerFactory(organization=org) for _ in range(CUSTOMERS)]
    template = ShipmentFactory(organization=org, customer=None, owner=owner)  # no customer: asks for no job
    assert not JobRecord.objects.exists()
    places = {
        field: getattr(template, field)
        for field in ("business_unit", "origin_location", "destination_location", "service_type", "shipment_type")
    }

    private_redis.stop()
    saved = []
    for i in range(SHIPMENTS):
        shipment = Shipment.objects.create(
            organization=org, customer=customers[i % CUSTOMERS], owner=owner, pro_number=f"OUT-{i:03d}", **places
        )
        shipment.status = ShipmentStatus.ASSIGNED
        shipment.save()
        saved.append(shipment.pk)
    assert set(Shipment.objects.filter(pk__in=saved).values_list("status", flat=True)) == {ShipmentStatus.ASSIGNED}
    records = JobRecord.objects.all()
    assert set(records.values_list("status", flat=True)) == {JobStatus.PENDING}  # all in the outbox
    analyses = JobRecord.objects.filter(job_type="pattern:analyze")
    notices = JobRecord.objects.filter(job_type="shipment:status_update")
    assert (analyses.count(), notices.count()) == (CUSTOMERS, SHIPMENTS)  # deduplicated by the database alone
    # The outage outlasted the analyses' 30 s delay: they are due as soon as they are pushed.
    analyses.update(scheduled_for=timezone.now() - timedelta(seconds=1))
    ids = list(records.values_list("id", flat=True))

    private_redis.start()
    wait_for(
        lambda: JobRecord.objects.filter(status=JobStatus.SUCCEEDED).count() == len(ids),
        timeout=90,
        interval=0.5,
        message="every job to be dispatched and run",
    )
    assert all(worker.poll() is None for worker in workers), "a worker exited during the outage"
    assert (analyses.count(), notices.count()) == (CUSTOMERS, SHIPMENTS)  # no record was written twice
    assert set(records.values_list("attempts", flat=True)) == {1}
    with server.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.xlen(f"rq:results:{job_id}")  # rq's record of each execution
            pipe.get(f"test:signal:succeeded:{job_id}")  # the outcome signal, counted by tests' receiver
        replies = pipe.execute()
    assert replies[0::2] == [1] * len(ids)
    assert replies[1::2] == [b"1"] * len(ids)
    assert sorted(Notification.objects.filter(user=owner).values_list("job_id", flat=True)) == sorted(ids)
    assert {r.result["current_status"] for r in notices} == {ShipmentStatus.ASSIGNED}
