"""Shipment saves enqueue their jobs on commit, deduplicated, never failing the save."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from patterns.models import Shipment, ShipmentStatus
from patterns.triggers import shipments_bulk_import
from tests.patterns.factories import CustomerFactory, ShipmentFactory, UserFactory
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.queues import queue_get

pytestmark = pytest.mark.django_db(transaction=True)


def _jobs(job_type: str) -> list[JobRecord]:
    return list(JobRecord.objects.filter(job_type=job_type).order_by("created_at"))


def test_created_shipment_asks_for_a_delayed_deduplicated_analysis(redis_conn):
    owner = UserFactory()
    before = timezone.now()
    shipment = ShipmentFactory(owner=owner)
    [job] = _jobs("pattern:analyze")
    assert job.status == JobStatus.SCHEDULED
    assert job.queue == "pattern"
    assert job.unique_key == f"pattern:analyze:{shipment.organization_id}:{shipment.customer_id}"
    assert before + timedelta(seconds=29) <= job.scheduled_for <= timezone.now() + timedelta(seconds=31)
    assert job.payload["trigger_reason"] == "shipment_created"
    assert job.payload["customer_id"] == shipment.customer_id
    assert job.payload["organization_id"] == shipment.organization_id
    start = timezone.datetime.fromisoformat(job.payload["start_date"])
    assert abs((timezone.now() - start) - timedelta(days=60)) < timedelta(minutes=1)
    assert (job.user_id, job.organization_id) == (owner.pk, shipment.organization_id)
    assert queue_get("pattern").scheduled_job_registry.get_job_ids() == [job.id]
    assert _jobs("shipment:status_update") == []


def test_a_burst_of_200_creations_for_one_customer_makes_one_analysis(redis_conn):
    customer = CustomerFactory()
    first = ShipmentFactory(customer=customer, organization=customer.organization)
    for _ in range(199):
        ShipmentFactory(
            customer=customer,
            organization=customer.organization,
            business_unit=first.business_unit,
            origin_location=first.origin_location,
            destination_location=first.destination_location,
        )
    assert Shipment.objects.filter(customer=customer).count() == 200
    assert len(_jobs("pattern:analyze")) == 1
    assert queue_get("pattern").scheduled_job_registry.count == 1


def test_a_burst_inside_one_transaction_makes_one_analysis(redis_conn):
    customer = CustomerFactory()
    with transaction.atomic():
        for _ in range(20):
            ShipmentFactory(customer=customer, organization=customer.organization)
    assert len(_jobs("pattern:analyze")) == 1


def test_each_customer_gets_its_own_analysis(redis_conn):
    ShipmentFactory()
    ShipmentFactory()
    assert len({j.unique_key for j in _jobs("pattern:analyze")}) == 2


def test_a_rolled_back_save_leaves_no_job(redis_conn):
    with pytest.raises(RuntimeError), transaction.atomic():
        ShipmentFactory()
        raise RuntimeError("the request failed after the save")
    assert JobRecord.objects.count() == 0
    assert queue_get("pattern").scheduled_job_registry.count == 0


def test_redis_down_the_save_succeeds_and_the_job_is_dispatched_later(private_redis):
    from django.core.management import call_command

    private_redis.stop()
    shipment = ShipmentFactory()
    assert Shipment.objects.filter(pk=shipment.pk).exists()
    [job] = _jobs("pattern:analyze")
    assert job.status == JobStatus.PENDING
    private_redis.start()
    call_command("dispatch_jobs")
    job.refresh_from_db()
    assert job.status == JobStatus.SCHEDULED
    assert queue_get("pattern").scheduled_job_registry.get_job_ids() == [job.id]


def test_status_change_notifies_on_the_critical_queue(redis_conn):
    owner = UserFactory()
    shipment = ShipmentFactory(owner=owner)
    shipment.status = ShipmentStatus.ASSIGNED
    shipment.save()
    [job] = _jobs("shipment:status_update")
    assert job.queue == "critical"
    assert job.status == JobStatus.QUEUED
    assert job.payload == {
        "shipment_id": shipment.pk,
        "organization_id": shipment.organization_id,
        "old_status": "New",
        "new_status": "Assigned",
    }
    assert job.user_id == owner.pk
    assert queue_get("critical").get_job_ids() == [job.id]


def test_a_save_without_a_status_change_sends_no_notice(redis_conn):
    shipment = ShipmentFactory()
    shipment.freight_charge_amount = 123
    shipment.save()
    assert _jobs("shipment:status_update") == []


def test_status_is_compared_with_the_database_not_the_loaded_instance(redis_conn):
    shipment = ShipmentFactory()
    stale = Shipment.objects.get(pk=shipment.pk)  # loaded while New
    Shipment.objects.filter(pk=shipment.pk).update(status=ShipmentStatus.IN_TRANSIT)
    stale.status = ShipmentStatus.COMPLETED
    stale.save()
    [notice] = _jobs("shipment:status_update")
    assert (notice.payload["old_status"], notice.payload["new_status"]) == ("InTransit", "Completed")


def test_completion_merges_into_a_pending_analysis(redis_conn):
    shipment = ShipmentFactory()
    shipment.status = ShipmentStatus.COMPLETED
    shipment.save()
    [analysis] = _jobs("pattern:analyze")
    assert analysis.payload["trigger_reason"] == "shipment_created"  # the completion was deduplicated into it
    assert len(_jobs("shipment:status_update")) == 1


def test_completion_asks_for_its_own_analysis_once_the_first_has_finished(redis_conn, monkeypatch):
    shipment = ShipmentFactory()
    # The created-analysis became due 30 s later and ran: its key is free again.
    JobRecord.objects.filter(job_type="pattern:analyze").update(status=JobStatus.SUCCEEDED, unique_lock=None)
    later = timezone.now() + timedelta(seconds=31)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    shipment.status = ShipmentStatus.COMPLETED
    shipment.save()
    latest = _jobs("pattern:analyze")[-1]
    assert latest.payload["trigger_reason"] == "shipment_completed"
    assert latest.scheduled_for >= later + timedelta(seconds=60)


def test_admin_status_change_fires_the_trigger(client, redis_conn):
    shipment = ShipmentFactory()
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(admin)
    url = f"/admin/patterns/shipment/{shipment.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"status": ShipmentStatus.IN_TRANSIT})
    # Split date-times as the admin widgets post them.
    for name in ("planned_pickup_at", "planned_delivery_at", "actual_delivery_at"):
        value = data.pop(name, None)
        if value:
            value = timezone.localtime(value)
            data[f"{name}_0"], data[f"{name}_1"] = value.date().isoformat(), value.time().isoformat()
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    [notice] = _jobs("shipment:status_update")
    assert notice.payload["new_status"] == "InTransit"


def test_a_failing_trigger_never_fails_the_save(redis_conn, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("registry exploded")

    monkeypatch.setattr("patterns.triggers.pattern_analysis_enqueue", broken)
    caplog.set_level(logging.ERROR, logger="patterns")
    shipment = ShipmentFactory()
    assert Shipment.objects.filter(pk=shipment.pk).exists()
    assert "event=trigger_failed" in caplog.text


def test_one_failing_trigger_does_not_stop_the_other(redis_conn, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("registry exploded")

    monkeypatch.setattr("patterns.triggers.pattern_analysis_enqueue", broken)
    shipment = ShipmentFactory()
    shipment.status = ShipmentStatus.COMPLETED  # asks for an analysis (broken) and a status notice
    shipment.save()
    [notice] = _jobs("shipment:status_update")
    assert notice.payload["new_status"] == "Completed"


def test_a_database_error_in_a_trigger_fails_the_save_and_changes_nothing(redis_conn, monkeypatch):
    # A real database error: it aborts the save's transaction, so it must not be swallowed (the save
    # would then roll back without a word) nor hidden behind a savepoint (the save would commit without
    # its job).
    def failing_sql(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_for_the_trigger")

    shipment = ShipmentFactory()
    monkeypatch.setattr("patterns.triggers.enqueue", failing_sql)
    shipment.status = ShipmentStatus.ASSIGNED
    with pytest.raises(DatabaseError, match="no_such_table_for_the_trigger"):
        shipment.save()
    assert Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus.NEW
    assert _jobs("shipment:status_update") == []


def test_bulk_import_asks_for_one_analysis_per_customer(redis_conn):
    from trenova_jobs.holds import delayed_holds_clear

    template = ShipmentFactory()
    JobRecord.objects.all().delete()
    delayed_holds_clear()  # records deleted by hand: forget what this process remembered of them
    other_customer = CustomerFactory(organization=template.organization)
    rows = [
        Shipment(
            organization=template.organization,
            business_unit=template.business_unit,
            customer=template.customer if i % 2 else other_customer,
            pro_number=f"BULK{i:05d}",
            origin_location=template.origin_location,
            destination_location=template.destination_location,
            service_type=template.service_type,
            shipment_type=template.shipment_type,
        )
        for i in range(100)
    ]
    result = shipments_bulk_import(shipments=rows)
    assert result.shipments == 100
    jobs = _jobs("pattern:analyze")
    assert len(jobs) == 2 == len(result.analysis_jobs)
    assert {j.payload["customer_id"] for j in jobs} == {template.customer_id, other_customer.pk}
    assert all(j.payload["trigger_reason"] == "bulk_import" for j in jobs)


@pytest.mark.worker
def test_status_update_job_runs_on_a_real_worker(redis_conn, start_worker):
    from tests.conftest import wait_for

    shipment = ShipmentFactory(pro_number="PRO-77")
    shipment.status = ShipmentStatus.IN_TRANSIT
    shipment.save()
    [notice] = _jobs("shipment:status_update")
    gone = ShipmentFactory()
    gone.status = ShipmentStatus.ASSIGNED
    gone.save()
    [_, orphan] = _jobs("shipment:status_update")
    JobRecord.objects.filter(pk=orphan.pk).update(payload={**orphan.payload, "shipment_id": 10**9})
    start_worker("critical")

    def finished(job_id: str) -> JobRecord | None:
        record = JobRecord.objects.get(pk=job_id)
        return record if record.is_finished else None

    done = wait_for(lambda: finished(notice.id), timeout=30, message="the notice job")
    assert done.status == JobStatus.SUCCEEDED
    assert done.result["message"] == "Shipment PRO-77 is now In transit (was New)"
    failed = wait_for(lambda: finished(orphan.id), timeout=30, message="the orphan job")
    assert (failed.status, failed.attempts) == (JobStatus.FAILED, 1)  # non-retryable despite max_retries=5
    assert "no longer exists" in failed.error


def test_a_burst_after_the_first_save_costs_no_job_query(redis_conn):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = ShipmentFactory()
    template = {
        "organization": first.organization,
        "business_unit": first.business_unit,
        "customer": first.customer,
        "origin_location": first.origin_location,
        "destination_location": first.destination_location,
        "service_type": first.service_type,
        "shipment_type": first.shipment_type,
        "tractor_type": first.tractor_type,
        "trailer_type": first.trailer_type,
    }
    with CaptureQueriesContext(connection) as queries:
        ShipmentFactory(**template)
    assert not [q["sql"] for q in queries.captured_queries if "trenova_jobs_jobrecord" in q["sql"]]
    assert len(_jobs("pattern:analyze")) == 1


def test_cancelling_the_pending_analysis_lets_the_next_save_ask_again(redis_conn):
    from trenova_jobs.actions import job_cancel

    first = ShipmentFactory()
    [job] = _jobs("pattern:analyze")
    job_cancel(record=job)
    ShipmentFactory(customer=first.customer, organization=first.organization)
    jobs = _jobs("pattern:analyze")
    assert [j.status for j in jobs] == [JobStatus.CANCELLED, JobStatus.SCHEDULED]
