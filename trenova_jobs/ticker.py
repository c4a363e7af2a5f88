"""The schedule ticker: a thread in every worker (unless ``--no-scheduler``) that fires due schedules.

It runs beside the work loop, not in rq's maintenance pass (which does not run while a job does), with a
database connection of its own that it closes after every tick, so a long idle period or a database
restart never leaves it holding a dead connection. Several workers tick at once; the fire rows make each
fire time run once (``trenova_jobs.schedules``).
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connection

from trenova_jobs.conf import setting_int
from trenova_jobs.logs import log_event


class ScheduleTicker(threading.Thread):
    def __init__(self, *, worker_name: str) -> None:
        super().__init__(name=f"trenova-ticker-{worker_name}", daemon=True)
        self.worker_name = worker_name
        self.interval = setting_int("TRENOVA_JOBS_SCHEDULE_TICK")
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        from trenova_jobs.schedules import schedules_tick

        log_event("ticker_started", worker=self.worker_name, interval_s=self.interval)
        while not self._stop_event.wait(self.interval):
            try:
                close_old_connections()
                schedules_tick()
            except Exception as exc:  # the database is down, say: try again next tick
                log_event(
                    "ticker_error", logging.WARNING, worker=self.worker_name, error=f"{type(exc).__name__}: {exc}"
                )
            finally:
                connection.close()
