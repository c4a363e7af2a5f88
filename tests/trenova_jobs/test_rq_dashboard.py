"""django-rq's dashboard on this project's jobs: requeue goes through the job service (the record runs again
and keeps its earlier run), delete is refused with a pointer to the record."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django_rq.settings import QUEUES_LIST
from rq.registry import FailedJobRegistry

from tests.trenova_jobs.conftest import burst_run, record_get
from trenova_jobs import enqueue
from trenova_jobs.models import JobStatus
from trenova_jobs.queues import queue_get

pytestmark = pytest.mark.django_db(transaction=True)
INDEX = [queue["name"] for queue in QUEUES_LIST].index("default")  # django-rq's own (sorted) order


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user("ops", password="pw", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def _failed_job(redis_conn, start_worker, token: str) -> str:
    record = enqueue("test:non_retryable", {"token": token})
    burst_run(start_worker)
    assert record_get(record.id).status == JobStatus.FAILED
    assert record.id in FailedJobRegistry("default", connection=redis_conn).get_job_ids()
    return record.id


def test_requeue_of_a_failed_job_retries_its_record_and_it_runs_again(staff_client, redis_conn, start_worker):
    token = uuid.uuid4().hex
    job_id = _failed_job(redis_conn, start_worker, token)
    response = staff_client.post(f"/django-rq/queues/{INDEX}/{job_id}/requeue/")
    assert response.status_code == 302 and response["Location"].endswith(f"/jobrecord/{job_id}/change/")
    record = record_get(job_id)
    assert record.status in (JobStatus.PENDING, JobStatus.QUEUED) and len(record.history) == 1
    burst_run(start_worker)
    assert int(redis_conn.get(f"test:{token}:count")) == 2  # the handler really ran a second time
    assert record_get(job_id).status == JobStatus.FAILED and record_get(job_id).attempts == 1


def test_bulk_requeue_and_requeue_all_go_through_the_job_service(staff_client, redis_conn, start_worker):
    first = _failed_job(redis_conn, start_worker, uuid.uuid4().hex)
    second = _failed_job(redis_conn, start_worker, uuid.uuid4().hex)
    staff_client.post(f"/django-rq/queues/actions/{INDEX}/", {"action": "requeue", "job_ids": [first]})
    assert record_get(first).status in (JobStatus.PENDING, JobStatus.QUEUED)
    assert record_get(second).status == JobStatus.FAILED
    response = staff_client.post(f"/django-rq/queues/{INDEX}/requeue-all/", follow=True)
    assert "Retried 1 job(s) through the job service" in response.content.decode()
    assert record_get(second).status in (JobStatus.PENDING, JobStatus.QUEUED)


def test_delete_of_a_job_with_a_record_is_refused_and_changes_nothing(staff_client, redis_conn, start_worker):
    queued = enqueue("system:noop", {})
    assert queued.id in queue_get("default").get_job_ids()
    response = staff_client.post(f"/django-rq/queues/{INDEX}/{queued.id}/delete/", follow=True)
    assert "has a job record" in response.content.decode()
    response = staff_client.post(f"/django-rq/queues/actions/{INDEX}/", {"action": "delete", "job_ids": [queued.id]})
    assert queued.id in queue_get("default").get_job_ids()
    assert redis_conn.exists(f"rq:job:{queued.id}")
    assert record_get(queued.id).status == JobStatus.QUEUED


def test_the_confirmation_pages_are_django_rqs_own(staff_client, redis_conn):
    queued = enqueue("system:noop", {})
    assert staff_client.get(f"/django-rq/queues/{INDEX}/{queued.id}/delete/").status_code == 200
    assert staff_client.get(f"/django-rq/queues/{INDEX}/requeue-all/").status_code == 200


def test_retry_from_the_queue_dashboard_needs_the_change_permission(client, redis_conn, start_worker):
    job_id = _failed_job(redis_conn, start_worker, uuid.uuid4().hex)
    viewer = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(viewer)
    response = client.post(f"/django-rq/queues/{INDEX}/{job_id}/requeue/", follow=True)
    assert "needs the change permission" in response.content.decode()
    assert record_get(job_id).status == JobStatus.FAILED


def test_the_queue_page_names_each_jobs_type_and_record(staff_client, redis_conn):
    queued = enqueue("system:noop", {})
    page = staff_client.get(f"/django-rq/queues/{INDEX}/").content.decode()
    assert f"system:noop {queued.id}" in page
    assert "trenova_jobs.execution.run" not in page
