"""The patterns admin pages render, avoid N+1 queries and offer sensible autocomplete choices."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.patterns import factories as f

pytestmark = pytest.mark.django_db

MODEL_FACTORIES = {
    "organization": f.OrganizationFactory,
    "businessunit": f.BusinessUnitFactory,
    "membership": f.MembershipFactory,
    "customer": f.CustomerFactory,
    "location": f.LocationFactory,
    "servicetype": f.ServiceTypeFactory,
    "shipmenttype": f.ShipmentTypeFactory,
    "equipmenttype": f.EquipmentTypeFactory,
    "worker": f.WorkerFactory,
    "shipment": f.ShipmentFactory,
    "dedicatedlane": lambda: f.DedicatedLaneFactory(with_drivers=True),
    "patternconfig": f.PatternConfigFactory,
}


@pytest.mark.parametrize("model", sorted(MODEL_FACTORIES))
def test_changelist_add_and_change_pages_render(admin_client: Client, model: str) -> None:
    obj = MODEL_FACTORIES[model]()
    for url in [
        reverse(f"admin:patterns_{model}_changelist"),
        reverse(f"admin:patterns_{model}_changelist") + "?q=a",
        reverse(f"admin:patterns_{model}_add"),
        reverse(f"admin:patterns_{model}_change", args=[obj.pk]),
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_user_admin_shows_the_membership_inline(admin_client: Client) -> None:
    user = f.UserFactory(organization=f.OrganizationFactory(name="Acme Haulage"))
    response = admin_client.get(reverse("admin:auth_user_change", args=[user.pk]))
    assert response.status_code == 200
    assert b"membership-0-business_unit" in response.content
    response = admin_client.get(reverse("admin:auth_user_changelist"))
    assert b"Acme Haulage" in response.content
    assert admin_client.get(reverse("admin:auth_user_add")).status_code == 200


@pytest.mark.parametrize("model", ["shipment", "dedicatedlane", "membership", "location"])
def test_changelist_queries_do_not_grow_with_rows(
    admin_client: Client, django_assert_max_num_queries: Any, model: str
) -> None:
    url = reverse(f"admin:patterns_{model}_changelist")
    MODEL_FACTORIES[model]()
    admin_client.get(url)  # warm up session and content types
    with django_assert_max_num_queries(12) as few:
        admin_client.get(url)
    for _ in range(5):
        MODEL_FACTORIES[model]()
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(url)


def test_equipment_autocomplete_offers_tractors_for_tractor_type(admin_client: Client) -> None:
    org = f.OrganizationFactory()
    tractor = f.TractorTypeFactory(organization=org, code="SLEEPER")
    trailer = f.TrailerTypeFactory(organization=org, code="DRY53")
    url = reverse("admin:autocomplete")

    def offered(field_name: str) -> set[str]:
        params = {"app_label": "patterns", "model_name": "shipment", "field_name": field_name, "term": ""}
        response = admin_client.get(url, params)
        assert response.status_code == 200
        return {result["id"] for result in response.json()["results"]}

    assert offered("tractor_type") == {str(tractor.pk)}
    assert offered("trailer_type") == {str(trailer.pk)}


def test_a_shipment_status_change_in_the_admin_reports_the_jobs_it_asked_for(
    admin_client: Client, redis_conn: Any
) -> None:
    from trenova_jobs.models import JobRecord

    shipment = f.ShipmentFactory(status="New")
    url = reverse("admin:patterns_shipment_change", args=[shipment.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() if form[name].value() is not None else "" for name in form.fields}
    data["status"] = "Assigned"
    response = admin_client.post(url, data, follow=True)
    assert response.status_code == 200
    job = JobRecord.objects.get(job_type="shipment:status_update")
    text = response.content.decode()
    assert "This save asked for 1 background job(s):" in text
    assert f'href="/admin/trenova_jobs/jobrecord/{job.id}/change/"' in text


def test_a_shipment_save_that_changes_nothing_triggering_says_nothing(admin_client: Client, redis_conn: Any) -> None:
    shipment = f.ShipmentFactory(status="New")
    url = reverse("admin:patterns_shipment_change", args=[shipment.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() if form[name].value() is not None else "" for name in form.fields}
    data["freight_charge_amount"] = "1234.50"
    response = admin_client.post(url, data, follow=True)
    assert response.status_code == 200
    assert "background job" not in response.content.decode()
