"""Crash recovery: jobs of workers that died are re-queued at once, and no record stays ``running``.

Every trenova worker refreshes a short-lived liveness key from a background thread. A started job whose
worker has no liveness key is abandoned (SIGKILL, OOM, power loss): it goes back on its queue if it has
retries left, or to the failed registry if not, and its record is updated. rq's own cleanup would do
this too, but only after its ~10-minute maintenance interval and the job's 90 s heartbeat TTL.

A second sweep, ``stuck_records_reconcile``, settles records still ``running`` 30 s after their
attempt started whose rq job says otherwise: the worker died before it could write the outcome, or
before the job reached the started registry, or rq's own cleanup moved the job.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from redis import Redis
from redis.exceptions import WatchError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.results import Result

from trenova_jobs.models import JobRecord
from trenova_jobs.models import JobStatus as RecordStatus
from trenova_jobs.queues import queue_get
from trenova_jobs.services import RUNNING_ONLY, UNMARKED_ATTEMPT, record_attempt_failed, record_succeeded

logger = logging.getLogger("trenova_jobs")

LIVENESS_PREFIX = "trenova:worker:alive:"
REAP_CLAIM_PREFIX = "trenova:reap:"
# Where a work horse leaves the outcome of a failed attempt for the process that records it.
FAILURE_META = "trenova_failure"
# A running record is checked against its rq job once its attempt is this old.
# 30 s: a worker that dies between marking an attempt started and its horse starting the job leaves a job
# only this sweep can find, and the crash-recovery target is one minute (30 s + up to ~15 s to the next
# sweep). A live worker takes milliseconds for that step, so a job still there after 30 s is abandoned.
STUCK_AFTER = timedelta(seconds=30)


def error_summary(exc_string: str) -> str:
    """The last line of a traceback: what the record shows as the error."""
    lines = [line for line in (exc_string or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "Job failed without an exception message."


def liveness_key(worker_name: str) -> str:
    return f"{LIVENESS_PREFIX}{worker_name}"


def worker_alive(connection: Redis, worker_name: str) -> bool:
    return bool(connection.exists(liveness_key(worker_name)))


def live_worker_names(connection: Redis) -> list[str]:
    return sorted(
        key.decode()[len(LIVENESS_PREFIX) :] for key in connection.scan_iter(match=f"{LIVENESS_PREFIX}*", count=500)
    )


class LivenessBeat:
    """A daemon thread that keeps ``liveness_key(worker_name)`` alive while the process lives."""

    def __init__(self, connection: Redis, worker_name: str, ttl: int) -> None:
        self._connection = connection
        self._key = liveness_key(worker_name)
        self._ttl = ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trenova-liveness", daemon=True)

    def start(self) -> None:
        self._beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            self._connection.delete(self._key)
        except Exception:  # shutting down: the key expires by itself
            logger.debug("event=liveness_delete_failed key=%s", self._key)

    def _beat(self) -> None:
        self._connection.set(self._key, os.getpid(), ex=self._ttl)

    def _run(self) -> None:
        while not self._stop.wait(self._ttl / 3):
            try:
                self._beat()
            except Exception:
                logger.warning("event=liveness_beat_failed key=%s", self._key, exc_info=True)


def abandoned_jobs_recover(*, connection: Redis, queues: Iterable[Queue]) -> list[str]:
    """Re-queue (or fail) started jobs whose worker is gone. Returns the ids handled.

    One job that cannot be recovered is logged and left for the next sweep; it never stops the others.
    """
    recovered: list[str] = []
    for queue in queues:
        registry = StartedJobRegistry(queue.name, connection=connection, serializer=queue.serializer)
        # Read the registry directly: get_job_ids() would first run rq's own cleanup, which moves
        # expired jobs without telling their records.
        for raw_id in connection.zrange(registry.key, 0, -1):
            job_id = raw_id.decode()
            try:
                if _abandoned_recover(job_id, queue, registry):
                    recovered.append(job_id)
            except Exception:
                logger.exception("event=recover_failed job_id=%s queue=%s", job_id, queue.name)
    return recovered


def _abandoned_recover(job_id: str, queue: Queue, registry: StartedJobRegistry) -> bool:
    connection = queue.connection
    try:
        job = Job.fetch(job_id, connection=connection, serializer=queue.serializer)
    except NoSuchJobError:
        registry.remove(job_id)  # a registry entry without its job: nothing to run
        return False
    if not job.worker_name or worker_alive(connection, job.worker_name):
        return False
    return _claimed(connection, job_id, lambda: _recover(job, queue, registry))


def _claimed(connection: Redis, job_id: str, action: Callable[[], bool]) -> bool:
    """Run ``action`` only if this sweeper claims ``job_id`` first (several workers sweep at once).

    The claim outlives the action, so that a second sweeper does not handle the job again right after;
    a failed or declined action frees it for the next sweep.
    """
    claim = f"{REAP_CLAIM_PREFIX}{job_id}"
    if not connection.set(claim, 1, nx=True, ex=60):
        return False
    try:
        done = action()
    except Exception:
        connection.delete(claim)
        raise
    if not done:
        connection.delete(claim)
    return done


def _recover(job: Job, queue: Queue, registry: StartedJobRegistry, attempt: int | None = None) -> bool:
    """Re-queue (retries left) or fail a started job whose worker died; False if it was moved meanwhile.

    The job must still be ``started`` by the same dead worker when the move commits (WATCH): rq's own
    registry cleanup, another sweeper or a live worker may have moved or restarted it since it was read,
    and moving it twice would run it twice. The record is written after the move, for the attempt that
    was current before it, so it never describes a move that did not happen nor overwrites a newer attempt.
    """
    dead_worker = job.worker_name
    will_retry = bool(job.retries_left and job.retries_left > 0)
    error = f"Worker {dead_worker} died while running this job (abandoned)."
    before = JobRecord.objects.filter(pk=job.id).values_list("status", "attempts").first()
    with queue.connection.pipeline() as pipe:
        pipe.watch(job.key)
        status, worker = pipe.hmget(job.key, ["status", "worker_name"])
        if status != JobStatus.STARTED.value.encode() or (worker or b"").decode() != (dead_worker or ""):
            return False
        pipe.multi()
        registry.remove(job, pipeline=pipe)
        if will_retry:
            # No backoff: the handler did not fail, its process vanished; run it again now.
            job.retries_left -= 1
            # What rq's own Job.retry() calls: enqueue inside our transaction, skipping dependency checks
            # (enqueue_job() would open a second transaction on the pipeline).
            queue._enqueue_job(job, pipeline=pipe)
        else:
            job.set_status(JobStatus.FAILED, pipeline=pipe)
            job._exc_info = error
            job.save(pipeline=pipe, include_meta=False)
            FailedJobRegistry(queue.name, queue.connection, serializer=queue.serializer).add(
                job, job.failure_ttl, exc_string=error, pipeline=pipe
            )
        try:
            pipe.execute()
        except WatchError:
            # Moved between our check and our move (or the connection dropped): the next sweep looks again.
            logger.warning("event=recover_raced job_id=%s queue=%s", job.id, queue.name)
            return False
    logger.warning(
        "event=recovered job_id=%s queue=%s dead_worker=%s requeued=%s", job.id, queue.name, dead_worker, will_retry
    )
    if before is not None and before[0] in UNMARKED_ATTEMPT and attempt in (None, before[1]):
        record_attempt_failed(
            record_id=job.id, error=error, will_retry=will_retry, attempt=before[1], statuses=(before[0],)
        )
    return True


# --- The outcome of an attempt, from Redis to the record ---------------------------------------------


def attempt_settle(job: Job, record: JobRecord, statuses: Collection[str] = RUNNING_ONLY) -> bool:
    """Write the outcome rq recorded for ``record``'s current attempt; False when there is none yet.

    Only the attempt ``record`` describes is settled (``record.attempts``), only while the record is in
    one of ``statuses``, and only once: the worker that ran it and the reconciler may both try, and the
    first one wins.
    """
    where = {"attempt": record.attempts, "statuses": statuses}
    failure = job.meta.get(FAILURE_META)
    if failure is not None:
        return record_attempt_failed(record_id=record.id, **where, **failure) is not None
    state = job.get_status(refresh=False)
    if state == JobStatus.FINISHED:
        duration = (job.ended_at - job.started_at).total_seconds() if job.ended_at and job.started_at else 0.0
        return record_succeeded(record=record, result=job.return_value(refresh=True), duration=duration, **where)
    if state in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        exc_string = _rq_failure_text(job)
        return (
            record_attempt_failed(
                record_id=record.id,
                error=error_summary(exc_string) if exc_string else f"The job ended {state} in rq.",
                traceback=exc_string,
                will_retry=False,
                **where,
            )
            is not None
        )
    return False


def _rq_failure_text(job: Job) -> str:
    latest = job.latest_result()
    if latest is not None and latest.type == Result.Type.FAILED and latest.exc_string:
        return latest.exc_string
    return job._exc_info or ""  # what rq keeps when it fails a job without a result entry


def stuck_records_reconcile(*, limit: int = 200) -> int:
    """Settle records whose attempt ended, or vanished, without the outcome being written.

    Looks at records ``running`` for over 30 s and ``retrying`` records whose retry is over 30 s late.
    Returns how many records changed. Each record is handled on its own: one failure is logged and
    left for the next sweep.
    """
    cutoff = timezone.now() - STUCK_AFTER
    running_long = Q(status=RecordStatus.RUNNING, started_at__lt=cutoff)
    retry_late = Q(status=RecordStatus.RETRYING, scheduled_for__lt=cutoff)
    stuck = JobRecord.objects.filter(running_long | retry_late).order_by("started_at")[:limit]
    settled = 0
    for record in stuck:
        try:
            settled += _reconcile(record)
        except Exception:
            logger.exception("event=reconcile_failed job_id=%s", record.id)
    return settled


def _reconcile(record: JobRecord) -> bool:
    queue = queue_get(record.queue)
    connection = queue.connection
    statuses = (record.status,)
    try:
        job = Job.fetch(record.id, connection=connection, serializer=queue.serializer)
    except NoSuchJobError:
        # Redis no longer has the job (it lost its data: results outlive any sweep delay, see
        # TRENOVA_JOBS_RESULT_TTL): push it again, at least once rather than never.
        changed = JobRecord.objects.filter(pk=record.pk, status=record.status, attempts=record.attempts).update(
            status=RecordStatus.PENDING, enqueued_at=None, scheduled_for=None
        )
        _reconciled(record, "rq_job_missing" if changed else None)
        return bool(changed)
    state = job.get_status(refresh=False)
    # A retrying record's attempt is settled already, and the failure it left in the job's meta is that
    # attempt's: only a final rq state (the retry ran while the database was down) is news.
    final = state in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)
    if (record.status == RecordStatus.RUNNING or final) and attempt_settle(job, record, statuses):
        _reconciled(record, f"rq_job_{state}")
        return True
    if record.status == RecordStatus.RUNNING and state == JobStatus.STARTED:
        return _reconcile_started(record, job, queue)
    if state in (JobStatus.QUEUED, JobStatus.SCHEDULED):
        return _reconcile_waiting(record, job, queue)
    return False


def _reconcile_started(record: JobRecord, job: Job, queue: Queue) -> bool:
    connection = queue.connection
    if job.worker_name and worker_alive(connection, job.worker_name):
        return False  # still running
    registry = StartedJobRegistry(queue.name, connection=connection, serializer=queue.serializer)
    if connection.zscore(registry.key, job.id) is not None:
        return False  # abandoned_jobs_recover() handles it
    # Started by a worker that is gone, and in no registry (rq's cleanup dropped it): run it again.
    recovered = _claimed(connection, job.id, lambda: _recover(job, queue, registry, attempt=record.attempts))
    _reconciled(record, "rq_job_orphaned" if recovered else None)
    return recovered


def _reconcile_waiting(record: JobRecord, job: Job, queue: Queue) -> bool:
    """The rq job waits to run (queued or scheduled): is it really somewhere a worker will find it?

    Looked for along the job's own path (scheduled registry → queue → intermediate queue), so a job
    moving forward during the checks is still seen; a move that changes its status aborts the re-queue.
    """
    connection = queue.connection
    if record.status == RecordStatus.RETRYING and job.get_status(refresh=False) == JobStatus.QUEUED:
        return False  # a retry waiting its turn in a queue backlog (not searched: the queue may be long)
    scheduled = ScheduledJobRegistry(queue.name, connection=connection, serializer=queue.serializer)
    if connection.zscore(scheduled.key, job.id) is not None or connection.lpos(queue.key, job.id) is not None:
        if record.status == RecordStatus.RETRYING:
            return False  # as it should be
        # A running record whose job rq re-queued by itself (its cleanup): the record waits for that retry.
        error = "The attempt ended without the worker recording its outcome; rq retries the job."
        written = record_attempt_failed(record_id=record.id, error=error, will_retry=True, attempt=record.attempts)
        _reconciled(record, "rq_job_waiting" if written else None)
        return written is not None
    if connection.lpos(queue.intermediate_queue_key, job.id) is not None:
        # Dequeued into rq's intermediate queue by a worker that died: rq's own cleanup fails it over to
        # a retry (through our worker's handle_job_failure), and a later sweep settles that.
        return False
    # In no queue and no registry: a worker took it off its queue and died before starting it, or Redis
    # lost the queue entry. Put it back.
    return _claimed(connection, job.id, lambda: _requeue_lost(record, job, queue))


def _requeue_lost(record: JobRecord, job: Job, queue: Queue) -> bool:
    state = job.get_status(refresh=False)
    with queue.connection.pipeline() as pipe:
        pipe.watch(job.key)
        if pipe.hget(job.key, "status") != state.encode() or pipe.lpos(queue.key, job.id) is not None:
            return False
        pipe.multi()
        queue._enqueue_job(job, pipeline=pipe)  # as rq's own retry does; our jobs have no dependencies
        try:
            pipe.execute()
        except WatchError:
            return False
    if record.status == RecordStatus.RUNNING:
        error = "The worker that dequeued this job died before starting it; the job was queued again."
        record_attempt_failed(record_id=record.id, error=error, will_retry=True, attempt=record.attempts)
    _reconciled(record, "rq_job_lost")
    return True


def _reconciled(record: JobRecord, reason: str | None) -> None:
    if reason:
        logger.warning("event=reconciled job_id=%s job_type=%s reason=%s", record.id, record.job_type, reason)
