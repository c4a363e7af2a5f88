"""Shipments over the API: saves go through the model, so the triggers fire, and the response names the jobs."""

from __future__ import annotations

import pytest

from patterns.models import Shipment, ShipmentStatus
from tests.api.helpers import assert_error, client_for, count_queries, member
from tests.patterns import factories as f
from trenova_jobs.models import JobRecord

pytestmark = pytest.mark.django_db

LIST = "/api/v1/shipments/"


def detail(pk: int) -> str:
    return f"{LIST}{pk}/"


@pytest.fixture
def planner():
    return member()


def shipment_body(org, **overrides):
    body = {
        "pro_number": "PRO-1001",
        "customer_id": f.CustomerFactory(organization=org).pk,
        "origin_location_id": f.LocationFactory(organization=org).pk,
        "destination_location_id": f.LocationFactory(organization=org).pk,
        "service_type_id": f.ServiceTypeFactory(organization=org).pk,
        "shipment_type_id": f.ShipmentTypeFactory(organization=org).pk,
        "planned_pickup_at": "2025-05-01T08:00:00Z",
        "planned_delivery_at": "2025-05-02T17:30:00-05:00",
        "freight_charge_amount": "1850.00",
    }
    return {**body, **overrides}


def _job_ids(data) -> list[str]:
    return [job["id"] for job in data["jobs"]]


# --- Create ----------------------------------------------------------------------------------------------


def test_creating_a_shipment_fires_its_trigger_and_names_the_analysis_job(redis_conn, planner):
    org = planner.membership.organization
    body = shipment_body(org)
    response = client_for(planner).post(LIST, body)
    assert response.status_code == 201, response.json()
    data = response.json()
    shipment = Shipment.objects.get(pk=data["id"])
    assert (shipment.organization_id, shipment.business_unit_id, shipment.owner_id) == (
        org.pk,
        planner.membership.business_unit_id,
        planner.pk,
    )
    assert (data["pro_number"], data["status"], data["owner_id"]) == ("PRO-1001", "New", planner.pk)
    assert data["customer"]["id"] == body["customer_id"] and data["origin_location"]["id"] == body["origin_location_id"]
    assert data["planned_delivery_at"] == "2025-05-02T22:30:00Z"
    [job] = data["jobs"]
    record = JobRecord.objects.get(pk=job["id"])
    assert (job["job_type"], job["status"], job["deduplicated"]) == ("pattern:analyze", "scheduled", False)
    assert job["url"] == f"/api/v1/jobs/{record.id}/"
    assert (record.payload["trigger_reason"], record.payload["customer_id"]) == (
        "shipment_created",
        body["customer_id"],
    )
    assert record.organization_id == org.pk and record.user_id == planner.pk
    # The shipment's own URL shows it without jobs; the job's URL answers for the same caller.
    client = client_for(planner)
    assert "jobs" not in client.get(detail(shipment.pk)).json()
    assert client.get(job["url"]).json()["status"] == "scheduled"


def test_a_shipment_without_a_customer_asks_for_no_job(redis_conn, planner):
    data = client_for(planner).post(LIST, {"pro_number": "PRO-1"}).json()
    assert data["jobs"] == [] and data["customer"] is None and data["customer_id"] is None
    assert not JobRecord.objects.exists()


def test_a_second_shipment_of_the_customer_folds_into_the_queued_analysis(redis_conn, planner):
    org = planner.membership.organization
    client = client_for(planner)
    first = client.post(LIST, shipment_body(org)).json()
    again = client.post(LIST, shipment_body(org, pro_number="PRO-1002", customer_id=first["customer_id"])).json()
    assert _job_ids(again) == _job_ids(first) and again["jobs"][0]["deduplicated"] is True


@pytest.mark.parametrize(
    "field",
    [
        "customer_id",
        "origin_location_id",
        "destination_location_id",
        "service_type_id",
        "shipment_type_id",
        "tractor_type_id",
        "trailer_type_id",
        "business_unit_id",
    ],
)
def test_an_id_of_another_organization_is_a_400_on_that_field(redis_conn, planner, field):
    other = f.OrganizationFactory()
    foreign = {
        "customer_id": lambda: f.CustomerFactory(organization=other).pk,
        "origin_location_id": lambda: f.LocationFactory(organization=other).pk,
        "destination_location_id": lambda: f.LocationFactory(organization=other).pk,
        "service_type_id": lambda: f.ServiceTypeFactory(organization=other).pk,
        "shipment_type_id": lambda: f.ShipmentTypeFactory(organization=other).pk,
        "tractor_type_id": lambda: f.TractorTypeFactory(organization=other).pk,
        "trailer_type_id": lambda: f.TrailerTypeFactory(organization=other).pk,
        "business_unit_id": lambda: f.BusinessUnitFactory(organization=other).pk,
    }[field]()
    body = shipment_body(planner.membership.organization, **{field: foreign})
    assert_error(client_for(planner).post(LIST, body), 400, "validation_error", field=field)
    assert not Shipment.objects.exists() and not JobRecord.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"pro_number": ""}, "pro_number"),
        ({"status": "Lost"}, "status"),
        ({"planned_pickup_at": "2025-05-01T08:00:00"}, "planned_pickup_at"),  # no offset
        ({"planned_delivery_at": "2025-04-30T08:00:00Z"}, "planned_delivery_at"),  # before the pickup
        ({"freight_charge_amount": "-1.00"}, "freight_charge_amount"),
        ({"hazmat_un_number": "1203"}, "hazmat_un_number"),
        ({"hazmat_class": "10"}, "hazmat_class"),
        ({"customer_id": 987654321}, "customer_id"),
    ],
)
def test_bad_fields_are_400_and_nothing_is_saved_or_enqueued(redis_conn, planner, overrides, field):
    body = shipment_body(planner.membership.organization, **overrides)
    assert_error(client_for(planner).post(LIST, body), 400, "validation_error", field=field)
    assert not Shipment.objects.exists() and not JobRecord.objects.exists()


def test_origin_equal_to_destination_is_a_400_on_the_request_field(redis_conn, planner):
    org = planner.membership.organization
    same = f.LocationFactory(organization=org).pk
    body = shipment_body(org, origin_location_id=same, destination_location_id=same)
    error = assert_error(client_for(planner).post(LIST, body), 400, "validation_error", field="destination_location_id")
    assert "destination_location" not in error["fields"]


def test_a_pro_number_the_organization_uses_is_a_400(redis_conn, planner):
    org = planner.membership.organization
    f.ShipmentFactory(organization=org, pro_number="PRO-7")
    f.ShipmentFactory(pro_number="PRO-8")  # another organization's
    JobRecord.objects.all().delete()
    client = client_for(planner)
    error = assert_error(
        client.post(LIST, shipment_body(org, pro_number="PRO-7")), 400, "validation_error", field="pro_number"
    )
    assert "already exists" in error["fields"]["pro_number"][0]
    assert client.post(LIST, shipment_body(org, pro_number="PRO-8")).status_code == 201


def test_bodies_must_be_json(planner):
    client = client_for(planner)
    assert_error(
        client.post(LIST, "pro_number=1", content_type="application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    )
    assert_error(client.post(LIST, '{"pro_number": "1"', content_type="application/json"), 400, "parse_error")


# --- Change ----------------------------------------------------------------------------------------------


def test_a_status_change_names_the_notice_job_and_completion_the_analysis_too(redis_conn, planner):
    org = planner.membership.organization
    client = client_for(planner)
    created = client.post(LIST, shipment_body(org)).json()
    [analysis] = created["jobs"]
    moving = client.patch(detail(created["id"]), {"status": "InTransit"}).json()
    [notice] = moving["jobs"]
    assert (moving["status"], notice["job_type"]) == ("InTransit", "shipment:status_update")
    assert JobRecord.objects.get(pk=notice["id"]).payload["old_status"] == "New"
    done = client.patch(detail(created["id"]), {"status": "Completed"}).json()
    assert [job["job_type"] for job in done["jobs"]] == ["pattern:analyze", "shipment:status_update"]
    assert done["jobs"][0]["id"] == analysis["id"] and done["jobs"][0]["deduplicated"] is True
    # No status change: no job.
    assert client.patch(detail(created["id"]), {"freight_charge_amount": "2000.00"}).json()["jobs"] == []


def test_put_replaces_the_fields_given(redis_conn, planner):
    org = planner.membership.organization
    shipment = f.ShipmentFactory(organization=org, owner=planner)
    body = shipment_body(
        org, pro_number="PRO-NEW", status="Assigned", is_hazmat=True, hazmat_un_number="UN1203", hazmat_class="3"
    )
    response = client_for(planner).put(detail(shipment.pk), body)
    assert response.status_code == 200, response.json()
    shipment.refresh_from_db()
    assert (shipment.pro_number, shipment.status, shipment.hazmat_un_number) == ("PRO-NEW", "Assigned", "UN1203")
    assert shipment.customer_id == body["customer_id"]
    assert [job["job_type"] for job in response.json()["jobs"]] == ["shipment:status_update"]


def test_changes_follow_the_same_rules(redis_conn, planner):
    org = planner.membership.organization
    shipment = f.ShipmentFactory(organization=org)
    f.ShipmentFactory(organization=org, pro_number="TAKEN")
    JobRecord.objects.all().delete()
    client = client_for(planner)
    assert_error(
        client.patch(detail(shipment.pk), {"pro_number": "TAKEN"}), 400, "validation_error", field="pro_number"
    )
    assert_error(
        client.patch(detail(shipment.pk), {"destination_location_id": shipment.origin_location_id}),
        400,
        "validation_error",
        field="destination_location_id",
    )
    assert_error(
        client.patch(detail(shipment.pk), {"customer_id": f.CustomerFactory().pk}),
        400,
        "validation_error",
        field="customer_id",
    )
    assert_error(
        client.patch(
            detail(shipment.pk),
            {
                "status": "Completed",
                "planned_pickup_at": "2026-01-01T00:00:00Z",
                "planned_delivery_at": "2025-01-01T00:00:00Z",
            },
        ),
        400,
        "validation_error",
        field="planned_delivery_at",
    )
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.NEW and not JobRecord.objects.exists()
    # Its own PRO number is no clash.
    assert client.patch(detail(shipment.pk), {"pro_number": shipment.pro_number}).status_code == 200


# --- List and detail -------------------------------------------------------------------------------------


def test_the_list_is_newest_first_filtered_and_the_callers_organization_only(redis_conn, planner):
    org = planner.membership.organization
    customer = f.CustomerFactory(organization=org)
    old = f.ShipmentFactory(organization=org, customer=customer, pro_number="PRO-A", status=ShipmentStatus.IN_TRANSIT)
    new = f.ShipmentFactory(organization=org, pro_number="PRO-B", is_hazmat=True)
    f.ShipmentFactory(pro_number="PRO-A")  # another organization's
    client = client_for(planner)
    ids = lambda query="": [row["id"] for row in client.get(f"{LIST}{query}").json()["results"]]  # noqa: E731
    assert ids() == [new.pk, old.pk]
    assert ids("?ordering=created_at") == [old.pk, new.pk]
    assert ids("?ordering=-pro_number") == [new.pk, old.pk]
    assert ids("?status=InTransit") == [old.pk]
    assert ids("?status=InTransit&status=New") == [new.pk, old.pk]
    assert ids(f"?customer={customer.pk}") == [old.pk]
    assert ids("?pro_number=pro-a") == [old.pk]
    assert ids("?is_hazmat=true") == [new.pk]
    assert_error(client.get(f"{LIST}?status=Lost"), 400, "validation_error", field="status")
    assert_error(client.get(f"{LIST}?customer=x"), 400, "validation_error", field="customer")


def test_the_list_costs_the_same_queries_whatever_the_page_size(redis_conn, planner):
    org = planner.membership.organization
    client = client_for(planner)
    for _ in range(3):
        f.ShipmentFactory(organization=org)
    few = count_queries(lambda: client.get(LIST))
    for _ in range(37):
        f.ShipmentFactory(organization=org)
    assert count_queries(lambda: client.get(f"{LIST}?page_size=100")) == few


def test_the_detail_shows_one_shipment(redis_conn, planner):
    shipment = f.ShipmentFactory(organization=planner.membership.organization, owner=planner)
    data = client_for(planner).get(detail(shipment.pk)).json()
    assert (data["id"], data["pro_number"], data["owner_id"]) == (shipment.pk, shipment.pro_number, planner.pk)
    assert data["tractor_type"]["equipment_class"] == "Tractor" and data["trailer_type"]["equipment_class"] == "Trailer"
    assert data["compliance_issues"] == []


def test_another_organizations_shipment_is_404_for_every_method(redis_conn, planner):
    theirs = f.ShipmentFactory(status=ShipmentStatus.NEW)
    JobRecord.objects.all().delete()
    client = client_for(planner)
    assert_error(client.get(detail(theirs.pk)), 404, "not_found")
    assert_error(client.put(detail(theirs.pk), shipment_body(planner.membership.organization)), 404, "not_found")
    assert_error(client.patch(detail(theirs.pk), {"status": "Completed"}), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.status == ShipmentStatus.NEW and not JobRecord.objects.exists()


def test_anonymous_is_401_without_membership_403_and_delete_405(redis_conn, planner):
    shipment = f.ShipmentFactory(organization=planner.membership.organization)
    for client, status, code in (
        (client_for(None), 401, "not_authenticated"),
        (client_for(f.UserFactory()), 403, "permission_denied"),
    ):
        assert_error(client.get(LIST), status, code)
        assert_error(client.post(LIST, {"pro_number": "X"}), status, code)
        assert_error(client.get(detail(shipment.pk)), status, code)
        assert_error(client.patch(detail(shipment.pk), {"status": "Completed"}), status, code)
    assert_error(client_for(planner).delete(detail(shipment.pk)), 405, "method_not_allowed")
