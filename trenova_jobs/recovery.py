"""Crash recovery: jobs left in rq's started registry by a worker that died are re-queued at once.

Every trenova worker refreshes a short-lived liveness key from a background thread. A started job whose
worker has no liveness key is abandoned (SIGKILL, OOM, power loss): it goes back on its queue if it has
retries left, or to the failed registry if not, and its record is updated. rq's own cleanup would do
this too, but only after its ~10-minute maintenance interval and the job's 90 s heartbeat TTL.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry

from trenova_jobs.services import record_attempt_failed

logger = logging.getLogger("trenova_jobs")

LIVENESS_PREFIX = "trenova:worker:alive:"
REAP_CLAIM_PREFIX = "trenova:reap:"


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
    """Re-queue (or fail) started jobs whose worker is gone. Returns the ids handled."""
    recovered: list[str] = []
    for queue in queues:
        registry = StartedJobRegistry(queue.name, connection=connection, serializer=queue.serializer)
        for job_id in registry.get_job_ids():
            try:
                job = Job.fetch(job_id, connection=connection, serializer=queue.serializer)
            except NoSuchJobError:
                continue
            if not job.worker_name or worker_alive(connection, job.worker_name):
                continue
            # Two workers may sweep at once: only the one that claims the job handles it.
            claim = f"{REAP_CLAIM_PREFIX}{job_id}"
            if not connection.set(claim, 1, nx=True, ex=60):
                continue
            try:
                _recover(job, queue, registry)
            except Exception:
                connection.delete(claim)  # let the next sweep try again
                raise
            recovered.append(job_id)
    return recovered


def _recover(job: Job, queue: Queue, registry: StartedJobRegistry) -> None:
    dead_worker = job.worker_name
    will_retry = bool(job.retries_left and job.retries_left > 0)
    error = f"Worker {dead_worker} died while running this job (abandoned)."
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
    record_attempt_failed(record_id=job.id, error=error, will_retry=will_retry, retry_in=0)
