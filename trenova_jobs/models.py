"""The durable job record: what was asked, what happened, and when — outliving Redis's result TTL."""

from __future__ import annotations

from typing import Any

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
    job_type = models.CharField(max_length=100, help_text="Registered job type, e.g. pattern:analyze.")
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
    unique_key = models.CharField(max_length=255, blank=True, help_text="Deduplication key the job was enqueued with.")
    # NULL, not '': many records hold no lock, and the unique constraint ignores NULLs only.
    unique_lock = models.CharField(  # noqa: DJ001
        max_length=255,
        null=True,
        blank=True,
        editable=False,
        help_text="Holds unique_key while the job is active; cleared when it finishes or its TTL passes.",
    )
    unique_until = models.DateTimeField(
        null=True, blank=True, help_text="When the deduplication hold lapses even if the job is still active."
    )
    organization_id = models.BigIntegerField(null=True, blank=True, help_text="Tenant, if any.")
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
    history = models.JSONField(
        default=list,
        blank=True,
        help_text="Earlier runs, kept when the job is retried by hand: status, attempts, error, times.",
    )

    class Meta:
        ordering = ["-created_at"]
        # Every index is written by every status change (status is indexed, so no update is HOT): only
        # those a query uses are kept. No `varchar_pattern_ops` copies (nothing searches ids or keys by
        # prefix; migration 0005 drops the primary key's), no single-column job_type, unique_key or
        # organization_id indexes (no query filters on those alone; organization_id leads
        # job_record_org_created_idx).
        indexes = [
            models.Index(fields=["status", "created_at"], name="job_record_status_created_idx"),
            models.Index(fields=["organization_id", "created_at"], name="job_record_org_created_idx"),
            # /metrics counts the jobs in flight: a small slice of a table that grows by every job.
            models.Index(
                fields=["job_type", "status"], condition=Q(status__in=ACTIVE_STATUSES), name="job_record_active_idx"
            ),
            # The dashboard's jobs per minute (a range of finished_at), its latest failures and the pruning of
            # old records read finished records by status and finish time. Partial: an entry is written once
            # per job, by its final transition, not by every status change before it.
            models.Index(
                fields=["status", "finished_at"],
                condition=Q(finished_at__isnull=False),
                name="job_record_finished_idx",
            ),
            # The lost-job sweep walks the waiting records in id (= creation) order.
            models.Index(fields=["id"], condition=Q(status__in=WAITING_STATUSES), name="job_record_waiting_idx"),
        ]
        constraints = [
            # One active job per deduplication key (a constraint, not unique=True: no pattern-ops copy).
            models.UniqueConstraint(fields=["unique_lock"], name="job_record_unique_lock"),
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


# --- Schedules -------------------------------------------------------------------------------------------
# django-rq-scheduler's CronJob / RepeatableJob rows are the store operators know (name, enabled, cron string
# or interval, timeout); a Schedule adds what trenova needs to fire them (a registered job type and its JSON
# payload, a timezone and the policies), and the fire rows are their history. The package's own runtime is
# switched off (trenova_jobs.schedules.scheduler_runtime_off): the worker's ticker fires them.


class OverlapPolicy(models.TextChoices):
    SKIP = "skip", "Skip while the previous run is queued or running"
    ALLOW = "allow", "Allow overlapping runs"


class CatchUpPolicy(models.TextChoices):
    LATEST = "latest", "Run once for the latest missed time"
    NONE = "none", "Do not run missed times"


class FireOutcome(models.TextChoices):
    ENQUEUED = "enqueued", "Enqueued"
    SKIPPED = "skipped", "Skipped"
    MISSED = "missed", "Missed"


class Schedule(models.Model):
    cron_entry = models.OneToOneField(
        "scheduler.CronJob",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="trenova_schedule",
        help_text="The django-rq-scheduler row holding name, enabled flag and cron string (cron schedules).",
    )
    interval_entry = models.OneToOneField(
        "scheduler.RepeatableJob",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="trenova_schedule",
        help_text="The django-rq-scheduler row holding name, enabled flag and interval (interval schedules).",
    )
    job_type = models.CharField(max_length=100, help_text="Registered job type the schedule runs.")
    payload = models.JSONField(default=dict, blank=True, help_text="Payload, validated by the job type when saved.")
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone the cron string is read in.")
    overlap = models.CharField(
        max_length=10, choices=OverlapPolicy.choices, default=OverlapPolicy.SKIP, help_text="While a run is active."
    )
    catch_up = models.CharField(
        max_length=10, choices=CatchUpPolicy.choices, default=CatchUpPolicy.LATEST, help_text="After downtime."
    )
    baseline_at = models.DateTimeField(
        help_text="Fire times at or before this are never due (set when created, re-timed or enabled)."
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When the schedule was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When it was last changed.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cron_entry__isnull=False, interval_entry__isnull=True)
                | Q(cron_entry__isnull=True, interval_entry__isnull=False),
                name="schedule_exactly_one_entry",
            ),
            models.CheckConstraint(condition=Q(overlap__in=OverlapPolicy.values), name="schedule_overlap_valid"),
            models.CheckConstraint(condition=Q(catch_up__in=CatchUpPolicy.values), name="schedule_catch_up_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def entry(self) -> Any:
        """The package row (CronJob or RepeatableJob)."""
        return self.cron_entry if self.cron_entry_id else self.interval_entry

    @property
    def name(self) -> str:
        return str(self.entry.name) if self.entry is not None else f"schedule {self.pk}"

    @property
    def enabled(self) -> bool:
        return bool(self.entry is not None and self.entry.enabled)

    @property
    def cron(self) -> str | None:
        return str(self.cron_entry.cron_string) if self.cron_entry_id and self.cron_entry else None

    @property
    def interval_seconds(self) -> int | None:
        return int(self.interval_entry.interval_seconds()) if self.interval_entry_id and self.interval_entry else None

    @property
    def timeout(self) -> int | None:
        value = self.entry.timeout if self.entry is not None else None
        return int(value) if value else None


class ScheduleFire(models.Model):
    """One fire time of one schedule, claimed once (unique): the job it enqueued, or why it did not run."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="fires", help_text="The schedule.")
    fire_time = models.DateTimeField(help_text="The fire time (UTC, whole seconds).")
    outcome = models.CharField(max_length=10, choices=FireOutcome.choices, help_text="What the fire did.")
    job_id = models.CharField(max_length=40, blank=True, db_index=True, help_text="The job it enqueued, if any.")
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was skipped or missed; who ran it.")
    created_at = models.DateTimeField(auto_now_add=True, help_text="When the fire was claimed.")

    class Meta:
        ordering = ["-fire_time"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "fire_time"], name="schedule_fire_once"),
            models.CheckConstraint(condition=Q(outcome__in=FireOutcome.values), name="schedule_fire_outcome_valid"),
        ]
        indexes = [models.Index(fields=["schedule", "-fire_time"], name="schedule_fire_recent_idx")]

    def __str__(self) -> str:
        return f"{self.schedule_id} @ {self.fire_time:%Y-%m-%d %H:%M:%S} {self.outcome}"
