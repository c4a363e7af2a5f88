"""App config for the background job framework."""

from django.apps import AppConfig


class TrenovaJobsConfig(AppConfig):
    name = "trenova_jobs"
    verbose_name = "Background jobs"
    default_auto_field = "django.db.models.BigAutoField"
