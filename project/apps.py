"""App configs the project sets for third-party apps."""

from __future__ import annotations

from django_rq.apps import DjangoRqAdminConfig


class RqDashboardConfig(DjangoRqAdminConfig):
    """django-rq under a name an operator reads in the admin's navigation ("Redis queues (rq)", not its
    module name); its label stays ``django_rq``, so its URLs, templates and permissions are unchanged."""

    verbose_name = "Redis queues (rq)"
