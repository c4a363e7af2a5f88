"""Settings for a worker whose idle poll is long (2 s): a job it starts at once was woken, not polled."""

from project.settings_test import *  # noqa: F403

TRENOVA_JOBS_IDLE_POLL_MS = 2000
