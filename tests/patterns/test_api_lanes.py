"""Dedicated lanes over the API: list, create, show, change; the model's rules as 400s, a taken name as 409."""

from __future__ import annotations

import pytest

from patterns.models import DedicatedLane
from tests.api.helpers import assert_error, client_for, count_queries, member
from tests.patterns import factories as f

pytestmark = pytest.mark.django_db

LIST = "/api/v1/dedicated-lanes/"


def detail(pk: int) -> str:
    return f"{LIST}{pk}/"


@pytest.fixture
def planner():
    return member()


def lane_body(org, **overrides):
    """A valid create body: rows of ``org``."""
    body = {
        "name": "Chicago – Dallas",
        "customer_id": f.CustomerFactory(organization=org).pk,
        "origin_location_id": f.LocationFactory(organization=org).pk,
        "destination_location_id": f.LocationFactory(organization=org).pk,
        "service_type_id": f.ServiceTypeFactory(organization=org).pk,
        "shipment_type_id": f.ShipmentTypeFactory(organization=org).pk,
    }
    return {**body, **overrides}


# --- Create ----------------------------------------------------------------------------------------------


def test_a_lane_is_created_in_the_callers_organization_and_business_unit(planner):
    org = planner.membership.organization
    tractor = f.TractorTypeFactory(organization=org)
    driver = f.WorkerFactory(organization=org)
    body = lane_body(org, tractor_type_id=tractor.pk, primary_worker_id=driver.pk, auto_assign=True)
    response = client_for(planner).post(LIST, body)
    assert response.status_code == 201, response.json()
    data = response.json()
    lane = DedicatedLane.objects.get(pk=data["id"])
    assert (lane.organization_id, lane.business_unit_id) == (org.pk, planner.membership.business_unit_id)
    assert (data["name"], data["status"], data["auto_assign"]) == ("Chicago – Dallas", "Active", True)
    assert data["business_unit_id"] == planner.membership.business_unit_id
    assert data["customer_id"] == body["customer_id"] == data["customer"]["id"]
    assert data["origin_location"]["id"] == body["origin_location_id"]
    assert (data["tractor_type_id"], data["tractor_type"]["code"]) == (tractor.pk, tractor.code)
    assert data["trailer_type_id"] is None and data["trailer_type"] is None
    assert data["primary_worker"]["code"] == driver.code and data["secondary_worker"] is None


def test_another_business_unit_of_the_organization_may_own_it(planner):
    org = planner.membership.organization
    unit = f.BusinessUnitFactory(organization=org)
    data = client_for(planner).post(LIST, lane_body(org, business_unit_id=unit.pk, status="Inactive")).json()
    assert (data["business_unit_id"], data["status"]) == (unit.pk, "Inactive")


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
        "primary_worker_id",
        "secondary_worker_id",
        "business_unit_id",
    ],
)
def test_an_id_of_another_organization_is_a_400_on_that_field(planner, field):
    other = f.OrganizationFactory()
    foreign = {
        "customer_id": lambda: f.CustomerFactory(organization=other).pk,
        "origin_location_id": lambda: f.LocationFactory(organization=other).pk,
        "destination_location_id": lambda: f.LocationFactory(organization=other).pk,
        "service_type_id": lambda: f.ServiceTypeFactory(organization=other).pk,
        "shipment_type_id": lambda: f.ShipmentTypeFactory(organization=other).pk,
        "tractor_type_id": lambda: f.TractorTypeFactory(organization=other).pk,
        "trailer_type_id": lambda: f.TrailerTypeFactory(organization=other).pk,
        "primary_worker_id": lambda: f.WorkerFactory(organization=other).pk,
        "secondary_worker_id": lambda: f.WorkerFactory(organization=other).pk,
        "business_unit_id": lambda: f.BusinessUnitFactory(organization=other).pk,
    }[field]()
    body = lane_body(planner.membership.organization, **{field: foreign})
    assert_error(client_for(planner).post(LIST, body), 400, "validation_error", field=field)
    assert not DedicatedLane.objects.exists()


def test_the_models_rules_are_400s_under_the_request_field_names(planner):
    org = planner.membership.organization
    client = client_for(planner)
    same = f.LocationFactory(organization=org).pk
    error = assert_error(
        client.post(LIST, lane_body(org, origin_location_id=same, destination_location_id=same)),
        400,
        "validation_error",
        field="destination_location_id",
    )
    assert "differ" in error["fields"]["destination_location_id"][0]
    driver = f.WorkerFactory(organization=org).pk
    assert_error(
        client.post(LIST, lane_body(org, primary_worker_id=driver, secondary_worker_id=driver)),
        400,
        "validation_error",
        field="secondary_worker_id",
    )
    assert_error(client.post(LIST, lane_body(org, auto_assign=True)), 400, "validation_error", field="auto_assign")
    assert not DedicatedLane.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"status": "Paused"}, "status"),
        ({"customer_id": None}, "customer_id"),
        ({"customer_id": "one"}, "customer_id"),
        ({"service_type_id": 987654321}, "service_type_id"),
    ],
)
def test_bad_fields_are_400(planner, overrides, field):
    body = lane_body(planner.membership.organization, **overrides)
    assert_error(client_for(planner).post(LIST, body), 400, "validation_error", field=field)


def test_required_fields_are_named(planner):
    error = assert_error(client_for(planner).post(LIST, {}), 400, "validation_error")
    assert set(error["fields"]) == {
        "name",
        "customer_id",
        "origin_location_id",
        "destination_location_id",
        "service_type_id",
        "shipment_type_id",
    }


def test_a_taken_name_is_a_409_in_any_case(planner):
    org = planner.membership.organization
    f.DedicatedLaneFactory(organization=org, name="Chicago – Dallas")
    f.DedicatedLaneFactory(name="Elsewhere")  # another organization's names are free
    client = client_for(planner)
    assert_error(client.post(LIST, lane_body(org, name="CHICAGO – DALLAS")), 409, "conflict", field="name")
    assert client.post(LIST, lane_body(org, name="elsewhere")).status_code == 201


def test_bodies_must_be_json(planner):
    client = client_for(planner)
    assert_error(
        client.post(LIST, "name=x", content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type"
    )
    assert_error(client.post(LIST, "{nope", content_type="application/json"), 400, "parse_error")


# --- List and detail -------------------------------------------------------------------------------------


def test_the_list_is_by_name_filtered_and_the_callers_organization_only(planner):
    org = planner.membership.organization
    customer = f.CustomerFactory(organization=org)
    b = f.DedicatedLaneFactory(organization=org, name="B lane", customer=customer)
    a = f.DedicatedLaneFactory(organization=org, name="A lane", status="Inactive")
    f.DedicatedLaneFactory(name="0 theirs")
    client = client_for(planner)
    ids = lambda query="": [row["id"] for row in client.get(f"{LIST}{query}").json()["results"]]  # noqa: E731
    assert ids() == [a.pk, b.pk]
    assert ids("?status=Active") == [b.pk]
    assert ids(f"?customer={customer.pk}") == [b.pk]
    assert ids(f"?origin_location={a.origin_location_id}") == [a.pk]
    assert ids(f"?destination_location={b.destination_location_id}") == [b.pk]
    assert ids("?ordering=-name") == [b.pk, a.pk]
    assert_error(client.get(f"{LIST}?status=Paused"), 400, "validation_error", field="status")


def test_the_list_costs_the_same_queries_whatever_the_page_size(planner):
    org = planner.membership.organization
    client = client_for(planner)

    def lanes(count):  # every lane field set: a prefetch with no ids to fetch makes no query
        for _ in range(count):
            f.DedicatedLaneFactory(
                organization=org,
                with_drivers=True,
                tractor_type=f.TractorTypeFactory(organization=org),
                trailer_type=f.TrailerTypeFactory(organization=org),
            )

    lanes(3)
    few = count_queries(lambda: client.get(LIST))
    lanes(37)
    assert count_queries(lambda: client.get(f"{LIST}?page_size=100")) == few


def test_the_detail_shows_one_lane(planner):
    lane = f.DedicatedLaneFactory(organization=planner.membership.organization, with_drivers=True)
    data = client_for(planner).get(detail(lane.pk)).json()
    assert (data["id"], data["name"], data["primary_worker_id"]) == (lane.pk, lane.name, lane.primary_worker_id)
    assert data["secondary_worker"]["first_name"] == lane.secondary_worker.first_name


# --- Change ----------------------------------------------------------------------------------------------


def test_put_changes_the_lane_and_patch_some_fields(planner):
    org = planner.membership.organization
    lane = f.DedicatedLaneFactory(organization=org, name="Old name")
    client = client_for(planner)
    body = lane_body(org, name="New name", status="Inactive")
    response = client.put(detail(lane.pk), body)
    assert response.status_code == 200, response.json()
    lane.refresh_from_db()
    assert (lane.name, lane.status, lane.customer_id) == ("New name", "Inactive", body["customer_id"])
    driver = f.WorkerFactory(organization=org)
    data = client.patch(detail(lane.pk), {"primary_worker_id": driver.pk, "auto_assign": True}).json()
    assert (data["name"], data["primary_worker_id"], data["auto_assign"]) == ("New name", driver.pk, True)
    # Its own name in another case is no clash.
    assert client.patch(detail(lane.pk), {"name": "NEW NAME"}).json()["name"] == "NEW NAME"


def test_put_needs_the_required_fields(planner):
    lane = f.DedicatedLaneFactory(organization=planner.membership.organization)
    error = assert_error(client_for(planner).put(detail(lane.pk), {"name": "x"}), 400, "validation_error")
    assert "customer_id" in error["fields"]


def test_changes_follow_the_same_rules(planner):
    org = planner.membership.organization
    lane = f.DedicatedLaneFactory(organization=org, name="Mine")
    f.DedicatedLaneFactory(organization=org, name="Taken")
    client = client_for(planner)
    assert_error(client.patch(detail(lane.pk), {"name": "taken"}), 409, "conflict", field="name")
    assert_error(
        client.patch(detail(lane.pk), {"destination_location_id": lane.origin_location_id}),
        400,
        "validation_error",
        field="destination_location_id",
    )
    assert_error(
        client.patch(detail(lane.pk), {"customer_id": f.CustomerFactory().pk}),
        400,
        "validation_error",
        field="customer_id",
    )
    assert_error(client.patch(detail(lane.pk), {"auto_assign": True}), 400, "validation_error", field="auto_assign")
    lane.refresh_from_db()
    assert (lane.name, lane.auto_assign) == ("Mine", False)


def test_another_organizations_lane_is_404_for_every_method(planner):
    theirs = f.DedicatedLaneFactory(name="Theirs")
    client = client_for(planner)
    assert_error(client.get(detail(theirs.pk)), 404, "not_found")
    assert_error(client.put(detail(theirs.pk), lane_body(planner.membership.organization)), 404, "not_found")
    assert_error(client.patch(detail(theirs.pk), {"name": "Mine now"}), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_anonymous_is_401_without_membership_403_and_delete_405(planner):
    lane = f.DedicatedLaneFactory(organization=planner.membership.organization)
    for client, status, code in (
        (client_for(None), 401, "not_authenticated"),
        (client_for(f.UserFactory()), 403, "permission_denied"),
    ):
        assert_error(client.get(LIST), status, code)
        assert_error(client.post(LIST, {}), status, code)
        assert_error(client.get(detail(lane.pk)), status, code)
        assert_error(client.patch(detail(lane.pk), {"name": "x"}), status, code)
    assert_error(client_for(planner).delete(detail(lane.pk)), 405, "method_not_allowed")
