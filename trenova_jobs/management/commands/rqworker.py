"""Run a trenova worker: weighted queue order, rq's scheduler on, every configured queue by default.

Usage:
    manage.py rqworker                       # all queues, weighted, scheduler on
    manage.py rqworker critical shipment     # only these queues
    manage.py rqworker --burst               # exit when the queues are empty
    manage.py rqworker --strategy strict     # strict priority instead of weights
    manage.py rqworker --no-scheduler        # leave delayed jobs and retries to other workers

Exits 0 when stopped (SIGTERM, --burst, --max-jobs) and 1 when it stopped on an unexpected error.
A Redis outage does not stop it: it waits for Redis and carries on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from trenova_jobs.conf import DEQUEUE_STRATEGIES, queue_weights
from trenova_jobs.logs import log_event
from trenova_jobs.queues import queue_get
from trenova_jobs.worker import WeightedWorker


def _redis_wait(connection: Redis) -> None:
    """Started while Redis is down (a host reboot, say): wait for it rather than crash-loop."""
    wait = 1.0
    while True:
        try:
            connection.ping()
            return
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log_event(
                "redis_unavailable",
                logging.WARNING,
                worker="starting",
                error=type(exc).__name__,
                retry_in_s=f"{wait:.0f}",
            )
            time.sleep(wait)
            wait = min(wait * 2, 30.0)


class Command(BaseCommand):
    help = "Run a weighted rq worker (scheduler on) for the trenova job queues."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("queues", nargs="*", help="Queues to serve (default: all configured queues).")
        parser.add_argument("--burst", action="store_true", help="Quit when all queues are empty.")
        parser.add_argument("--no-scheduler", action="store_true", help="Do not run rq's scheduler.")
        parser.add_argument("--name", help="Worker name (default: rq's host.pid name).")
        parser.add_argument("--max-jobs", type=int, help="Quit after this many jobs.")
        parser.add_argument("--strategy", choices=DEQUEUE_STRATEGIES, help="Override TRENOVA_JOBS_DEQUEUE_STRATEGY.")
        parser.add_argument("--seed", type=int, help="Seed the weighted order (reproducible benchmarks/tests).")
        parser.add_argument("--logging-level", default="INFO", help="rq worker log level.")

    def handle(self, *args: Any, **options: Any) -> None:
        names = options["queues"] or list(queue_weights())
        try:
            queues = [queue_get(name) for name in names]
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["strategy"]:
            settings.TRENOVA_JOBS_DEQUEUE_STRATEGY = options["strategy"]
        connections.close_all()  # the worker forks; children open their own connections
        # A client of its own without a read timeout: rq sets one that fits its blocking dequeue.
        connection = Redis.from_url(settings.RQ_QUEUES[names[0]]["URL"], socket_connect_timeout=5)
        _redis_wait(connection)
        worker = WeightedWorker(queues, connection=connection, name=options["name"], dequeue_seed=options["seed"])
        worker.work(
            burst=options["burst"],
            with_scheduler=not options["no_scheduler"],
            max_jobs=options["max_jobs"],
            logging_level=options["logging_level"],
        )
        if worker.stopped_on_error is not None:
            # Non-zero, so that a process supervisor restarting on failure restarts it.
            raise CommandError(f"The worker stopped on an error: {worker.stopped_on_error!r}")
