"""Signals announcing final job outcomes, so other apps can react without trenova_jobs knowing them.

Both are sent exactly once per job with ``record=<JobRecord>``; ``job_failed`` only after the last attempt.
"""

from django.dispatch import Signal

job_succeeded = Signal()
job_failed = Signal()
