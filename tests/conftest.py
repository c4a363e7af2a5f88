"""Shared fixtures: real PostgreSQL (pytest-django) and a real Redis database flushed per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings


@pytest.fixture
def redis_conn() -> Iterator[redis.Redis]:
    """The test Redis database (REDIS_URL, db 15 by default), emptied before and after the test."""
    conn = redis.Redis.from_url(settings.REDIS_URL)
    index = conn.connection_pool.connection_kwargs.get("db", 0)
    if index == 0:
        pytest.fail("Refusing to flush Redis database 0; point REDIS_URL at a test database.")
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()
