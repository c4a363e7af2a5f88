"""At scale, once each: 1 000 shipment triggers for one customer make one analysis job, and two real
workers draining 500 jobs run each of them exactly once."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, transaction

from patterns.models import Shipment
from tests.conftest import wait_for
from tests.patterns.factories import ShipmentFactory
from tests.reliability.processes import workers_beating
from trenova_jobs import enqueue
from trenova_jobs.holds import delayed_holds_clear
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.queues import queue_get
from trenova_jobs.stats import OUTCOMES_KEY

pytestmark = pytest.mark.django_db(transaction=True)

SAVERS = 4
SAVES_EACH = 250


def test_a_thousand_triggers_for_one_customer_within_the_window_make_one_analysis(redis_conn):
    first = ShipmentFactory()
    template = {
        field: getattr(first, field)
        for field in ("organization", "business_unit", "customer", "origin_location", "destination_location")
    }
    start = threading.Barrier(SAVERS)
    errors: list[BaseException] = []

    def save_many(saver: int) -> None:
        try:
            start.wait(timeout=10)  # the first saves race for the unique key in the database
            for i in range(SAVES_EACH):
                if i % 50 == 25:
                    # As if this save came from a process that never saw the hold: the database answers.
                    delayed_holds_clear()
                Shipment.objects.create(pro_number=f"BURST-{saver}-{i:03d}", **template)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=save_many, args=(n,)) for n in range(SAVERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert Shipment.objects.filter(customer=first.customer).count() == 1 + SAVERS * SAVES_EACH

    [analysis] = JobRecord.objects.filter(job_type="pattern:analyze")
    assert analysis.status == JobStatus.SCHEDULED
    assert analysis.unique_lock == f"pattern:analyze:{first.organization_id}:{first.customer_id}"
    assert queue_get("pattern").scheduled_job_registry.get_job_ids() == [analysis.id]
    assert queue_get("pattern").count == 0


@pytest.mark.worker
def test_two_workers_draining_500_jobs_run_each_exactly_once(redis_conn, start_worker):
    names = [f"drain-{n}-{uuid.uuid4().hex[:6]}" for n in range(2)]
    workers = [start_worker("default", "--name", name, "--no-scheduler") for name in names]
    wait_for(lambda: workers_beating(redis_conn, names, workers), timeout=30, message="both workers to beat")
    run = uuid.uuid4().hex[:8]
    with transaction.atomic():  # pushed together at commit: both workers find a full queue
        ids = [enqueue("test:flaky", {"token": f"{run}-{i}"}).id for i in range(500)]

    wait_for(
        lambda: JobRecord.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count() == 500,
        timeout=150,
        interval=0.5,
        message="the 500 jobs to run",
    )
    assert set(JobRecord.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
    with redis_conn.pipeline(transaction=False) as pipe:
        for i, job_id in enumerate(ids):
            pipe.get(f"test:{run}-{i}:count")  # the handler's own count of its runs
            pipe.xlen(f"rq:results:{job_id}")  # rq's record of each execution
            pipe.hget(f"rq:job:{job_id}", "worker_name")
        replies = pipe.execute()
    runs, executions, ran_by = replies[0::3], replies[1::3], replies[2::3]
    assert runs == [b"1"] * 500
    assert executions == [1] * 500
    assert {name.decode() for name in ran_by} == set(names)  # both took part
    assert int(redis_conn.hget(OUTCOMES_KEY, "test:flaky|succeeded")) == 500
    assert queue_get("default").count == 0
