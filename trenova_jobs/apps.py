"""App config for the background job framework."""

from importlib import import_module

from django.apps import AppConfig
from django.conf import settings
from django.utils.module_loading import autodiscover_modules


class TrenovaJobsConfig(AppConfig):
    name = "trenova_jobs"
    verbose_name = "Background jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from trenova_jobs.rq_compat import code_from_redis_refuse
        from trenova_jobs.schedules import scheduler_runtime_off

        # rq imports whatever a job hash in Redis names; from here on it can import only our entry point.
        code_from_redis_refuse()
        # django-rq-scheduler's rows are the schedules' store; its runtime (which pickles) never runs.
        scheduler_runtime_off()
        # Every app's jobs.py registers its job types; workers and web processes see the same set.
        autodiscover_modules("jobs")
        for module in getattr(settings, "TRENOVA_JOBS_MODULES", []):
            import_module(module)
