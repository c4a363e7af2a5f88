"""App config for user notifications about job outcomes, and outgoing webhooks."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications.config import notification_configs
        from notifications.receivers import connect_job_receivers, connect_suggestion_receivers

        notification_configs()  # a broken TRENOVA_NOTIFICATIONS fails at start, not at a job's end
        connect_job_receivers()
        connect_suggestion_receivers()
