"""Prometheus metrics, collected at scrape time from the durable records and from Redis.

Jobs run in short-lived forked work horses, so in-process counters would die with each job; reading the
JobRecord table and the queues at scrape time gives every process's work, and survives restarts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from redis.exceptions import RedisError

from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.selectors import queue_stats_list, workers_alive

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class JobCollector:
    def collect(self) -> Iterator[Metric]:
        yield from self._jobs()
        yield from self._durations()
        yield from self._queues()

    def _jobs(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "trenova_jobs",
            "Job records by type and status (pruned after the retention period).",
            labels=["job_type", "status"],
        )
        retries = GaugeMetricFamily(
            "trenova_job_retries", "Retried attempts (attempts beyond the first) by job type.", labels=["job_type"]
        )
        rows = JobRecord.objects.values("job_type", "status").annotate(
            n=Count("id"), extra=Sum(F("attempts") - 1, filter=Q(attempts__gt=1))
        )
        retry_totals: dict[str, int] = {}
        for row in rows:
            jobs.add_metric([row["job_type"], row["status"]], row["n"])
            retry_totals[row["job_type"]] = retry_totals.get(row["job_type"], 0) + (row["extra"] or 0)
        for job_type, total in sorted(retry_totals.items()):
            retries.add_metric([job_type], total)
        yield jobs
        yield retries

    def _durations(self) -> Iterator[Metric]:
        hist = HistogramMetricFamily(
            "trenova_job_duration_seconds", "Duration of the final attempt of succeeded jobs.", labels=["job_type"]
        )
        duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        aggregates = {
            f"le_{i}": Count("id", filter=Q(d__lte=timedelta(seconds=b))) for i, b in enumerate(DURATION_BUCKETS)
        }
        rows = (
            JobRecord.objects.filter(status=JobStatus.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False)
            .annotate(d=duration)
            .values("job_type")
            .annotate(n=Count("id"), total=Sum("d"), **aggregates)
        )
        for row in rows:
            buckets = [(str(b), row[f"le_{i}"]) for i, b in enumerate(DURATION_BUCKETS)]
            buckets.append(("+Inf", row["n"]))
            total = row["total"].total_seconds() if row["total"] else 0.0
            hist.add_metric([row["job_type"]], buckets, total)
        yield hist

    def _queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("trenova_queue_depth", "Jobs waiting in each queue.", labels=["queue"])
        registries = GaugeMetricFamily(
            "trenova_queue_registry_jobs",
            "Jobs in rq's started/scheduled/failed registries.",
            labels=["queue", "registry"],
        )
        workers = GaugeMetricFamily("trenova_workers_alive", "Workers with a fresh liveness beat.")
        up = GaugeMetricFamily("trenova_redis_up", "1 when Redis answered this scrape.")
        try:
            stats = queue_stats_list()
            alive = len(workers_alive())
        except RedisError:
            up.add_metric([], 0)
            yield up
            return
        for s in stats:
            depth.add_metric([s.name], s.queued)
            for registry, value in (("started", s.started), ("scheduled", s.scheduled), ("failed", s.failed)):
                registries.add_metric([s.name, registry], value)
        workers.add_metric([], alive)
        up.add_metric([], 1)
        yield from (depth, registries, workers, up)


def metrics_text() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobCollector())
    return generate_latest(registry)
