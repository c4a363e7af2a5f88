"""Prometheus metrics, collected at scrape time: one indexed query for the jobs in flight, Redis for the rest.

Jobs run in short-lived forked work horses, so in-process counters would die with each job. Outcome counts,
retries and durations are counters the workers keep in Redis (``trenova_jobs.stats``); the jobs still in
flight are counted in PostgreSQL over a partial index of the active statuses, so a scrape never scans the
whole (ever-growing) job table.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from trenova_jobs.models import ACTIVE_STATUSES, JobRecord
from trenova_jobs.schedules import schedule_states
from trenova_jobs.selectors import QueueStats, queue_stats_list, workers_alive
from trenova_jobs.stats import DURATION_BUCKETS, stats_read


class JobCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from self._active()
        yield from self._schedules()
        yield from self._redis()

    def _schedules(self) -> Iterator[Metric]:
        late = GaugeMetricFamily(
            "trenova_schedule_late",
            "1 when an enabled schedule has a fire time older than the grace period that no ticker claimed.",
            labels=["schedule"],
        )
        for state in schedule_states():
            late.add_metric([state.schedule.name], 1 if state.late else 0)
        yield late

    def _active(self) -> Iterator[Metric]:
        active = GaugeMetricFamily(
            "trenova_jobs_active", "Jobs not yet finished, by type and status.", labels=["job_type", "status"]
        )
        rows = (
            JobRecord.objects.filter(status__in=ACTIVE_STATUSES)
            .order_by()
            .values("job_type", "status")
            .annotate(n=Count("id"))
        )
        for row in rows:
            active.add_metric([row["job_type"], row["status"]], row["n"])
        yield active

    def _redis(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("trenova_redis_up", "1 when Redis answered this scrape.")
        try:
            stats = stats_read()
            queues = queue_stats_list()
            alive = len(workers_alive())
        except RedisError:
            up.add_metric([], 0)
            yield up
            return
        outcomes = CounterMetricFamily(
            "trenova_job_outcomes",
            "Final outcomes (succeeded, failed, cancelled) by job type, since Redis last started.",
            labels=["job_type", "outcome"],
        )
        retries = CounterMetricFamily(
            "trenova_job_retries", "Failed attempts that were retried, by job type.", labels=["job_type"]
        )
        for (job_type, outcome), n in sorted(stats.outcomes.items()):
            if outcome == "retried":
                retries.add_metric([job_type], n)
            else:
                outcomes.add_metric([job_type, outcome], n)
        hist = HistogramMetricFamily(
            "trenova_job_duration_seconds", "Duration of the successful attempt, by job type.", labels=["job_type"]
        )
        for job_type, (cumulative, count, total) in sorted(stats.durations.items()):
            buckets = [(str(b), n) for b, n in zip(DURATION_BUCKETS, cumulative, strict=True)]
            buckets.append(("+Inf", count))
            hist.add_metric([job_type], buckets, total)
        events = CounterMetricFamily(
            "trenova_worker_events",
            "Worker events: job_refused (a job hash trenova did not make: a security event), bad_job, "
            "bad_entry_removed, job_handling_failed, rq_cleanup_failed.",
            labels=["event"],
        )
        for event, n in sorted(stats.events.items()):
            events.add_metric([event], n)
        yield from (outcomes, retries, hist, events)
        yield from self._queues(queues, alive)
        up.add_metric([], 1)
        yield up

    def _queues(self, stats: list[QueueStats], alive: int) -> Iterator[Metric]:
        depth = GaugeMetricFamily("trenova_queue_depth", "Jobs waiting in each queue.", labels=["queue"])
        registries = GaugeMetricFamily(
            "trenova_queue_registry_jobs",
            "Jobs in rq's started/scheduled/failed registries.",
            labels=["queue", "registry"],
        )
        workers = GaugeMetricFamily("trenova_workers_alive", "Workers with a fresh liveness beat.")
        for s in stats:
            depth.add_metric([s.name], s.queued)
            for registry, value in (("started", s.started), ("scheduled", s.scheduled), ("failed", s.failed)):
                registries.add_metric([s.name, registry], value)
        workers.add_metric([], alive)
        yield from (depth, registries, workers)


def metrics_text() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobCollector())
    return generate_latest(registry)
