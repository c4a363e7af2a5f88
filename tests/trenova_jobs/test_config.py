"""Pure rules (weighted order, backoff), the registry, settings ranges and command-line errors."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings

from trenova_jobs.conf import dequeue_strategy, queue_weights, setting_int
from trenova_jobs.queues import backoff_delay, backoff_intervals, rq_due_time, strict_order, weighted_order
from trenova_jobs.registry import job_type, job_type_names, registry_get

WEIGHTS = {"critical": 6, "shipment": 2, "pattern": 1, "compliance": 1, "default": 1, "system": 1}


def test_backoff_doubles_and_is_capped():
    assert [backoff_delay(n, 3600) for n in range(1, 6)] == [1, 2, 4, 8, 16]
    assert backoff_delay(13, 3600) == 3600
    assert backoff_intervals(3, 3) == [1, 2, 3]
    assert backoff_intervals(0, 3600) == []
    with pytest.raises(ValueError):
        backoff_delay(0, 10)


def test_due_time_is_rounded_up_to_a_whole_second():
    assert rq_due_time(100.01).timestamp() == 101
    assert rq_due_time(100.0).timestamp() == 100


def test_weighted_order_leads_in_proportion_to_weight():
    rng = random.Random(1)
    leaders = Counter(weighted_order(list(WEIGHTS), WEIGHTS, rng)[0] for _ in range(12_000))
    for name, weight in WEIGHTS.items():
        assert abs(leaders[name] / 12_000 - weight / 12) < 0.02, (name, leaders)


def test_weighted_order_is_a_permutation():
    order = weighted_order(list(WEIGHTS), WEIGHTS, random.Random(3))
    assert sorted(order) == sorted(WEIGHTS)


def test_strict_order_is_by_weight():
    assert strict_order(["system", "shipment", "critical"], WEIGHTS) == ["critical", "shipment", "system"]


@pytest.mark.parametrize("value", [0, 7 * 24 * 3600 + 1, "10", True])
def test_int_settings_out_of_range_are_clear_errors(value):
    with (
        override_settings(TRENOVA_JOBS_RETRY_BACKOFF_CAP=value),
        pytest.raises(ImproperlyConfigured, match="TRENOVA_JOBS_RETRY_BACKOFF_CAP must be an integer between"),
    ):
        setting_int("TRENOVA_JOBS_RETRY_BACKOFF_CAP")


def test_bad_strategy_and_weights_are_clear_errors():
    with (
        override_settings(TRENOVA_JOBS_DEQUEUE_STRATEGY="random"),
        pytest.raises(ImproperlyConfigured, match="weighted, strict"),
    ):
        dequeue_strategy()
    with (
        override_settings(TRENOVA_JOBS_QUEUE_WEIGHTS={"critical": 0}),
        pytest.raises(ImproperlyConfigured, match="positive integer"),
    ):
        queue_weights()
    with (
        override_settings(TRENOVA_JOBS_QUEUE_WEIGHTS={"nowhere": 1}),
        pytest.raises(ImproperlyConfigured, match="missing from RQ_QUEUES"),
    ):
        queue_weights()


def test_registry_knows_the_framework_types_and_refuses_bad_declarations():
    assert registry_get("system:noop").queue == "default"
    assert "system:noop" in job_type_names()
    assert job_type_names() == sorted(job_type_names())
    with pytest.raises(ValueError, match="category:action"):
        job_type("noop")
    with pytest.raises(ValueError, match="not in TRENOVA_JOBS_QUEUE_WEIGHTS"):
        job_type("x:y", queue="nowhere")
    with pytest.raises(ValueError, match="max_retries"):
        job_type("x:y", max_retries=-1)
    with pytest.raises(TypeError, match="JobPayload"):
        job_type("x:y", payload=dict)

    def other(payload, ctx):  # a second handler under an existing name
        return None

    with pytest.raises(ValueError, match="already registered"):
        job_type("system:noop")(other)


def test_rqworker_refuses_an_unknown_queue():
    with pytest.raises(CommandError, match="Unknown queue 'nope'"):
        call_command("rqworker", "nope", "--burst")


@pytest.mark.django_db
def test_dispatch_jobs_refuses_a_bad_limit():
    with pytest.raises(CommandError, match="--limit"):
        call_command("dispatch_jobs", "--limit", "0")
