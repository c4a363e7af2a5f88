"""Settings for the workers these tests start: the test settings plus this directory's own job types."""

from project.settings_test import *  # noqa: F403
from project.settings_test import TRENOVA_JOBS_MODULES

TRENOVA_JOBS_MODULES = [*TRENOVA_JOBS_MODULES, "tests.reliability.jobs"]
