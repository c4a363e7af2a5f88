"""What a job's outcome notification says and how urgent it is, per job type (in code, overridable in settings).

    TRENOVA_NOTIFICATIONS = {"pattern:analyze": {"success_priority": "low", "tags": ["patterns"]}}

Templates are ``str.format`` strings over a fixed set of names (``TEMPLATE_FIELDS``); attribute and index
lookups are refused when the configuration is read, so a template can only place text. With
``use_custom_title`` the title template is the title as-is; with ``use_custom_message`` the message is the
job's result text alone (or its error, on failure).
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from notifications.models import NotificationOutcome, NotificationPriority

DEFAULT_TITLE = "{job_type_title} {outcome_title}"
DEFAULT_MESSAGE = "{job_type_label} job {job_id} {outcome_phrase}: {detail}"
# The names a template may use.
TEMPLATE_FIELDS = frozenset(
    {"job_type", "job_type_title", "job_type_label", "job_id", "outcome_title", "outcome_phrase", "detail"}
)
_OUTCOME_WORDS = {
    NotificationOutcome.SUCCEEDED: ("Completed", "has completed successfully"),
    NotificationOutcome.FAILED: ("Failed", "has failed"),
}

Summary = Callable[[Any], str]


@dataclass(frozen=True)
class NotificationConfig:
    event_type: str
    success_priority: str = NotificationPriority.MEDIUM
    failure_priority: str = NotificationPriority.HIGH
    title_template: str = DEFAULT_TITLE
    message_template: str = DEFAULT_MESSAGE
    tags: tuple[str, ...] = ()
    use_custom_title: bool = False
    use_custom_message: bool = False
    # Turns the job's result into the text after "has completed successfully:" (code only, not settings).
    summary: Summary | None = field(default=None, compare=False)
    # Whether the job's outcome is also a job.succeeded/job.failed webhook event.
    webhooks: bool = True


@dataclass(frozen=True)
class RenderedNotice:
    event_type: str
    priority: str
    title: str
    message: str
    tags: list[str]


# --- Result summaries ------------------------------------------------------------------------------------


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def pattern_analysis_summary(result: Any) -> str:
    """'3 new dedicated-lane suggestions from 41 lanes examined' (and why nothing ran, when it didn't)."""
    if not isinstance(result, Mapping):
        return result_text(result)
    if result.get("disabled"):
        return "pattern detection is disabled for this organization; nothing was analysed"
    created = int(result.get("suggestions_created") or 0)
    examined = int(result.get("lanes_examined") or 0)
    return f"{_plural(created, 'new dedicated-lane suggestion')} from {_plural(examined, 'lane')} examined"


def analyze_all_summary(result: Any) -> str:
    if not isinstance(result, Mapping):
        return result_text(result)
    organizations = int(result.get("organizations") or 0)
    merged = int(result.get("deduplicated") or 0)
    text = f"analysis requested for {_plural(organizations, 'organization')}"
    return f"{text} ({merged} already queued)" if merged else text


def expire_summary(result: Any) -> str:
    if not isinstance(result, Mapping):
        return result_text(result)
    return f"{_plural(int(result.get('expired') or 0), 'suggestion')} expired"


def message_summary(result: Any) -> str:
    """A result's ``message`` as the tail of "has completed successfully: …" (first letter lower-cased)."""
    text = result_text(result)
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def result_text(result: Any) -> str:
    """A job result as one line of text: a string as it is, a dict's ``message`` if it has one."""
    if result is None:
        return "no result"
    if isinstance(result, str):
        return result
    if isinstance(result, Mapping):
        message = result.get("message")
        if isinstance(message, str) and message:
            return message
        return ", ".join(f"{key.replace('_', ' ')}: {_scalar(value)}" for key, value in result.items())
    if isinstance(result, list):
        return _plural(len(result), "item")
    return str(result)


def _scalar(value: Any) -> str:
    if isinstance(value, Mapping):
        return _plural(len(value), "entry", "entries")
    if isinstance(value, list):
        return _plural(len(value), "item")
    return str(value)


# --- The registry ----------------------------------------------------------------------------------------

UNKNOWN = NotificationConfig(event_type="job.unknown", tags=("jobs",))

DEFAULTS: dict[str, NotificationConfig] = {
    "pattern:analyze": NotificationConfig(
        event_type="patterns.analysis",
        success_priority=NotificationPriority.LOW,
        failure_priority=NotificationPriority.HIGH,
        tags=("patterns",),
        summary=pattern_analysis_summary,
    ),
    "pattern:analyze_all": NotificationConfig(
        event_type="patterns.analysis_all",
        success_priority=NotificationPriority.LOW,
        tags=("patterns",),
        summary=analyze_all_summary,
    ),
    "pattern:expire_suggestions": NotificationConfig(
        event_type="patterns.suggestions_expired",
        success_priority=NotificationPriority.LOW,
        tags=("patterns",),
        summary=expire_summary,
    ),
    "shipment:status_update": NotificationConfig(
        event_type="shipment.status_changed",
        success_priority=NotificationPriority.MEDIUM,
        failure_priority=NotificationPriority.HIGH,
        title_template="Shipment Status Update",
        use_custom_title=True,
        use_custom_message=True,
        tags=("shipments",),
    ),
    "shipment:delay": NotificationConfig(
        event_type="shipment.delay",
        success_priority=NotificationPriority.MEDIUM,
        failure_priority=NotificationPriority.HIGH,
        title_template="Shipment Delay Notice!",
        use_custom_title=True,
        use_custom_message=True,
        tags=("shipments",),
    ),
    # The sweep runs for no user (no notification); each notice job's result is the owner's message.
    "compliance:check": NotificationConfig(
        event_type="shipment.compliance",
        success_priority=NotificationPriority.HIGH,
        failure_priority=NotificationPriority.HIGH,
        title_template="Hazmat Compliance Issue",
        use_custom_title=True,
        use_custom_message=True,
        tags=("shipments", "compliance"),
    ),
    "system:cleanup_temp_files": NotificationConfig(
        event_type="system.temp_files_cleaned",
        success_priority=NotificationPriority.LOW,
        failure_priority=NotificationPriority.HIGH,
        tags=("system",),
        summary=message_summary,
    ),
    "system:prune_job_records": NotificationConfig(
        event_type="system.job_records_pruned",
        success_priority=NotificationPriority.LOW,
        failure_priority=NotificationPriority.HIGH,
        tags=("system",),
        summary=message_summary,
    ),
    # Deliveries report on themselves in their own records; announcing them would loop.
    "notification:webhook": NotificationConfig(event_type="webhook.delivery", tags=("webhooks",), webhooks=False),
    "system:noop": NotificationConfig(event_type="system.noop", success_priority=NotificationPriority.LOW),
}

_OVERRIDABLE = {f.name for f in fields(NotificationConfig)} - {"summary"}


def _template_check(job_type: str, name: str, template: str) -> None:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"TRENOVA_NOTIFICATIONS[{job_type!r}].{name} is not a valid template: {exc}"
        ) from exc
    for _, field_name, _, _ in parsed:
        if field_name is not None and field_name not in TEMPLATE_FIELDS:
            raise ImproperlyConfigured(
                f"TRENOVA_NOTIFICATIONS[{job_type!r}].{name} uses {{{field_name}}}; "
                f"allowed: {', '.join(sorted(TEMPLATE_FIELDS))}."
            )


def _override(job_type: str, base: NotificationConfig, values: Any) -> NotificationConfig:
    if not isinstance(values, Mapping):
        raise ImproperlyConfigured(f"TRENOVA_NOTIFICATIONS[{job_type!r}] must be a dict.")
    unknown = set(values) - _OVERRIDABLE
    if unknown:
        raise ImproperlyConfigured(
            f"TRENOVA_NOTIFICATIONS[{job_type!r}] has unknown keys {sorted(unknown)}; "
            f"allowed: {', '.join(sorted(_OVERRIDABLE))}."
        )
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name in {"success_priority", "failure_priority"}:
            if value not in NotificationPriority.values:
                raise ImproperlyConfigured(
                    f"TRENOVA_NOTIFICATIONS[{job_type!r}].{name} must be one of "
                    f"{', '.join(NotificationPriority.values)}; got {value!r}."
                )
        elif name in {"use_custom_title", "use_custom_message", "webhooks"}:
            if not isinstance(value, bool):
                raise ImproperlyConfigured(f"TRENOVA_NOTIFICATIONS[{job_type!r}].{name} must be true or false.")
        elif name == "tags":
            if not isinstance(value, list | tuple) or not all(isinstance(tag, str) for tag in value):
                raise ImproperlyConfigured(f"TRENOVA_NOTIFICATIONS[{job_type!r}].tags must be a list of strings.")
            value = tuple(value)
        elif not isinstance(value, str) or not value:
            raise ImproperlyConfigured(f"TRENOVA_NOTIFICATIONS[{job_type!r}].{name} must be a non-empty string.")
        changes[name] = value
    return replace(base, **changes)


@functools.cache
def notification_configs() -> dict[str, NotificationConfig]:
    """The code defaults with ``settings.TRENOVA_NOTIFICATIONS`` applied, checked (ImproperlyConfigured).

    Read once per process (and again when a test overrides the setting).
    """
    overrides = getattr(settings, "TRENOVA_NOTIFICATIONS", {}) or {}
    if not isinstance(overrides, Mapping):
        raise ImproperlyConfigured("TRENOVA_NOTIFICATIONS must be a dict of job type -> settings.")
    configs = dict(DEFAULTS)
    for job_type, values in overrides.items():
        configs[job_type] = _override(job_type, configs.get(job_type, UNKNOWN), values)
    for job_type, config in configs.items():
        if not config.use_custom_title:
            _template_check(job_type, "title_template", config.title_template)
        _template_check(job_type, "message_template", config.message_template)
    return configs


@receiver(setting_changed)
def _configs_forget(*, setting: str, **kwargs: Any) -> None:
    if setting == "TRENOVA_NOTIFICATIONS":
        notification_configs.cache_clear()


def notification_config(job_type: str) -> NotificationConfig:
    return notification_configs().get(job_type, UNKNOWN)


def job_type_title(job_type: str) -> str:
    """``pattern:analyze_all`` → ``Pattern Analyze All``."""
    return " ".join(word.capitalize() for word in job_type.replace(":", " ").replace("_", " ").split())


def notice_render(
    *, config: NotificationConfig, job_type: str, job_id: str, outcome: str, result: Any, error: str
) -> RenderedNotice:
    """The title and message of one outcome notification (pure: no database)."""
    succeeded = outcome == NotificationOutcome.SUCCEEDED
    if not succeeded:
        detail = error.strip()[:500] or "no error was recorded"
    else:
        detail = (config.summary or result_text)(result)
    title_words, phrase = _OUTCOME_WORDS[NotificationOutcome(outcome)]
    type_title = job_type_title(job_type)
    values = {
        "job_type": job_type,
        "job_type_title": type_title,
        "job_type_label": type_title.capitalize(),
        "job_id": job_id,
        "outcome_title": title_words,
        "outcome_phrase": phrase,
        "detail": detail,
    }
    title = config.title_template if config.use_custom_title else config.title_template.format_map(values)
    if config.use_custom_message:
        message = result_text(result) if succeeded else detail
    else:
        message = config.message_template.format_map(values)
    return RenderedNotice(
        event_type=config.event_type,
        priority=config.success_priority if succeeded else config.failure_priority,
        title=title[:200],
        message=message,
        tags=list(config.tags),
    )
