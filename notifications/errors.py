"""Errors raised by the notifications services; the admin and API show their messages as they are."""


class NotificationsError(Exception):
    """Base class for errors a caller is expected to handle and show to a user."""


class WebhookDestinationError(NotificationsError):
    """A webhook URL is not allowed (scheme, or it resolves to a private, loopback or link-local address)."""


class WebhookConfigError(NotificationsError):
    """An endpoint's settings are invalid (unknown event types …); nothing was changed."""


class WebhookRejectedError(NotificationsError):
    """A delivery cannot succeed by trying again (a 4xx answer, a redirect, a refused destination)."""


class WebhookUnavailableError(NotificationsError):
    """A delivery attempt failed in a way that may pass (5xx, 408, 429, timeout, connection error)."""
