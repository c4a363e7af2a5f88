"""Writes for in-app notifications: the one created for a job's final outcome, and the user's read/dismiss."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from notifications.config import notice_render, notification_config
from notifications.models import Notification, NotificationOutcome
from notifications.signals import notification_created
from patterns.models import BusinessUnit, Organization
from trenova_jobs import JobRecord

logger = logging.getLogger("notifications")

# A job result larger than this is left out of the notification's data (the job record keeps it).
DATA_RESULT_LIMIT = 4096


def _tenant_ids(record: JobRecord) -> tuple[int | None, int | None]:
    """The record's organization and business unit, where they (still) exist: one query."""
    if record.organization_id is None:
        return None, None
    row = (
        Organization.objects.filter(pk=record.organization_id)
        .annotate(
            unit_ok=Exists(BusinessUnit.objects.filter(pk=record.business_unit_id or 0, organization=OuterRef("pk")))
        )
        .values_list("pk", "unit_ok")
        .first()
    )
    if row is None:
        return None, None
    return row[0], record.business_unit_id if row[1] else None


def _data(record: JobRecord, outcome: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "job_id": record.id,
        "job_type": record.job_type,
        "outcome": outcome,
        "attempts": record.attempts,
    }
    if outcome == NotificationOutcome.SUCCEEDED and record.result is not None:
        if len(json.dumps(record.result)) <= DATA_RESULT_LIMIT:
            data["result"] = record.result
        else:
            data["result_omitted"] = True
    if outcome == NotificationOutcome.FAILED:
        data["error"] = record.error[:1000]
    return data


def notification_for_job_create(*, record: JobRecord, outcome: str) -> Notification | None:
    """The notification of a job's final outcome, for the job's user; ``None`` without a user or if sent.

    Runs inside the transaction that writes the outcome, so the two commit together. The unique
    (job id, outcome) constraint makes a replay a no-op; the savepoint keeps that collision from
    breaking the outcome's transaction.
    """
    if record.user_id is None:
        return None
    config = notification_config(record.job_type)
    notice = notice_render(
        config=config,
        job_type=record.job_type,
        job_id=record.id,
        outcome=outcome,
        result=record.result,
        error=record.error,
    )
    organization_id, business_unit_id = _tenant_ids(record)
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                organization_id=organization_id,
                business_unit_id=business_unit_id,
                user_id=record.user_id,
                event_type=notice.event_type,
                priority=notice.priority,
                title=notice.title,
                message=notice.message,
                tags=notice.tags,
                data=_data(record, outcome),
                job_id=record.id,
                outcome=outcome,
            )
    except IntegrityError:
        if Notification.objects.filter(job_id=record.id, outcome=outcome).exists():
            logger.info("event=notification_duplicate job_id=%s outcome=%s", record.id, outcome)
            return None
        raise
    logger.info(
        "event=notification_created notification_id=%s job_id=%s user_id=%s priority=%s",
        notification.pk,
        record.id,
        record.user_id,
        notification.priority,
    )
    transaction.on_commit(lambda: notification_created.send_robust(sender=Notification, notification=notification))
    return notification


def _own(user: Any, notification_id: int) -> Notification:
    """The user's notification (``Notification.DoesNotExist`` for anybody else's)."""
    return Notification.objects.get(pk=notification_id, user=user)


def notification_mark_read(*, user: Any, notification_id: int) -> Notification:
    notification = _own(user, notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notification_dismiss(*, user: Any, notification_id: int) -> Notification:
    """Hide it from the user's list; a dismissed notification counts as read."""
    notification = _own(user, notification_id)
    now = timezone.now()
    notification.read_at = notification.read_at or now
    notification.dismissed_at = notification.dismissed_at or now
    notification.save(update_fields=["read_at", "dismissed_at"])
    return notification


def notifications_mark_all_read(*, user: Any) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
