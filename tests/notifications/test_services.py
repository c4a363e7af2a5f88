"""A user's notifications: list, unread count, mark read, dismiss, mark all read — scoped to the user."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from notifications.models import Notification
from notifications.selectors import notification_list, notification_unread_count
from notifications.services import notification_dismiss, notification_mark_read, notifications_mark_all_read
from tests.patterns.factories import UserFactory

pytestmark = pytest.mark.django_db


def _notify(user, title: str = "Hello", **fields) -> Notification:
    return Notification.objects.create(user=user, event_type="test", title=title, message="m", **fields)


def test_list_is_newest_first_with_an_unread_filter_and_no_dismissed():
    user = UserFactory()
    first, second, third = _notify(user, "1"), _notify(user, "2"), _notify(user, "3")
    _notify(UserFactory(), "somebody else's")
    notification_mark_read(user=user, notification_id=first.pk)
    notification_dismiss(user=user, notification_id=third.pk)
    assert [n.title for n in notification_list(user=user)] == ["2", "1"]
    assert [n.title for n in notification_list(user=user, unread=True)] == ["2"]
    assert [n.title for n in notification_list(user=user, unread=False)] == ["1"]
    assert notification_unread_count(user=user) == 1
    assert second.pk in {n.pk for n in notification_list(user=user)}


def test_mark_read_keeps_the_first_time_and_dismiss_implies_read():
    user = UserFactory()
    notification = _notify(user)
    read = notification_mark_read(user=user, notification_id=notification.pk)
    again = notification_mark_read(user=user, notification_id=notification.pk)
    assert read.read_at is not None and again.read_at == read.read_at
    other = _notify(user)
    dismissed = notification_dismiss(user=user, notification_id=other.pk)
    assert dismissed.read_at is not None and dismissed.dismissed_at is not None


def test_another_users_notification_cannot_be_touched():
    owner, stranger = UserFactory(), UserFactory()
    notification = _notify(owner)
    with pytest.raises(Notification.DoesNotExist):
        notification_mark_read(user=stranger, notification_id=notification.pk)
    with pytest.raises(Notification.DoesNotExist):
        notification_dismiss(user=stranger, notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.read_at is None and notification.dismissed_at is None


def test_mark_all_read_is_scoped_to_the_user():
    user, other = UserFactory(), UserFactory()
    for _ in range(3):
        _notify(user)
    _notify(other)
    assert notifications_mark_all_read(user=user) == 3
    assert notifications_mark_all_read(user=user) == 0
    assert notification_unread_count(user=user) == 0
    assert notification_unread_count(user=other) == 1


def test_the_database_refuses_a_second_notification_for_the_same_job_outcome():
    user = UserFactory()
    _notify(user, job_id="job_X", outcome="succeeded")
    _notify(user, job_id="job_X", outcome="failed")  # a retried job may fail, then succeed
    _notify(user)
    _notify(user)  # notifications not about a job are not constrained
    with pytest.raises(IntegrityError):
        _notify(user, job_id="job_X", outcome="succeeded")


def test_the_database_refuses_an_unknown_priority():
    with pytest.raises(IntegrityError):
        _notify(UserFactory(), priority="urgent")
