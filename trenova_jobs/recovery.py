"""Crash recovery: jobs of workers that died are re-queued at once, and no record stays ``running``.

Every trenova worker refreshes a short-lived liveness key from a background thread. A started job whose
worker has no liveness key is abandoned (SIGKILL, OOM, power loss): it goes back on its queue if it has
retries left, or to the failed registry if not, and its record is updated. rq's own cleanup would do
this too, but only after its ~10-minute maintenance interval and the job's 90 s heartbeat TTL.

A second sweep, ``stuck_records_reconcile``, settles records still ``running`` a minute after their
attempt started whose rq job says otherwise: the worker died before it could write the outcome, or
before the job reached the started registry, or rq's own cleanup moved the job.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone
from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.results import Result

from trenova_jobs.models import JobRecord
from trenova_jobs.models import JobStatus as RecordStatus
from trenova_jobs.queues import queue_get
from trenova_jobs.services import record_attempt_failed, record_succeeded

logger = logging.getLogger("trenova_jobs")

LIVENESS_PREFIX = "trenova:worker:alive:"
REAP_CLAIM_PREFIX = "trenova:reap:"
# Where a work horse leaves the outcome of a failed attempt for the process that records it.
FAILURE_META = "trenova_failure"
# A running record is checked against its rq job once its attempt is this old.
STUCK_AFTER = timedelta(seconds=60)


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
    # Two workers may sweep at once: only the one that claims the job handles it. The claim outlives
    # the sweep so that a second sweeper does not handle the job again; a failed attempt frees it.
    claim = f"{REAP_CLAIM_PREFIX}{job_id}"
    if not connection.set(claim, 1, nx=True, ex=60):
        return False
    try:
        _recover(job, queue, registry)
    except Exception:
        connection.delete(claim)
        raise
    return True


def _recover(job: Job, queue: Queue, registry: StartedJobRegistry, attempt: int | None = None) -> None:
    dead_worker = job.worker_name
    will_retry = bool(job.retries_left and job.retries_left > 0)
    error = f"Worker {dead_worker} died while running this job (abandoned)."
    # The record first: once the job is back on its queue another worker may start the next attempt, and
    # this attempt's outcome must not be written over that one.
    record_attempt_failed(record_id=job.id, error=error, will_retry=will_retry, retry_in=0, attempt=attempt)
    with queue.connection.pipeline() as pipe:
        registry.remove(job, pipeline=pipe)
        if will_retry:
            # No backoff: the handler did not fail, its process vanished; run it again now.
            job.retries_left -= 1
            # What rq's own Job.retry() calls: enqueue inside our pipeline, skipping dependency checks
            # (enqueue_job() would open a second transaction on the pipeline).
            queue._enqueue_job(job, pipeline=pipe)
        else:
            job.set_status(JobStatus.FAILED, pipeline=pipe)
            job._exc_info = error
            job.save(pipeline=pipe, include_meta=False)
            FailedJobRegistry(queue.name, queue.connection, serializer=queue.serializer).add(
                job, job.failure_ttl, exc_string=error, pipeline=pipe
            )
        pipe.execute()
    logger.warning(
        "event=recovered job_id=%s queue=%s dead_worker=%s requeued=%s", job.id, queue.name, dead_worker, will_retry
    )


# --- The outcome of an attempt, from Redis to the record ---------------------------------------------


def attempt_settle(job: Job, record: JobRecord) -> bool:
    """Write the outcome rq recorded for ``record``'s current attempt; False when there is none yet.

    Only the attempt ``record`` describes is settled (``record.attempts``), and only once: the worker
    that ran it and the reconciler may both try, and the first one wins.
    """
    failure = job.meta.get(FAILURE_META)
    if failure is not None:
        return record_attempt_failed(record_id=record.id, attempt=record.attempts, **failure) is not None
    state = job.get_status(refresh=False)
    if state == JobStatus.FINISHED:
        duration = (job.ended_at - job.started_at).total_seconds() if job.ended_at and job.started_at else 0.0
        return record_succeeded(
            record=record, result=job.return_value(refresh=True), duration=duration, attempt=record.attempts
        )
    if state in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        exc_string = _rq_failure_text(job)
        return (
            record_attempt_failed(
                record_id=record.id,
                error=error_summary(exc_string) if exc_string else f"The job ended {state} in rq.",
                traceback=exc_string,
                will_retry=False,
                attempt=record.attempts,
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
    """Settle ``running`` records whose attempt ended, or vanished, without the outcome being written.

    Returns how many records changed. Each record is handled on its own: one failure is logged and
    left for the next sweep.
    """
    stuck = JobRecord.objects.filter(status=RecordStatus.RUNNING, started_at__lt=timezone.now() - STUCK_AFTER).order_by(
        "started_at"
    )[:limit]
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
    try:
        job = Job.fetch(record.id, connection=connection, serializer=queue.serializer)
    except NoSuchJobError:
        # Redis no longer has the job (flushed, or a dead worker's result expired): push it again.
        changed = JobRecord.objects.filter(pk=record.pk, status=RecordStatus.RUNNING, attempts=record.attempts).update(
            status=RecordStatus.PENDING, enqueued_at=None, scheduled_for=None
        )
        _reconciled(record, "rq_job_missing" if changed else None)
        return bool(changed)
    state = job.get_status(refresh=False)
    if attempt_settle(job, record):
        _reconciled(record, f"rq_job_{state}")
        return True
    if state == JobStatus.STARTED:
        if job.worker_name and worker_alive(connection, job.worker_name):
            return False  # still running
        registry = StartedJobRegistry(queue.name, connection=connection, serializer=queue.serializer)
        if connection.zscore(registry.key, job.id) is not None:
            return False  # abandoned_jobs_recover() handles it
        # Started by a worker that is gone, and in no registry (rq's cleanup dropped it): run it again.
        _recover(job, queue, registry, attempt=record.attempts)
        _reconciled(record, "rq_job_orphaned")
        return True
    if state in (JobStatus.QUEUED, JobStatus.SCHEDULED):
        scheduled = ScheduledJobRegistry(queue.name, connection=connection, serializer=queue.serializer)
        waiting = connection.lpos(queue.key, job.id) is not None or connection.zscore(scheduled.key, job.id) is not None
        if waiting:
            # rq retries it (its own cleanup moved it): the record waits for that retry.
            error = "The attempt ended without the worker recording its outcome; rq retries the job."
        else:
            # A worker took it off its queue and died before starting it.
            error = "The worker that dequeued this job died before starting it; the job was queued again."
        if record_attempt_failed(record_id=record.id, error=error, will_retry=True, attempt=record.attempts) is None:
            return False
        if not waiting:
            queue.enqueue_job(job)
        _reconciled(record, "rq_job_waiting" if waiting else "rq_job_dequeued_lost")
        return True
    return False


def _reconciled(record: JobRecord, reason: str | None) -> None:
    if reason:
        logger.warning("event=reconciled job_id=%s job_type=%s reason=%s", record.id, record.job_type, reason)
