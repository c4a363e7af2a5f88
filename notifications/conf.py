"""Webhook settings with their defaults, checked when read."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _flag(name: str) -> bool:
    value = getattr(settings, name, False)
    if not isinstance(value, bool):
        raise ImproperlyConfigured(f"{name} must be True or False; got {value!r}.")
    return value


def webhooks_allow_private() -> bool:
    """Deliver to private, loopback and link-local addresses (local development and tests only)."""
    return _flag("TRENOVA_WEBHOOKS_ALLOW_PRIVATE")


def webhooks_allow_http() -> bool:
    """Accept plain-http endpoint URLs (local development and tests only)."""
    return _flag("TRENOVA_WEBHOOKS_ALLOW_HTTP")


def webhooks_timeout() -> float:
    """Seconds to connect, and then to wait for each read of the answer."""
    value = getattr(settings, "TRENOVA_WEBHOOKS_TIMEOUT", 5)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0.1 <= value <= 30:
        raise ImproperlyConfigured(
            f"TRENOVA_WEBHOOKS_TIMEOUT must be a number of seconds from 0.1 to 30; got {value!r}."
        )
    return float(value)
