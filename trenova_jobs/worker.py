"""The worker class behind ``manage.py rqworker``: weighted queue order, durable records, fast recovery."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Collection
from typing import Any

from django.db import DatabaseError, close_old_connections, connections
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from trenova_jobs.conf import dequeue_strategy, queue_weights, setting_int
from trenova_jobs.execution import Supervised, supervise
from trenova_jobs.models import JobRecord
from trenova_jobs.queues import rq_due_time, strict_order, weighted_order
from trenova_jobs.recovery import (
    FAILURE_META,
    LivenessBeat,
    abandoned_jobs_recover,
    attempt_settle,
    error_summary,
    stuck_records_reconcile,
)
from trenova_jobs.services import RUNNING_ONLY, UNMARKED_ATTEMPT, dispatch_pending, record_attempt_started

logger = logging.getLogger("trenova_jobs")


class BackoffJob(Job):
    """An rq job whose retry never runs early.

    rq's own retry truncates the due time to whole seconds: a 1 s backoff could fire after 0.1 s.
    """

    def retry(self, queue: Queue, pipeline: Any) -> None:
        interval = self.get_retry_interval()
        if not interval:
            super().retry(queue, pipeline)
            return
        self.retries_left = self.retries_left - 1
        self.set_status(JobStatus.SCHEDULED)
        queue.schedule_job(self, rq_due_time(time.time() + interval), pipeline=pipeline)


class WeightedWorker(Worker):
    """An rq worker that picks the next queue by weight (Asynq's default) or by strict priority.

    Before every dequeue the queues are put in a fresh weighted-random order; rq then pops from the first
    non-empty one, so each queue leads in proportion to its weight and an empty queue never blocks.
    """

    def __init__(self, queues: Any, *args: Any, dequeue_seed: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("serializer", JSONSerializer)
        kwargs.setdefault("job_class", BackoffJob)
        kwargs.setdefault("default_worker_ttl", setting_int("TRENOVA_JOBS_WORKER_TTL"))
        kwargs.setdefault("maintenance_interval", setting_int("TRENOVA_JOBS_MAINTENANCE_INTERVAL"))
        super().__init__(queues, *args, **kwargs)
        self._weights = queue_weights()
        self._strategy = dequeue_strategy()
        self._rng = random.Random(dequeue_seed)
        self._liveness: LivenessBeat | None = None
        self._order_queues()

    # --- Queue order ---------------------------------------------------------------------------

    def _order_queues(self) -> None:
        by_name: dict[str, Queue] = {q.name: q for q in self.queues}
        if self._strategy == "strict":
            names = strict_order(list(by_name), self._weights)
        else:
            names = weighted_order(list(by_name), self._weights, self._rng)
        self._ordered_queues = [by_name[name] for name in names]

    def reorder_queues(self, reference_queue: Queue) -> None:
        self._order_queues()

    # --- Lifecycle -----------------------------------------------------------------------------

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        self._liveness = LivenessBeat(self.connection, self.name, setting_int("TRENOVA_JOBS_WORKER_LIVENESS_TTL"))
        self._liveness.start()

    def teardown(self) -> None:
        if not self.is_horse and self._liveness is not None:
            self._liveness.stop()
        super().teardown()

    def run_maintenance_tasks(self) -> None:
        # Ours first: rq's registry cleanup would move abandoned jobs without updating their records.
        for task in (self._recover_abandoned, self._reconcile_stuck, self._dispatch_outbox):
            try:
                task()
            except Exception:
                logger.exception("event=maintenance_failed task=%s", task.__name__)
        close_old_connections()
        super().run_maintenance_tasks()

    def _recover_abandoned(self) -> None:
        abandoned_jobs_recover(connection=self.connection, queues=self.queues)

    def _reconcile_stuck(self) -> None:
        stuck_records_reconcile()

    def _dispatch_outbox(self) -> None:
        result = dispatch_pending()
        if result.pushed:
            logger.info("event=outbox_dispatched pushed=%s still_pending=%s", result.pushed, result.still_pending)

    # --- Execution: the main process owns the record; the horse only runs the handler ----------

    def execute_job(self, job: Job, queue: Queue) -> None:
        if job.meta.pop(FAILURE_META, None) is not None:
            job.save_meta()
        if len(self.queues) == 1:
            # A single-queue worker dequeues through rq's intermediate queue, whose cleanup remembers when
            # it first saw each job id for a day; a retry (same id) must not inherit that first sighting,
            # or the cleanup would fail it over while it runs.
            self.connection.delete(queue.intermediate_queue.get_first_seen_key(job.id))
        try:
            record = record_attempt_started(record_id=job.id)
        except DatabaseError:
            # Leave the bookkeeping to run() in the horse: if the database is still down there, the
            # attempt fails and rq retries it with backoff. run() records a success itself; a failure is
            # settled below from what the horse left in Redis, whether or not run() could mark the
            # attempt started.
            logger.exception("event=record_start_failed job_id=%s", job.id)
            connections.close_all()
            super().execute_job(job, queue)
            self._settle_safely(job, statuses=UNMARKED_ATTEMPT)
            return
        supervise(Supervised(record_id=job.id, record=record))
        try:
            super().execute_job(job, queue)
        finally:
            supervise(None)
        if record is not None:
            self._settle_safely(job, record=record)

    def _settle_safely(self, job: Job, *, record: Any = None, statuses: Collection[str] = RUNNING_ONLY) -> None:
        """Settle the attempt; a stuck record is the reconciler's to fix, never a crashed worker."""
        for last_try in (False, True):
            try:
                job.refresh()
                attempt_settle(job, record if record is not None else JobRecord.objects.get(pk=job.id), statuses)
                return
            except DatabaseError:
                # Most often a connection the database dropped while the horse ran: reconnect, once.
                connections.close_all()
                if last_try:
                    logger.exception("event=record_settle_failed job_id=%s", job.id)
            except Exception:
                logger.exception("event=record_settle_failed job_id=%s", job.id)
                return

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        _detach_inherited_connections()
        super().main_work_horse(job, queue)

    def perform_job(self, job: Job, queue: Queue) -> bool:
        try:
            return super().perform_job(job, queue)
        finally:
            if self.is_horse:
                connections.close_all()  # only the horse's own connections: inherited ones are detached

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: Any = None, exc_string: str = ""
    ) -> None:
        # Runs in the horse (the handler raised) or in the main process (the horse died). Either way the
        # outcome travels in the job's meta to attempt_settle(), called from the main process.
        will_retry = bool(job.retries_left and job.retries_left > 0 and self._stopped_job_id != job.id)
        job.meta[FAILURE_META] = {
            "error": error_summary(exc_string),
            "traceback": exc_string[-20000:],
            "will_retry": will_retry,
            "retry_in": job.get_retry_interval() if will_retry else 0,
        }
        try:
            job.save_meta()
        except Exception:
            logger.exception("event=failure_meta_not_saved job_id=%s", job.id)
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)


# Connections a horse inherited from the main process. Kept referenced and never closed: closing one
# would end the main process's database session. The horse leaves through os._exit, so no finaliser runs.
_inherited_connections: list[Any] = []


def _detach_inherited_connections() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            _inherited_connections.append(conn.connection)
            conn.connection = None
