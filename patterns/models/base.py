"""What every model of the app builds on: creation and change timestamps, and a check that two columns differ."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, help_text="When the row was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When the row was last changed.")

    class Meta:
        abstract = True


def columns_differ(a: str, b: str) -> Q:
    """A check that two nullable columns differ whenever both are set."""
    return Q(**{f"{a}__isnull": True}) | Q(**{f"{b}__isnull": True}) | ~Q(**{a: F(b)})
