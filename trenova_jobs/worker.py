"""The worker behind ``manage.py rqworker``: weighted queue order, durable records, no job lost or doubled.

The main process (the supervisor) owns everything durable; the forked work horse only runs the handler.
One job's life in a worker, and where a crash leaves it:

1. **Dequeue**: the job id moves from its queue into this worker's in-flight list in one atomic Redis
   step (``rq_compat.dequeue_into``). From here until step 5 the id is in that list, so a worker that
   dies at any point leaves it where recovery (``recovery.dead_workers_recover``) finds it.
2. **Admission**: the job hash must be one trenova made (``admission.job_problem``) and have a
   record; anything else is failed without importing or forking anything, and counted.
3. **Start**: the record says ``running`` (attempt n) in PostgreSQL.
4. **Run**: the horse (which dies with the supervisor, and beats ``running:<job id>`` while alive)
   runs the handler, writes the outcome to a file for the supervisor, then does rq's bookkeeping.
5. **Settle**: the supervisor writes the outcome to the record (from the horse's file, or from Redis
   if the horse died), repairs rq's state if the horse could not write it, and only then removes the
   id from the in-flight list.

Every Redis step survives a Redis outage (the worker backs off, reconnects and carries on where it was);
every per-job step is guarded, so a malformed job is failed and the worker goes on. Recovery sweeps run
on their own clock, idle or busy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from django.db import DatabaseError, close_old_connections, connections
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import DequeueTimeout
from rq.job import Job, JobStatus
from rq.registry import clean_registries
from rq.serializers import JSONSerializer
from rq.timeouts import HorseMonitorTimeoutException
from rq.utils import utcnow
from rq.worker import StopRequested, WorkerStatus
from rq.worker_registration import clean_worker_registry

from trenova_jobs.admission import JOB_ID_RE, job_problem
from trenova_jobs.conf import dequeue_strategy, queue_weights, setting_int
from trenova_jobs.execution import Supervised, handler_entered, handler_returned, supervise
from trenova_jobs.faults import fault_point
from trenova_jobs.liveness import (
    Beat,
    die_with_parent,
    horse_beat_first,
    horse_beat_start,
    inflight_key,
    worker_beat_start,
)
from trenova_jobs.logs import log_event
from trenova_jobs.models import JobRecord
from trenova_jobs.models import JobStatus as RecordStatus
from trenova_jobs.outbox import dispatch_pending, lost_records_reset
from trenova_jobs.outcomes import FAILURE_META, AttemptFailure, attempt_settle, error_summary
from trenova_jobs.queues import rq_due_time, strict_order, weighted_order
from trenova_jobs.recovery import (
    abandoned_jobs_recover,
    dead_workers_recover,
    inflight_entry_settle,
    record_requeue_lost,
    stuck_records_reconcile,
)
from trenova_jobs.rq_compat import (
    CompatWorker,
    dequeue_into,
    job_fail_raw,
    job_from_hash,
    job_requeue_front,
    job_result,
    job_result_set,
    queue_name_from_key,
    wake_wait,
    worker_stopped_job_id,
)
from trenova_jobs.stats import worker_event_count
from trenova_jobs.ticker import ScheduleTicker
from trenova_jobs.transitions import (
    RUNNING_ONLY,
    UNMARKED_ATTEMPT,
    AttemptScope,
    record_attempt_failed,
    record_attempt_started,
    record_attempt_unstarted,
    record_succeeded,
)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# A horse's exit status when its handler ended but rq may lack the outcome (the supervisor then checks).
HORSE_CHECK_RQ = 3
_WAITING_RECORD = (RecordStatus.QUEUED, RecordStatus.SCHEDULED, RecordStatus.RETRYING, RecordStatus.PENDING)


class BackoffJob(Job):
    """An rq job whose retry never runs early.

    rq's own retry truncates the due time to whole seconds: a 1 s backoff could fire after 0.1 s.
    """

    def retry(self, queue: Queue, pipeline: Any) -> None:
        interval = self.get_retry_interval()
        if not interval:
            super().retry(queue, pipeline)
            return
        if self.retries_left is None:  # rq retries only a job with retries left
            raise TypeError(f"Job {self.id} has no retries left to use.")
        self.retries_left = self.retries_left - 1
        self.set_status(JobStatus.SCHEDULED)
        queue.schedule_job(self, rq_due_time(time.time() + interval), pipeline=pipeline)


class _Clock:
    """Runs something at most every ``interval`` seconds (monotonic)."""

    def __init__(self, interval: float, *, due_now: bool = True) -> None:
        self.interval = interval
        self._next = 0.0 if due_now else time.monotonic() + interval

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.interval
        return True


class WeightedWorker(CompatWorker):
    """An rq worker that picks the next queue by weight (Asynq's default) or by strict priority.

    Before every dequeue the queues are put in a fresh weighted-random order and the first non-empty one
    gives the job, so each queue leads in proportion to its weight and an empty queue never blocks.
    """

    def __init__(self, queues: Any, *args: Any, dequeue_seed: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("serializer", JSONSerializer)
        kwargs.setdefault("job_class", BackoffJob)
        kwargs.setdefault("default_worker_ttl", setting_int("TRENOVA_JOBS_WORKER_TTL"))
        kwargs.setdefault("maintenance_interval", setting_int("TRENOVA_JOBS_RQ_MAINTENANCE_INTERVAL"))
        # The horse monitor wakes this often, so that recovery sweeps keep their clock while busy.
        kwargs.setdefault("job_monitoring_interval", setting_int("TRENOVA_JOBS_RECOVERY_INTERVAL"))
        super().__init__(queues, *args, **kwargs)
        self._weights = queue_weights()
        self._strategy = dequeue_strategy()
        self._rng = random.Random(dequeue_seed)
        self._liveness_ttl = setting_int("TRENOVA_JOBS_WORKER_LIVENESS_TTL")
        self._idle_poll = setting_int("TRENOVA_JOBS_IDLE_POLL_MS") / 1000
        self._recovery_clock = _Clock(setting_int("TRENOVA_JOBS_RECOVERY_INTERVAL"))
        self._sweep_clock = _Clock(setting_int("TRENOVA_JOBS_MAINTENANCE_INTERVAL"))
        self._rq_clock = _Clock(setting_int("TRENOVA_JOBS_RQ_MAINTENANCE_INTERVAL"))
        self._queues_by_name: dict[str, Queue] = {q.name: q for q in self.queues}
        self._inflight = inflight_key(self.name)
        self._liveness: Beat | None = None
        self._horse_beat: Beat | None = None
        self._supervisor_pid = os.getpid()
        self._current_job_id: str | None = None
        self._redis_ok_since: float | None = time.monotonic()
        self._redis_wait = 1.0
        self._outcome_dir = _outcome_root() / re.sub(r"[^\w.-]", "_", self.name)
        self._horse_outcome_written = False
        self._horse_success_recorded = False
        self._horse_status = HORSE_CHECK_RQ << 8  # a wait status: "exited with HORSE_CHECK_RQ"
        self.stopped_on_error: BaseException | None = None
        self._order_queues()

    # --- Queue order ---------------------------------------------------------------------------

    def _order_queues(self) -> None:
        names = list(self._queues_by_name)
        if self._strategy == "strict":
            ordered = strict_order(names, self._weights)
        else:
            ordered = weighted_order(names, self._weights, self._rng)
        self.ordered_queues = [self._queues_by_name[name] for name in ordered]

    def reorder_queues(self, reference_queue: Queue) -> None:
        self._order_queues()

    # --- Lifecycle -----------------------------------------------------------------------------

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        self._outcome_dir.mkdir(parents=True, exist_ok=True)
        self._liveness = worker_beat_start(self.connection, self.name, self._liveness_ttl)

    def subscribe(self) -> None:
        # rq's pubsub thread (stop-job / shutdown commands) must not die on a Redis outage.
        pubsub = self.pubsub = self.connection.pubsub()
        pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = pubsub.run_in_thread(sleep_time=0.2, daemon=True, exception_handler=_pubsub_error)

    def teardown(self) -> None:
        if self.is_horse:
            return
        # Nothing may stay in this worker's in-flight list once it stops beating: settle what is left.
        self._current_job_id = None
        self._guarded(self._own_inflight_settle)
        if self._liveness is not None:
            self._liveness.stop()
        with contextlib.suppress(OSError):
            self._outcome_dir.rmdir()  # empty once every job is settled
        for step in (self.stop_scheduler_safely, self.register_death, self.unsubscribe):
            try:
                step()
            except Exception:
                log_event("teardown_step_failed", logging.WARNING, worker=self.name, step=step.__name__)

    def stop_scheduler_safely(self) -> None:
        if self.scheduler:
            self.stop_scheduler()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        # rq keeps the state in memory first, then in the worker's hash: only the hash waits for Redis.
        # An unchanged state is not written again (the loop sets "idle" after every job and before every
        # wait); a Redis that forgot the worker's hash gets it back from registration_restore().
        if pipeline is None and self.state_is(state):
            return
        try:
            super().set_state(state, pipeline)
        except RedisError:
            self.state_forget()  # not written: the next set_state writes whatever it is then

    # --- The work loop ---------------------------------------------------------------------------

    # Called with keywords (the rqworker command, django-rq): rq's other options (log formats,
    # max_idle_time, dequeue_strategy) arrive in **_ and do not apply, hence the narrower signature.
    def work(  # type: ignore[override]
        self,
        burst: bool = False,
        logging_level: str = "INFO",
        max_jobs: int | None = None,
        with_scheduler: bool = True,
        **_: Any,
    ) -> bool:
        """Take and run jobs until stopped (or, with ``burst``, until every queue is empty).

        A Redis outage of any length is ridden out. An unexpected error outside any one job stops the
        worker and is kept in ``stopped_on_error`` (the command exits non-zero).
        """
        self._redis_steady(self.connection.ping)  # started while Redis is down: wait for it
        self.bootstrap(logging_level, DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT)
        completed = 0
        ticker = None
        if with_scheduler:
            self._redis_steady(lambda: self.scheduler_start(burst, logging_level))
            if not burst:  # a burst worker stops when the queues are empty: it fires no schedules
                ticker = ScheduleTicker(worker_name=self.name)
                ticker.start()
        self.signal_handlers_install()
        try:
            while True:
                try:
                    self.check_for_suspension(burst)
                    self._maintain()
                    if self.stop_requested:
                        break
                    fault_point("loop", self.connection)
                    taken = self._dequeue(burst)
                    if taken is None:
                        if burst:
                            log_event("worker_done", logging.INFO, reason="burst_queues_empty", worker=self.name)
                            break
                        continue
                    self._take(*taken)
                    completed += 1
                    if max_jobs is not None and completed >= max_jobs:
                        break
                except StopRequested:
                    break
                except REDIS_DOWN as exc:
                    self._redis_lost(exc)
        except (StopRequested, SystemExit):
            pass
        except Exception as exc:
            self.stopped_on_error = exc
            log_event("worker_stopped_on_error", logging.ERROR, worker=self.name, exc_info=True)
        finally:
            if ticker is not None:
                ticker.stop()
            self.teardown()
        return bool(completed)

    def _redis_lost(self, exc: Exception) -> None:
        """Wait (with back-off) for Redis, then re-register: a restart without persistence forgot us."""
        self._redis_ok_since = None
        log_event(
            "redis_unavailable",
            logging.WARNING,
            worker=self.name,
            error=type(exc).__name__,
            retry_in_s=f"{self._redis_wait:.0f}",
        )
        time.sleep(self._redis_wait)
        self._redis_wait = min(self._redis_wait * 2, 30.0)
        try:
            self.connection.ping()
        except REDIS_DOWN:
            return
        self._redis_wait = 1.0
        self._redis_ok_since = time.monotonic()
        with contextlib.suppress(RedisError):
            self.registration_restore()
        log_event("redis_reconnected", logging.INFO, worker=self.name)

    def _redis_steady(self, step: Callable[[], Any]) -> Any:
        """Run a Redis step, waiting out any outage: the steps that must happen, whenever Redis is back."""
        while True:
            try:
                result = step()
            except REDIS_DOWN as exc:
                self._redis_lost(exc)
                continue
            if self._redis_ok_since is None:
                self._redis_ok_since = time.monotonic()
            return result

    def _dequeue(self, burst: bool) -> tuple[str, str] | None:
        """The next job id, moved into this worker's in-flight list; None after a while with none."""
        deadline = time.monotonic() + self._recovery_clock.interval
        keys_and_wait = None if burst else self._recovery_clock.interval
        self.set_state(WorkerStatus.IDLE)
        while True:
            self._order_queues()
            taken = dequeue_into(self.connection, self._inflight, [q.key for q in self.ordered_queues], keys_and_wait)
            if taken is not None or burst or len(self.ordered_queues) == 1:
                return taken
            if time.monotonic() >= deadline or self.stop_requested:
                return None
            wake_wait(self.connection, [q.name for q in self.ordered_queues], self._idle_poll)

    # --- Maintenance, on clocks of its own -------------------------------------------------------

    def _maintain(self, busy: bool = False) -> None:
        """Recovery every RECOVERY_INTERVAL, the database sweeps every MAINTENANCE_INTERVAL, rq's own
        registry clean-up every RQ_MAINTENANCE_INTERVAL; each task guarded on its own."""
        if self._recovery_clock.due():
            self._guarded(self.heartbeat)
            if self._redis_settled():
                self._guarded(self._recover_dead)
            if not busy:
                self._guarded(self._scheduler_keep_alive)
        if self._sweep_clock.due():
            self._guarded(self._own_inflight_settle)
            if self._redis_settled():
                for task in (self._reconcile_stuck, self._sweep_lost, self._dispatch_outbox):
                    self._guarded(task)
            close_old_connections()
        if self._rq_clock.due() and not busy:
            self._guarded(self._rq_registries_clean)

    def _redis_settled(self) -> bool:
        # Right after an outage every worker's beat is stale: judge nobody dead until they had time to beat.
        return self._redis_ok_since is not None and time.monotonic() - self._redis_ok_since >= self._liveness_ttl

    def _guarded(self, task: Callable[[], Any]) -> None:
        try:
            task()
        except StopRequested:
            raise  # a warm stop asked for while idle: the work loop ends
        except REDIS_DOWN as exc:
            self._redis_ok_since = None
            log_event("maintenance_redis_down", logging.WARNING, task=task.__name__, error=type(exc).__name__)
        except Exception:
            log_event("maintenance_failed", logging.ERROR, task=task.__name__, exc_info=True)
            close_old_connections()

    def _recover_dead(self) -> None:
        dead_workers_recover(connection=self.connection, queues=self.queues, ttl=self._liveness_ttl, me=self.name)
        abandoned_jobs_recover(connection=self.connection, queues=self.queues, ttl=self._liveness_ttl)

    def _reconcile_stuck(self) -> None:
        stuck_records_reconcile()

    def _sweep_lost(self) -> None:
        lost_records_reset()

    def _dispatch_outbox(self) -> None:
        result = dispatch_pending()
        if result.pushed or result.failed:
            log_event(
                "outbox_dispatched",
                logging.INFO,
                pushed=result.pushed,
                failed=result.failed,
                still_pending=result.still_pending,
            )

    def _scheduler_keep_alive(self) -> None:
        if self.scheduler:
            self.scheduler.ensure_running()

    def _rq_registries_clean(self) -> None:
        """rq's registry clean-up, one queue at a time, so one bad entry cannot stop the others."""
        for queue in self.queues:
            try:
                if queue.acquire_maintenance_lock():
                    try:
                        clean_registries(queue)
                        clean_worker_registry(queue)
                    finally:
                        queue.release_maintenance_lock()
            except REDIS_DOWN:
                raise
            except Exception:
                log_event("rq_cleanup_failed", logging.ERROR, queue=queue.name, exc_info=True)
                worker_event_count("rq_cleanup_failed", self.connection)
        self.last_cleaned_at = utcnow()

    def _own_inflight_settle(self) -> None:
        """Settle ids left in this worker's own in-flight list by a step that failed (not the current job)."""
        for raw in self.connection.lrange(self._inflight, 0, -1):
            job_id = raw.decode()
            if job_id == self._current_job_id:
                continue
            outcome = self._outcome_read(job_id)
            if outcome is not None:
                self._settle_from_outcome_file(job_id, outcome)
            else:
                inflight_entry_settle(self.connection, job_id, dead_worker=self.name, queues=self.queues)
            self._outcome_forget(job_id)

    # --- One job -------------------------------------------------------------------------------

    def _take(self, queue_key: str, job_id: str) -> None:
        """Admit, run and settle one dequeued job; a failure here fails this job, never the worker."""
        queue = self._queues_by_name.get(queue_name_from_key(queue_key))
        if queue is None:  # cannot happen: we only pop our own queues
            self.connection.lrem(self._inflight, 1, job_id)
            return
        self._current_job_id = job_id
        fault_point("after_dequeue", self.connection)
        try:
            job = self._admit(queue, job_id)
            if job is not None:
                self._attempt(job, queue)
        except (*REDIS_DOWN, StopRequested):
            raise  # Redis: the work loop waits, the id stays in flight and is settled after
        except Exception as exc:
            log_event("job_handling_failed", logging.ERROR, job_id=job_id, queue=queue.name, exc_info=True)
            worker_event_count("job_handling_failed", self.connection)
            self._current_job_id = None
            try:
                inflight_entry_settle(self.connection, job_id, dead_worker=self.name, queues=self.queues)
            except Exception:
                log_event("job_settle_after_error_failed", logging.ERROR, job_id=job_id, error=repr(exc), exc_info=True)
        finally:
            self._current_job_id = None
            self.set_state(WorkerStatus.IDLE)

    def _admit(self, queue: Queue, job_id: str) -> Job | None:
        fields = self.connection.hgetall(Job.key_for(job_id))
        if not fields:
            # Nothing to run; a record waiting for it is found by the lost-job sweep.
            self.connection.lrem(self._inflight, 1, job_id)
            log_event("dequeued_missing", logging.WARNING, job_id=job_id, queue=queue.name)
            worker_event_count("dequeued_missing", self.connection)
            return None
        problem = job_problem(job_id, fields)
        if problem is not None:
            self._refuse(queue, job_id, problem, event="job_refused")
            return None
        try:
            return job_from_hash(self.job_class, job_id, fields, self.connection, self.serializer)
        except REDIS_DOWN:
            raise
        except Exception as exc:
            self._refuse(queue, job_id, f"the job hash cannot be read ({type(exc).__name__}: {exc})", event="bad_job")
            return None

    def _refuse(self, queue: Queue, job_id: str, reason: str, *, event: str) -> None:
        """Fail a job that must not run, without importing or forking anything; logged and counted."""
        log_event(
            event,
            logging.ERROR,
            security="true" if event == "job_refused" else "false",
            job_id=job_id[:80],
            queue=queue.name,
            worker=self.name,
            reason=reason,
        )
        worker_event_count(event, self.connection)
        job_fail_raw(
            self.connection,
            job_id=job_id,
            queue_name=queue.name,
            reason=f"Refused by trenova worker {self.name}: {reason}",
            failure_ttl=setting_int("TRENOVA_JOBS_FAILURE_TTL"),
            inflight=self._inflight,
        )
        if JOB_ID_RE.match(job_id):
            with contextlib.suppress(DatabaseError):
                record_attempt_failed(
                    record_id=job_id,
                    error=f"Refused by the worker: {reason}",
                    will_retry=False,
                    statuses=_WAITING_RECORD,
                )

    def _attempt(self, job: Job, queue: Queue) -> None:
        if job.meta.pop(FAILURE_META, None) is not None:
            job.save_meta()
        try:
            record = record_attempt_started(record_id=job.id)
        except DatabaseError:
            # Leave the bookkeeping to run() in the horse: if the database is still down there, the attempt
            # fails and rq retries it with backoff. The outcome is settled below either way.
            log_event("record_start_failed", logging.ERROR, job_id=job.id, exc_info=True)
            connections.close_all()
            self._run_horse(job, queue, None)
            self._settle(job, queue, None, statuses=UNMARKED_ATTEMPT)
            return
        if record is None:
            self._not_runnable(job, queue)
            return
        fault_point("after_start_mark", self.connection)
        self._run_horse(job, queue, Supervised(record_id=job.id, record=record))
        self._settle(job, queue, record, statuses=RUNNING_ONLY)

    def _not_runnable(self, job: Job, queue: Queue) -> None:
        """No record, or a finished one (a re-delivery): never forked."""
        status = JobRecord.objects.filter(pk=job.id).values_list("status", flat=True).first()
        if status is None:
            self._refuse(queue, job.id, "the job has no job record", event="job_refused")
            return
        rq_states: dict[str, JobStatus] = {
            RecordStatus.SUCCEEDED: JobStatus.FINISHED,
            RecordStatus.FAILED: JobStatus.FAILED,
        }
        with self.connection.pipeline() as pipe:
            job.set_status(rq_states.get(status, JobStatus.CANCELED), pipeline=pipe)
            pipe.lrem(self._inflight, 1, job.id)
            pipe.execute()
        log_event("redelivery_skipped", logging.INFO, job_id=job.id, record_status=status)

    def _run_horse(self, job: Job, queue: Queue, supervised: Supervised | None) -> None:
        self._outcome_forget(job.id)
        supervise(supervised)
        self.set_state(WorkerStatus.BUSY)
        try:
            self.fork_work_horse(job, queue)
            self._horse_status = self.monitor_work_horse(job, queue)
        finally:
            supervise(None)

    # --- Settling the outcome --------------------------------------------------------------------

    def _settle(self, job: Job, queue: Queue, record: JobRecord | None, *, statuses: Collection[str]) -> None:
        """Write the attempt's outcome, repair rq's state, then let the job id out of the in-flight list."""
        outcome = self._outcome_read(job.id)
        fault_point("after_horse_exit", self.connection)
        for last_try in (False, False, True):
            try:
                current = record if record is not None else JobRecord.objects.get(pk=job.id)
                self._redis_steady(lambda: self._settle_once(job, queue, current, outcome, statuses))  # noqa: B023
                break
            except DatabaseError:
                connections.close_all()  # most often a connection the database dropped while the horse ran
                if last_try:
                    # Left in flight: the next sweep of this worker's in-flight list settles it.
                    log_event("record_settle_failed", logging.ERROR, job_id=job.id, exc_info=True)
                    return
                time.sleep(1)
        fault_point("after_settle", self.connection)
        self._redis_steady(lambda: self._inflight_release(job.id))
        self._outcome_forget(job.id)

    def _inflight_release(self, job_id: str) -> None:
        """Let a settled job out of the in-flight list and say "idle", in one round trip."""
        with self.connection.pipeline() as pipe:
            pipe.lrem(self._inflight, 1, job_id)
            self.set_state(WorkerStatus.IDLE, pipeline=pipe)
            pipe.execute()

    def _job_state(self, job: Job) -> Any:
        return job.get_status(refresh=True)

    def _settle_once(
        self, job: Job, queue: Queue, record: JobRecord, outcome: dict[str, Any] | None, statuses: Collection[str]
    ) -> None:
        if outcome is None:
            state = self._job_state(job)
            if state is None:
                self._settle_job_gone(record, statuses)
                return
            ret = self._horse_status
            exited = os.WIFEXITED(ret) and os.WEXITSTATUS(ret) in (os.EX_OK, HORSE_CHECK_RQ) if ret >= 0 else False
            if not exited and state not in (JobStatus.FINISHED, JobStatus.FAILED):
                # The horse died without a word (killed, OOM): fail the attempt in rq as rq itself would.
                signal_msg = f" (signal {os.WTERMSIG(ret)})" if ret and os.WIFSIGNALED(ret) else ""
                self.handle_job_failure(
                    job, queue, exc_string=f"Work-horse terminated unexpectedly; waitpid returned {ret}{signal_msg}"
                )
            job.refresh()
            attempt_settle(job, record, statuses)
            return
        where: AttemptScope = {"attempt": record.attempts, "statuses": statuses}
        if outcome["status"] == "unstarted":
            self._requeue_unstarted(job, queue, record, outcome)
            return
        if outcome["status"] == "succeeded":
            record_succeeded(
                record=record, result=outcome.get("result"), duration=outcome.get("duration", 0.0), **where
            )
        else:
            record_attempt_failed(
                record_id=record.id,
                error=outcome["error"],
                traceback=outcome["traceback"],
                will_retry=outcome["will_retry"],
                retry_in=outcome["retry_in"],
                **where,
            )
        if outcome["status"] == "succeeded" and self._horse_status == os.EX_OK:
            return  # the horse said rq has the success too
        if self._job_state(job) == JobStatus.STARTED and job.worker_name == self.name:
            # The handler ended but the horse could not tell rq (Redis was down): do it from here.
            if outcome["status"] == "succeeded":
                job.ended_at = utcnow()
                job_result_set(job, outcome.get("result"))
                self.handle_job_success(job, queue, queue.started_job_registry)
            else:
                self.handle_job_failure(job, queue, exc_string=outcome["traceback"])

    def _requeue_unstarted(self, job: Job, queue: Queue, record: JobRecord, outcome: dict[str, Any]) -> None:
        """The horse failed before the handler began (Redis went away as it started): put the job back at
        the front of its queue, whatever rq managed to write meanwhile, and give the attempt back."""
        log_event("attempt_not_started", logging.WARNING, job_id=job.id, error=outcome.get("error", "")[:200])
        job_requeue_front(self.connection, queue, job, inflight=self._inflight)
        if record.status == RecordStatus.RUNNING:
            record_attempt_unstarted(record_id=record.id, attempt=record.attempts)

    def _settle_job_gone(self, record: JobRecord, statuses: Collection[str]) -> None:
        """Redis lost the job while it ran (a restart without persistence) and the horse left no word."""
        record_requeue_lost(record=record, reason="rq_job_missing_after_run")

    def _settle_from_outcome_file(self, job_id: str, outcome: dict[str, Any]) -> None:
        record = JobRecord.objects.filter(pk=job_id).first()
        if record is not None and record.status in UNMARKED_ATTEMPT:
            try:
                job = self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
            except Exception:
                job = None
            queue = self._queues_by_name.get(job.origin) if job is not None else None
            if job is not None and queue is not None:
                self._horse_status = HORSE_CHECK_RQ << 8
                self._settle_once(job, queue, record, outcome, (record.status,))
            elif outcome["status"] == "unstarted":
                record_requeue_lost(record=record, reason="attempt_not_started")
            elif outcome["status"] == "succeeded":
                record_succeeded(record=record, result=outcome.get("result"), duration=0.0, statuses=(record.status,))
            else:
                record_attempt_failed(
                    record_id=job_id,
                    error=outcome["error"],
                    traceback=outcome["traceback"],
                    will_retry=False,
                    statuses=(record.status,),
                )
        self.connection.lrem(self._inflight, 1, job_id)

    # --- The outcome file: how the horse tells the supervisor, whatever Redis does ----------------

    def _outcome_path(self, job_id: str) -> Path:
        return self._outcome_dir / f"{job_id}.json"

    def _outcome_write(self, job_id: str, outcome: dict[str, Any]) -> None:
        try:
            path = self._outcome_path(job_id)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(outcome))
            os.replace(tmp, path)
            self._horse_outcome_written = True
        except Exception:
            log_event("outcome_file_write_failed", logging.ERROR, job_id=job_id, exc_info=True)

    def _outcome_read(self, job_id: str) -> dict[str, Any] | None:
        try:
            value = json.loads(self._outcome_path(job_id).read_text())
        except (OSError, ValueError):
            return None
        ok = isinstance(value, dict) and value.get("status") in ("succeeded", "failed", "unstarted")
        return value if ok else None

    def _outcome_forget(self, job_id: str) -> None:
        with contextlib.suppress(OSError):
            self._outcome_path(job_id).unlink()

    # --- The work horse -------------------------------------------------------------------------

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        """The horse: rq's, but it dies with its supervisor, beats while it runs, and says by its exit
        status whether rq's bookkeeping of a success landed (0) or must be checked (HORSE_CHECK_RQ)."""
        die_with_parent(self._supervisor_pid)
        _detach_inherited_connections()
        self._horse_beat = horse_beat_start(self.connection, job.id, self.name, self._liveness_ttl)
        random.seed()
        self.setup_work_horse_signals()
        self.horse_mark()
        self.log = logging.getLogger("rq.worker")
        try:
            self.perform_job(job, queue)
        except BaseException:
            os._exit(1)
        os._exit(os.EX_OK if self._horse_success_recorded else HORSE_CHECK_RQ)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None and self.is_horse and self._horse_beat is not None and self._current_job_id:
            # rq's start-of-job pipeline (prepare_job_execution): the horse's first beat costs no round trip.
            horse_beat_first(pipeline, self._current_job_id, self.name, self._liveness_ttl)
        super().heartbeat(timeout, pipeline)

    def perform_job(self, job: Job, queue: Queue) -> bool:
        try:
            return super().perform_job(job, queue)
        finally:
            if self.is_horse:
                if self._horse_beat is not None:
                    self._horse_beat.stop()
                connections.close_all()  # only the horse's own connections: inherited ones are detached

    def monitor_work_horse(self, job: Job, queue: Queue) -> int:
        """Wait for the horse, keeping heartbeats and the recovery clock; returns its wait status.

        rq's version lets a Redis error escape (and the worker exit); here Redis errors while the horse
        runs are logged and the wait goes on. The outcome is settled by the caller.
        """
        ret_val = None
        job.started_at = utcnow()
        while True:
            try:
                with self.death_penalty_class(self.job_monitoring_interval, HorseMonitorTimeoutException):
                    _pid, ret_val, _rusage = self.wait_for_horse()
                break
            except HorseMonitorTimeoutException:
                self.current_job_working_time = (utcnow() - job.started_at).total_seconds()
                if job.timeout != -1 and self.current_job_working_time > (job.timeout or 0) + 60:
                    self.kill_horse()
                    self.wait_for_horse()
                    ret_val = -1
                    break
                self._guarded(lambda: self.maintain_heartbeats(job))
                self._maintain(busy=True)
            except OSError as exc:
                if exc.errno != 4:  # EINTR: a signal (SIGTERM for a warm stop) interrupted the wait
                    raise
        self.horse_pid_clear()
        return ret_val if ret_val is not None else 0

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: Any) -> None:
        if self.is_horse:
            duration = (job.ended_at - job.started_at).total_seconds() if job.ended_at and job.started_at else 0.0
            self._outcome_write(job.id, {"status": "succeeded", "result": job_result(job), "duration": duration})
        super().handle_job_success(job, queue, started_job_registry)
        self._horse_success_recorded = self.is_horse

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: Any = None, exc_string: str = ""
    ) -> None:
        # Runs in the horse (the handler raised) or in the main process (the horse died). The outcome
        # goes to the supervisor in the outcome file (horse) and in the job's meta (for recovery).
        will_retry = bool(job.retries_left and job.retries_left > 0 and worker_stopped_job_id(self) != job.id)
        failure: AttemptFailure = {
            "error": error_summary(exc_string),
            "traceback": exc_string[-20000:],
            "will_retry": will_retry,
            "retry_in": job.get_retry_interval() if will_retry else 0,
        }
        if self.is_horse:
            returned = handler_returned()
            if returned is not None:
                # The handler succeeded; rq's bookkeeping after it failed (Redis went away). The supervisor
                # records the success and, once Redis is back, rq's too: no failure, no retry, here.
                if not self._horse_outcome_written:
                    self._outcome_write(job.id, {"status": "succeeded", **returned})
                log_event("rq_bookkeeping_failed", logging.WARNING, job_id=job.id, error=failure["error"][:200])
                return
            if not self._horse_outcome_written:
                # Before the handler began (rq could not mark the job started), the attempt never happened.
                status = "failed" if handler_entered() else "unstarted"
                self._outcome_write(job.id, {"status": status, **failure})
        job.meta[FAILURE_META] = failure
        try:
            job.save_meta()
        except Exception:
            log_event("failure_meta_not_saved", logging.WARNING, job_id=job.id)
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)


def _outcome_root() -> Path:
    """Where horses leave outcomes for their supervisor: memory-backed /dev/shm when there is one."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    return base / "trenova-jobs"


def _pubsub_error(exc: BaseException, pubsub: Any, thread: Any) -> None:
    log_event("pubsub_error", logging.WARNING, error=type(exc).__name__)
    time.sleep(1)
    with contextlib.suppress(Exception):
        pubsub.connection and pubsub.connection.disconnect()


# Connections a horse inherited from the main process. Kept referenced and never closed: closing one
# would end the main process's database session. The horse leaves through os._exit, so no finaliser runs.
_inherited_connections: list[Any] = []


def _detach_inherited_connections() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            _inherited_connections.append(conn.connection)
            conn.connection = None


__all__ = ["BackoffJob", "DequeueTimeout", "WeightedWorker"]
