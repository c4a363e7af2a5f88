"""200 concurrent requests (8 at a time) for one job's status, over a real socket to a threaded server (pytest-
django's ``live_server``, one thread and one database connection per request): every one a 200 with the same
body."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework.authtoken.models import Token

from tests.api.helpers import member
from trenova_jobs import enqueue

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 200
CONCURRENCY = 8


def test_two_hundred_concurrent_job_status_requests_all_answer_the_same(live_server, redis_conn):
    user = member()
    record = enqueue("system:noop", {"value": 1}, organization_id=user.membership.organization_id, user=user)
    token = Token.objects.create(user=user)
    url = f"{live_server.url}/api/v1/jobs/{record.id}/"

    def get(_: int) -> tuple[int, bytes]:
        request = urllib.request.Request(url, headers={"Authorization": f"Token {token.key}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        answers = list(pool.map(get, range(REQUESTS)))

    assert [status for status, _ in answers if status != 200] == []
    bodies = {body for _, body in answers}
    assert len(bodies) == 1
    job = json.loads(bodies.pop())
    assert (job["id"], job["status"], job["attempts"]) == (record.id, "queued", 0)
