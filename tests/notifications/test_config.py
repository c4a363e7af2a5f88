"""Per-job-type notification configuration: defaults, rendering, custom flags and settings overrides."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from notifications.config import (
    DEFAULTS,
    UNKNOWN,
    NotificationConfig,
    job_type_title,
    notice_render,
    notification_config,
    notification_configs,
    pattern_analysis_summary,
)
from trenova_jobs import job_type_names


def _render(
    config: NotificationConfig, outcome: str, *, result=None, error: str = "", job_type: str = "pattern:analyze"
):
    return notice_render(
        config=config, job_type=job_type, job_id="job_01ABC", outcome=outcome, result=result, error=error
    )


def test_job_types_are_humanised():
    assert job_type_title("pattern:analyze") == "Pattern Analyze"
    assert job_type_title("pattern:analyze_all") == "Pattern Analyze All"
    assert job_type_title("shipment:status_update") == "Shipment Status Update"


def test_default_title_and_message_on_success_and_failure():
    config = NotificationConfig(event_type="x.y")
    ok = _render(config, "succeeded", result="all good")
    assert ok.title == "Pattern Analyze Completed"
    assert ok.message == "Pattern analyze job job_01ABC has completed successfully: all good"
    assert ok.priority == "medium"
    failed = _render(config, "failed", error="RuntimeError: database gone")
    assert failed.title == "Pattern Analyze Failed"
    assert failed.message == "Pattern analyze job job_01ABC has failed: RuntimeError: database gone"
    assert failed.priority == "high"


def test_pattern_analysis_result_reads_as_a_sentence_not_a_dict():
    result = {"suggestions_created": 3, "lanes_examined": 41, "lanes_qualified": 5, "disabled": False, "skipped": {}}
    notice = _render(notification_config("pattern:analyze"), "succeeded", result=result)
    assert notice.message == (
        "Pattern analyze job job_01ABC has completed successfully: "
        "3 new dedicated-lane suggestions from 41 lanes examined"
    )
    assert "{" not in notice.message
    assert pattern_analysis_summary({"suggestions_created": 1, "lanes_examined": 1}) == (
        "1 new dedicated-lane suggestion from 1 lane examined"
    )
    assert "disabled" in pattern_analysis_summary({"disabled": True})


def test_custom_title_is_the_template_as_is_and_custom_message_the_result_alone():
    delay = notification_config("shipment:delay")
    notice = _render(delay, "succeeded", result="Shipment PRO-7 is 3 hours late at Dallas.", job_type="shipment:delay")
    assert notice.title == "Shipment Delay Notice!"
    assert notice.message == "Shipment PRO-7 is 3 hours late at Dallas."
    assert notice.priority == "medium"
    failed = _render(delay, "failed", error="NonRetryableError: gone", job_type="shipment:delay")
    assert failed.title == "Shipment Delay Notice!"
    assert failed.priority == "high"
    # A custom title is not a template: braces stay as written.
    braces = NotificationConfig(event_type="x", title_template="Done {job_id}", use_custom_title=True)
    assert _render(braces, "succeeded").title == "Done {job_id}"


def test_status_change_notice_uses_the_result_message():
    result = {"message": "Shipment PRO-1 is now Completed (was In Transit)", "shipment_id": 1}
    notice = _render(notification_config("shipment:status_update"), "succeeded", result=result)
    assert notice.message == "Shipment PRO-1 is now Completed (was In Transit)"


def test_unknown_job_type_gets_the_generic_config():
    assert notification_config("nobody:knows") is UNKNOWN
    assert UNKNOWN.event_type == "job.unknown"
    notice = _render(UNKNOWN, "succeeded", result={"count": 2, "ids": [1, 2]}, job_type="nobody:knows")
    assert notice.title == "Nobody Knows Completed"
    assert notice.message.endswith("has completed successfully: count: 2, ids: 2 items")


def test_every_registered_job_type_has_a_config():
    # Job types registered by the tests' own sample module are not shipped.
    from trenova_jobs.registry import registry_get

    shipped = [name for name in job_type_names() if not registry_get(name).handler.__module__.startswith("tests.")]
    assert "pattern:analyze" in shipped and "notification:webhook" in shipped
    assert [name for name in shipped if name not in DEFAULTS] == []


def test_webhook_deliveries_are_never_webhook_events():
    assert notification_config("notification:webhook").webhooks is False


@override_settings(TRENOVA_NOTIFICATIONS={"pattern:analyze": {"success_priority": "critical", "tags": ["ops"]}})
def test_settings_override_code_defaults():
    config = notification_config("pattern:analyze")
    assert config.success_priority == "critical"
    assert config.tags == ("ops",)
    assert config.summary is pattern_analysis_summary  # code-only fields stay


@override_settings(TRENOVA_NOTIFICATIONS={"test:flaky": {"title_template": "Flaky {outcome_title}"}})
def test_settings_can_configure_a_type_without_code_defaults():
    notice = _render(notification_config("test:flaky"), "failed", error="x", job_type="test:flaky")
    assert notice.title == "Flaky Failed"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"pattern:analyze": {"priority": "low"}}, "unknown keys ['priority']"),
        ({"pattern:analyze": {"success_priority": "urgent"}}, "must be one of low, medium, high, critical"),
        ({"pattern:analyze": {"title_template": "{job_id.__class__}"}}, "uses {job_id.__class__}"),
        ({"pattern:analyze": {"message_template": "{secret}"}}, "uses {secret}"),
        ({"pattern:analyze": {"message_template": "{unclosed"}}, "is not a valid template"),
        ({"pattern:analyze": {"use_custom_title": "yes"}}, "must be true or false"),
        ({"pattern:analyze": {"tags": "ops"}}, "must be a list of strings"),
        ({"pattern:analyze": "low"}, "must be a dict"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(override, message):
    with (
        override_settings(TRENOVA_NOTIFICATIONS=override),
        pytest.raises(ImproperlyConfigured, match=re.escape(message)),
    ):
        notification_configs()
