"""The durable job record: what was asked, what happened, and when — outliving Redis's result TTL."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from ulid import ULID


def job_id_new() -> str:
    """``job_`` + a ULID: unique, and sortable by creation time."""
    return f"job_{ULID()}"


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # written; not yet pushed to Redis (outbox)
    SCHEDULED = "scheduled", "Scheduled"  # in rq's scheduled registry until its time comes
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"  # an attempt failed; another is scheduled
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # final: no attempts left, or a non-retryable error
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (
    JobStatus.PENDING,
    JobStatus.SCHEDULED,
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.RETRYING,
)
# Waiting for a worker: each has (or should have) an rq job in Redis.
WAITING_STATUSES = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.RETRYING)
FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobRecord(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=job_id_new, editable=False, help_text="job_<ULID>.")
    job_type = models.CharField(max_length=100, db_index=True, help_text="Registered job type, e.g. pattern:analyze.")
    queue = models.CharField(max_length=50, help_text="rq queue the job runs on.")
    status = models.CharField(
        max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING, help_text="Where the job is now."
    )
    payload = models.JSONField(default=dict, blank=True, help_text="Validated payload, as the handler receives it.")
    result = models.JSONField(null=True, blank=True, help_text="What the handler returned (JSON).")
    error = models.TextField(blank=True, help_text="Summary of the last error.")
    traceback = models.TextField(blank=True, help_text="Traceback of the last failed attempt.")
    attempts = models.PositiveIntegerField(default=0, help_text="Attempts started so far.")
    max_retries = models.PositiveIntegerField(default=0, help_text="Retries allowed after the first attempt.")
    timeout = models.PositiveIntegerField(default=600, help_text="Seconds one attempt may run.")
    unique_key = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="Deduplication key the job was enqueued with."
    )
    unique_lock = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="Holds unique_key while the job is active; cleared when it finishes or its TTL passes.",
    )
    unique_until = models.DateTimeField(
        null=True, blank=True, help_text="When the deduplication hold lapses even if the job is still active."
    )
    organization_id = models.BigIntegerField(null=True, blank=True, db_index=True, help_text="Tenant, if any.")
    business_unit_id = models.BigIntegerField(null=True, blank=True, help_text="Business unit, if any.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="job_records",
        help_text="User the job runs for; notified of its outcome.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, help_text="When enqueue was called.")
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When it was pushed to Redis.")
    scheduled_for = models.DateTimeField(null=True, blank=True, help_text="When it is due (delayed or retrying).")
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the latest attempt started.")
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When it reached a final status.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="job_record_status_created_idx"),
            models.Index(fields=["organization_id", "created_at"], name="job_record_org_created_idx"),
            # /metrics counts the jobs in flight: a small slice of a table that grows by every job.
            models.Index(
                fields=["job_type", "status"], condition=Q(status__in=ACTIVE_STATUSES), name="job_record_active_idx"
            ),
            # The lost-job sweep walks the waiting records in id (= creation) order.
            models.Index(fields=["id"], condition=Q(status__in=WAITING_STATUSES), name="job_record_waiting_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="job_record_status_valid"),
            models.CheckConstraint(
                condition=Q(unique_lock__isnull=True) | Q(status__in=ACTIVE_STATUSES),
                name="job_record_lock_only_while_active",
            ),
        ]

    # Set on the object enqueue() returns when it found an active job with the same unique key.
    deduplicated: bool = False

    def __str__(self) -> str:
        return f"{self.job_type} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES
