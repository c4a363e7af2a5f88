"""shipment:delay: the sweep that marks overdue shipments Delayed, the owner's notice, and both on a real worker."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from notifications.models import Notification
from patterns.jobs import ShipmentDelayPayload, handle_shipment_delay
from patterns.models import Shipment, ShipmentStatus
from patterns.services.delays import delay_notice_unique_key, shipment_delay_notice, shipments_delay_overdue
from tests.conftest import wait_for
from tests.patterns import factories as f
from trenova_jobs import NonRetryableError, PayloadValidationError, enqueue
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.registry import JobContext, registry_get


def _ctx() -> JobContext:
    return JobContext(
        job_id="job_DIRECT",
        job_type="shipment:delay",
        attempt=1,
        max_retries=2,
        organization_id=None,
        business_unit_id=None,
        user_id=None,
    )


def _overdue(hours: float = 3, **kwargs) -> Shipment:
    """An undelivered shipment whose planned delivery was ``hours`` ago."""
    delivery = timezone.now() - timedelta(hours=hours)
    return f.ShipmentFactory(planned_pickup_at=delivery - timedelta(hours=10), planned_delivery_at=delivery, **kwargs)


def _jobs(job_type: str) -> list[JobRecord]:
    return list(JobRecord.objects.filter(job_type=job_type).order_by("created_at", "id"))


def _status(shipment: Shipment) -> str:
    return Shipment.objects.values_list("status", flat=True).get(pk=shipment.pk)


def test_registered_on_the_shipment_queue_with_two_retries() -> None:
    spec = registry_get("shipment:delay")
    assert (spec.queue, spec.max_retries) == ("shipment", 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload", [{"shipment_id": 1}, {"organization_id": 1}, {"shipment_id": "1", "organization_id": 1}]
)
def test_a_notice_needs_both_the_shipment_and_its_organization(payload: dict) -> None:
    with pytest.raises(PayloadValidationError):
        enqueue("shipment:delay", payload)


@pytest.mark.django_db
def test_the_sweep_marks_only_open_undelivered_overdue_shipments_delayed() -> None:
    owner = f.UserFactory()
    org_a, org_b = f.OrganizationFactory(), f.OrganizationFactory()
    due_new = _overdue(organization=org_a, status=ShipmentStatus.NEW, owner=owner, pro_number="PRO-A1")
    due_transit = _overdue(organization=org_b, status=ShipmentStatus.IN_TRANSIT, pro_number="PRO-B1")
    due_assigned = _overdue(organization=org_b, status=ShipmentStatus.ASSIGNED, owner=owner, pro_number="PRO-B2")
    left_alone = [
        _overdue(organization=org_a, status=ShipmentStatus.IN_TRANSIT, actual_delivery_at=timezone.now()),
        _overdue(hours=-2, organization=org_a, status=ShipmentStatus.IN_TRANSIT),  # due in two hours
        f.ShipmentFactory(organization=org_a, planned_pickup_at=None, planned_delivery_at=None),
        *(_overdue(organization=org_a, status=status) for status in ("Completed", "Billed", "Canceled", "Delayed")),
    ]
    before = {s.pk: (s.status, s.updated_at) for s in left_alone}
    status_updates = len(_jobs("shipment:status_update"))
    started = timezone.now()

    result = shipments_delay_overdue().as_json()

    assert result["delayed"] == 3 and result["notices"] == 2
    assert result["message"].startswith("3 shipments marked Delayed (past planned delivery): ")
    assert set(result["pro_numbers"]) == {"PRO-A1", "PRO-B1", "PRO-B2"}
    for shipment in (due_new, due_transit, due_assigned):
        shipment.refresh_from_db()
        assert shipment.status == ShipmentStatus.DELAYED and shipment.updated_at >= started
    assert {s.pk: (s.status, s.updated_at) for s in Shipment.objects.filter(pk__in=before)} == before
    # The delay notice is the owner's notice of this transition: no status-change job besides it.
    assert len(_jobs("shipment:status_update")) == status_updates
    notices = _jobs("shipment:delay")
    assert {(n.payload["shipment_id"], n.payload["organization_id"]) for n in notices} == {
        (due_new.pk, org_a.pk),
        (due_assigned.pk, org_b.pk),
    }
    for notice in notices:
        shipment = due_new if notice.payload["shipment_id"] == due_new.pk else due_assigned
        assert notice.user_id == owner.pk and notice.queue == "shipment"
        assert (notice.organization_id, notice.business_unit_id) == (
            shipment.organization_id,
            shipment.business_unit_id,
        )
        assert notice.unique_key == delay_notice_unique_key(shipment.pk) == f"shipment:delay:{shipment.pk}"

    # Again: nothing is eligible any more, nobody is told twice.
    assert shipments_delay_overdue().as_json() == {
        "delayed": 0,
        "notices": 0,
        "pro_numbers": [],
        "message": "No shipments past planned delivery to mark Delayed",
    }
    assert len(_jobs("shipment:delay")) == 2


@pytest.mark.django_db
def test_batches_cover_everything_and_the_message_caps_the_pro_list() -> None:
    org = f.OrganizationFactory()
    for i in range(13):
        _overdue(hours=20 - i, organization=org, pro_number=f"PRO-{i:02d}")
    result = shipments_delay_overdue(batch_size=4)
    assert result.delayed == 13 and result.notices == 0  # no owners
    assert result.pro_numbers == [f"PRO-{i:02d}" for i in range(10)]  # most overdue first
    assert result.message == (
        "13 shipments marked Delayed (past planned delivery): "
        "PRO-00, PRO-01, PRO-02, PRO-03, PRO-04, PRO-05, PRO-06, PRO-07, PRO-08, PRO-09 and 3 more"
    )
    assert not Shipment.objects.exclude(status=ShipmentStatus.DELAYED).exists()


@pytest.mark.django_db
def test_a_repeated_sweep_while_a_notice_waits_folds_into_it() -> None:
    owner = f.UserFactory()
    shipment = _overdue(owner=owner)
    assert shipments_delay_overdue().notices == 1
    # Someone sets it back in transit; it is overdue again at the next sweep while the first notice still waits.
    Shipment.objects.filter(pk=shipment.pk).update(status=ShipmentStatus.IN_TRANSIT)
    again = shipments_delay_overdue()
    assert (again.delayed, again.notices) == (1, 0)
    assert len(_jobs("shipment:delay")) == 1


@pytest.mark.django_db(transaction=True)
def test_a_shipment_being_saved_meanwhile_is_left_to_the_next_sweep() -> None:
    busy, free = _overdue(pro_number="PRO-BUSY"), _overdue(pro_number="PRO-FREE")
    locked, release = threading.Event(), threading.Event()

    def editor() -> None:
        # Another session holds the row (an edit in progress) and then records the delivery.
        try:
            with transaction.atomic():
                Shipment.objects.select_for_update().get(pk=busy.pk)
                locked.set()
                release.wait(10)
                Shipment.objects.filter(pk=busy.pk).update(actual_delivery_at=timezone.now())
        finally:
            connections.close_all()

    thread = threading.Thread(target=editor)
    thread.start()
    try:
        assert locked.wait(10)
        result = shipments_delay_overdue()  # does not wait for the locked row
    finally:
        release.set()
        thread.join(10)
    assert (result.delayed, result.pro_numbers) == (1, ["PRO-FREE"])
    assert _status(free) == ShipmentStatus.DELAYED
    # The editor's change stands; the delivered shipment is not eligible any more.
    assert shipments_delay_overdue().delayed == 0
    assert _status(busy) == ShipmentStatus.NEW
    connection.close()


@pytest.mark.django_db
def test_the_notice_names_the_shipment_customer_route_and_due_time() -> None:
    org = f.OrganizationFactory()
    shipment = f.ShipmentFactory(
        organization=org,
        pro_number="PRO-1001",
        status=ShipmentStatus.DELAYED,
        customer=f.CustomerFactory(organization=org, name="Acme Foods"),
        origin_location=f.LocationFactory(organization=org, city="Dallas"),
        destination_location=f.LocationFactory(organization=org, city="Chicago"),
        planned_pickup_at=datetime(2025, 11, 29, 8, 0, tzinfo=UTC),
        planned_delivery_at=datetime(2025, 12, 1, 17, 0, tzinfo=UTC),
    )
    payload = ShipmentDelayPayload(shipment_id=shipment.pk, organization_id=org.pk)
    text = (
        "Shipment PRO-1001 (Acme Foods, Dallas → Chicago) was due for delivery on 2025-12-01 17:00 UTC "
        "and is now Delayed."
    )
    assert handle_shipment_delay(payload, _ctx()) == text
    # Delivered since the sweep: the notice says so rather than call it Delayed.
    Shipment.objects.filter(pk=shipment.pk).update(status=ShipmentStatus.COMPLETED, customer=None)
    assert handle_shipment_delay(payload, _ctx()) == (
        "Shipment PRO-1001 (Dallas → Chicago) was due for delivery on 2025-12-01 17:00 UTC and was marked Delayed; "
        "it is now Completed."
    )
    bare = Shipment(pro_number="PRO-2", status=ShipmentStatus.DELAYED)
    assert shipment_delay_notice(shipment=bare) == "Shipment PRO-2 is past its planned delivery and is now Delayed."


@pytest.mark.django_db
def test_a_notice_for_a_shipment_that_is_gone_fails_without_retries() -> None:
    shipment = _overdue()
    other_org = f.OrganizationFactory()
    with pytest.raises(NonRetryableError, match="no longer exists"):
        handle_shipment_delay(ShipmentDelayPayload(shipment_id=shipment.pk, organization_id=other_org.pk), _ctx())
    with pytest.raises(NonRetryableError, match="no longer exists"):
        handle_shipment_delay(ShipmentDelayPayload(shipment_id=10**9, organization_id=shipment.organization_id), _ctx())


@pytest.mark.django_db
def test_the_sweep_handler_returns_the_sweep_result() -> None:
    _overdue(pro_number="PRO-9")
    assert handle_shipment_delay(ShipmentDelayPayload(), _ctx()) == {
        "delayed": 1,
        "notices": 0,
        "pro_numbers": ["PRO-9"],
        "message": "1 shipment marked Delayed (past planned delivery): PRO-9",
    }


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_sweep_and_notice_on_a_real_worker_notify_the_owner_once(redis_conn, start_worker) -> None:
    owner = f.UserFactory()
    org = f.OrganizationFactory()
    shipment = _overdue(
        organization=org,
        owner=owner,
        pro_number="PRO-4242",
        customer=f.CustomerFactory(organization=org, name="Acme Foods"),
        origin_location=f.LocationFactory(organization=org, city="Dallas"),
        destination_location=f.LocationFactory(organization=org, city="Chicago"),
    )
    _overdue(organization=org, pro_number="PRO-NOBODY")  # no owner: delayed, nobody to tell
    start_worker("shipment")

    def finished(record_id: str) -> JobRecord | None:
        record = JobRecord.objects.get(pk=record_id)
        return record if record.is_finished else None

    sweep = enqueue("shipment:delay", {})
    done = wait_for(lambda: finished(sweep.id), timeout=60, message="the delay sweep")
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert (done.result["delayed"], done.result["notices"]) == (2, 1)
    [notice] = JobRecord.objects.filter(job_type="shipment:delay", payload__shipment_id=shipment.pk)
    notice = wait_for(lambda: finished(notice.id), timeout=60, message="the delay notice")
    assert notice.status == JobStatus.SUCCEEDED, notice.error
    shipment.refresh_from_db()
    text = (
        f"Shipment PRO-4242 (Acme Foods, Dallas → Chicago) was due for delivery on "
        f"{shipment.planned_delivery_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC and is now Delayed."
    )
    assert notice.result == text
    [notification] = Notification.objects.all()  # the sweep has no user: only the owner's notice
    assert (notification.user_id, notification.title, notification.message) == (
        owner.pk,
        "Shipment Delay Notice!",
        text,
    )
    assert notification.priority == "medium" and notification.job_id == notice.id

    # A second sweep changes nothing and notifies nobody.
    again = enqueue("shipment:delay", {})
    done = wait_for(lambda: finished(again.id), timeout=60, message="the second sweep")
    assert done.status == JobStatus.SUCCEEDED and (done.result["delayed"], done.result["notices"]) == (0, 0)
    assert JobRecord.objects.filter(job_type="shipment:delay").count() == 3  # two sweeps, one notice
    assert Notification.objects.count() == 1
    assert _status(shipment) == ShipmentStatus.DELAYED
