"""Test settings: the base settings with a throwaway key, fast hashing and a test Redis database."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trenova_jobs")
# A Redis database of its own so that tests can flush it without touching a developer's queues.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from project.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Job types used only by the tests (flaky, slow, failing handlers); workers started by tests load them too.
TRENOVA_JOBS_MODULES = ["tests.trenova_jobs.sample_jobs"]

# Test hooks, read from the environment so that tests can set them for the workers they start:
# a fault point stops a worker at a named step (so a test can kill it exactly there, see
# trenova_jobs/faults.py); the lost-job sweep can look at records younger than its production minute.
TRENOVA_JOBS_FAULT_POINT = os.environ.get("TRENOVA_JOBS_FAULT_POINT", "")
TRENOVA_JOBS_LOST_SWEEP_MIN_AGE = int(os.environ.get("TRENOVA_JOBS_LOST_SWEEP_MIN_AGE", "60"))
# Webhook tests deliver to a receiver on 127.0.0.1 over http; a test turns these off to see the refusal.
TRENOVA_WEBHOOKS_ALLOW_HTTP = os.environ.get("TRENOVA_WEBHOOKS_ALLOW_HTTP", "1") == "1"
TRENOVA_WEBHOOKS_ALLOW_PRIVATE = os.environ.get("TRENOVA_WEBHOOKS_ALLOW_PRIVATE", "1") == "1"
# Workers started by tests tick their schedules every second (production: every 5 s).
TRENOVA_JOBS_SCHEDULE_TICK = int(os.environ.get("TRENOVA_JOBS_SCHEDULE_TICK", "1"))
# The test client's host, and the one schemathesis' WSGI calls use.
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
