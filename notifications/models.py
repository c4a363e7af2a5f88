"""In-app notifications of job outcomes, and organizations' outgoing webhook endpoints and deliveries."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


class NotificationPriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class NotificationOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """One message to one user; for job outcomes, at most one per (job, outcome)."""

    organization = models.ForeignKey(
        "patterns.Organization",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Organization the notification belongs to (the job's), if any.",
    )
    business_unit = models.ForeignKey(
        "patterns.BusinessUnit",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Business unit the job ran for, if any.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        help_text="Who receives the notification.",
    )
    event_type = models.CharField(max_length=100, db_index=True, help_text="What happened, e.g. job.pattern_analyze.")
    priority = models.CharField(
        max_length=10,
        choices=NotificationPriority.choices,
        default=NotificationPriority.MEDIUM,
        help_text="How urgently the user should look.",
    )
    title = models.CharField(max_length=200, help_text="One-line headline.")
    message = models.TextField(help_text="What happened, in a sentence or two.")
    data = models.JSONField(default=dict, blank=True, help_text="Machine-readable details (job id, result …).")
    tags = models.JSONField(default=list, blank=True, help_text='Labels for filtering, e.g. ["patterns"].')
    job_id = models.CharField(
        max_length=40, blank=True, db_index=True, help_text="The job this notification reports on, if any."
    )
    outcome = models.CharField(
        max_length=10, choices=NotificationOutcome.choices, blank=True, help_text="The job outcome reported, if any."
    )
    read_at = models.DateTimeField(null=True, blank=True, help_text="When the user marked it read.")
    dismissed_at = models.DateTimeField(null=True, blank=True, help_text="When the user dismissed it.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, help_text="When it was created.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A redelivered job or a replayed outcome signal cannot notify twice.
            models.UniqueConstraint(
                fields=["job_id", "outcome"], condition=~Q(job_id=""), name="notification_once_per_job_outcome"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=NotificationPriority.values), name="notification_priority_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(outcome__in=NotificationOutcome.values), name="notification_outcome_valid"
            ),
        ]
        indexes = [
            # A user's unread notifications, newest first (the bell and its count).
            models.Index(
                fields=["user", "-created_at"],
                condition=Q(read_at__isnull=True, dismissed_at__isnull=True),
                name="notification_unread_idx",
            ),
            models.Index(fields=["user", "-created_at"], name="notification_user_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.user}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


# --- Outgoing webhooks ---------------------------------------------------------------------------------


class WebhookEventType(models.TextChoices):
    JOB_SUCCEEDED = "job.succeeded", "Job succeeded"
    JOB_FAILED = "job.failed", "Job failed"
    SUGGESTION_CREATED = "suggestion.created", "Suggestion created"
    SUGGESTION_ACCEPTED = "suggestion.accepted", "Suggestion accepted"
    SUGGESTION_REJECTED = "suggestion.rejected", "Suggestion rejected"


SECRET_PREFIX = "whsec_"


def webhook_secret_new() -> str:
    """A fresh signing secret: 32 random bytes, URL-safe."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """An integrator's URL that receives an organization's events, signed with the endpoint's secret."""

    organization = models.ForeignKey(
        "patterns.Organization",
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="Organization whose events are sent here.",
    )
    url = models.URLField(max_length=500, help_text="Where events are POSTed. https only (http only where allowed).")
    description = models.CharField(max_length=200, blank=True, help_text="What receives these events.")
    secret = models.CharField(
        max_length=100,
        default=webhook_secret_new,
        editable=False,
        help_text="Signing secret (HMAC-SHA256); shown once when created or rotated.",
    )
    event_types = models.JSONField(default=list, help_text="Events sent to this endpoint.")
    is_enabled = models.BooleanField(default=True, help_text="Disabled endpoints receive nothing new.")
    created_at = models.DateTimeField(auto_now_add=True, help_text="When the endpoint was registered.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When the endpoint was last changed.")
    secret_rotated_at = models.DateTimeField(null=True, blank=True, help_text="When the secret was last rotated.")

    class Meta:
        ordering = ["organization_id", "url"]

    def __str__(self) -> str:
        return self.url

    @property
    def secret_hint(self) -> str:
        """Enough of the secret to tell two apart, never enough to use it."""
        return f"{SECRET_PREFIX}…{self.secret[-4:]}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for (another) attempt
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # final: refused, a 4xx, or out of retries


class WebhookDelivery(models.Model):
    """One event for one endpoint; delivered by one `notification:webhook` job (at least once)."""

    event_id = models.CharField(max_length=40, db_index=True, help_text="evt_<ULID>; the same for every endpoint.")
    event_type = models.CharField(max_length=50, choices=WebhookEventType.choices, help_text="What happened.")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", help_text="Where it is sent."
    )
    payload = models.JSONField(help_text="The JSON body sent (the same on every attempt).")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, help_text="Where it is now."
    )
    attempts = models.PositiveIntegerField(default=0, help_text="HTTP attempts made.")
    last_status_code = models.PositiveIntegerField(null=True, blank=True, help_text="HTTP status of the last attempt.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Duration of the last attempt.")
    error = models.TextField(blank=True, help_text="Why the last attempt did not succeed.")
    job_id = models.CharField(max_length=40, blank=True, help_text="The delivery job (the latest, after a redeliver).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, help_text="When the event happened.")
    delivered_at = models.DateTimeField(null=True, blank=True, help_text="When a 2xx answer was received.")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_endpoint"),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: what came back and how long it took."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log", help_text="The delivery."
    )
    number = models.PositiveIntegerField(help_text="1 for the first request of the delivery.")
    status_code = models.PositiveIntegerField(null=True, blank=True, help_text="HTTP status, if an answer came.")
    duration_ms = models.PositiveIntegerField(help_text="From sending to the answer (or the error).")
    error = models.TextField(blank=True, help_text="Why it did not succeed.")
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was made.")

    class Meta:
        ordering = ["delivery_id", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.status_code or self.error[:40]}"
