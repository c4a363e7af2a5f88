"""Crash recovery: the jobs of workers that died run again, and no record stays ``running``.

Three sweeps, run by every worker (see ``worker.WeightedWorker._maintain``):

- ``dead_workers_recover`` (every ``TRENOVA_JOBS_RECOVERY_INTERVAL`` s): a worker whose liveness beat is
  older than ``TRENOVA_JOBS_WORKER_LIVENESS_TTL`` is dead; each job id in its in-flight list is settled
  from where the job got to (``inflight_entry_settle``): popped but not started → back on its queue;
  started → re-queued (retries left) or failed; finished → its outcome written to the record. An
  attempt whose work horse still beats is left alone until it stops.
- ``abandoned_jobs_recover``: the same for started jobs in rq's started registries whose worker is dead.
- ``stuck_records_reconcile`` (every maintenance interval): records still ``running`` 30 s after their
  attempt began, or ``retrying`` 30 s past due, whose rq job says otherwise.

Several workers sweep at once: a claim key per job and WATCHed (or scripted) moves make each move happen
once; record writes are conditional on status and attempt, so each outcome is written, and signalled, once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from redis import Redis
from redis.exceptions import WatchError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from trenova_jobs.liveness import (
    WORKERS_KEY,
    dead_worker_names,
    horse_running,
    inflight_key,
    worker_alive,
    worker_forget_if_idle,
)
from trenova_jobs.logs import log_event, log_job
from trenova_jobs.models import JobRecord
from trenova_jobs.models import JobStatus as RecordStatus
from trenova_jobs.outcomes import attempt_settle
from trenova_jobs.queues import queue_get
from trenova_jobs.rq_compat import (
    job_fail_raw,
    job_requeue_if_lost,
    registry_entry_remove,
    requeue_unless_held,
    scheduler_lock_release,
    started_job_move,
)
from trenova_jobs.stats import worker_event_count
from trenova_jobs.transitions import (
    UNMARKED_ATTEMPT,
    record_attempt_failed,
    record_attempt_unstarted,
    record_to_outbox,
)

REAP_CLAIM_PREFIX = "trenova:reap:"
# A running record is checked against its rq job once its attempt is this old (a live worker takes
# milliseconds between marking an attempt started and its horse starting the job).
STUCK_AFTER = timedelta(seconds=30)


def _liveness_ttl() -> int:
    from trenova_jobs.conf import setting_int

    return setting_int("TRENOVA_JOBS_WORKER_LIVENESS_TTL")


def _worker_gone(connection: Redis, worker_name: str | None, job_id: str, ttl: int) -> bool:
    """The worker that started ``job_id`` is dead, and no horse of it still runs the job."""
    if not worker_name or worker_alive(connection, worker_name, ttl):
        return False
    return not horse_running(connection, job_id)


# --- Dead workers' in-flight lists ------------------------------------------------------------------


def dead_workers_recover(*, connection: Redis, queues: Iterable[Queue], ttl: int, me: str = "") -> int:
    """Settle every job id in the in-flight lists of dead workers; forget workers with nothing left.

    Returns how many entries were settled. One entry that cannot be settled is logged and left for the
    next sweep.
    """
    queue_list = list(queues)
    settled = 0
    for name in dead_worker_names(connection, ttl):
        if name == me:
            continue
        key = inflight_key(name)
        for raw in connection.lrange(key, 0, -1):
            job_id = raw.decode()
            try:
                if horse_running(connection, job_id):
                    continue  # its horse outlived the supervisor: wait until it stops
                done = _claimed(
                    connection,
                    job_id,
                    functools.partial(inflight_entry_settle, connection, job_id, dead_worker=name, queues=queue_list),
                )
                settled += bool(done)
            except Exception:
                log_event("recover_failed", logging.ERROR, job_id=job_id, dead_worker=name, exc_info=True)
        _scheduler_locks_release(connection, name, queue_list)
        _worker_forget_if_idle(connection, name)
    return settled


def _scheduler_locks_release(connection: Redis, worker_name: str, queues: Iterable[Queue]) -> None:
    """Free the rq scheduler locks a dead worker held, so that a live worker's scheduler takes over now."""
    for queue in queues:
        # Only if the dead worker still holds it (another worker may have taken it since).
        if scheduler_lock_release(connection, queue.name, worker_name):
            log_event("scheduler_lock_released", logging.INFO, queue=queue.name, dead_worker=worker_name)


def _worker_forget_if_idle(connection: Redis, name: str) -> None:
    if worker_forget_if_idle(connection, name):
        log_event("dead_worker_forgotten", logging.INFO, worker=name)


def inflight_entry_settle(connection: Redis, job_id: str, *, dead_worker: str, queues: Iterable[Queue]) -> bool:
    """Settle one job id left in ``dead_worker``'s in-flight list, from where the job got to.

    Returns True when the entry is gone from the list; False when it must be looked at again.
    """
    inflight = inflight_key(dead_worker)
    queue_by_name = {q.name: q for q in queues}
    status, origin = connection.hmget(Job.key_for(job_id), ["status", "origin"])
    record = JobRecord.objects.filter(pk=job_id).first()
    if status is None:
        # The job hash is gone (Redis lost it): the record goes back to the outbox if it still waits or runs.
        if record is not None and record.status in (*UNMARKED_ATTEMPT, RecordStatus.SCHEDULED):
            record_requeue_lost(record=record, reason="rq_job_missing_in_flight")
        connection.lrem(inflight, 1, job_id)
        return True
    queue = queue_by_name.get(origin.decode() if origin else "")
    if queue is None:
        try:
            queue = queue_get(origin.decode() if origin else "")
        except ValueError:
            job_fail_raw(
                connection,
                job_id=job_id,
                queue_name="default",
                reason="unknown queue",
                failure_ttl=900,
                inflight=inflight,
            )
            return True
    try:
        job = Job.fetch(job_id, connection=connection, serializer=queue.serializer)
    except NoSuchJobError:
        connection.lrem(inflight, 1, job_id)
        return True
    except Exception as exc:
        log_event("bad_job", logging.ERROR, reason="unreadable_in_flight", job_id=job_id, error=type(exc).__name__)
        _unreadable_fail(connection, job_id, queue, exc, event="bad_job", inflight=inflight)
        return True
    state = job.get_status(refresh=False)
    if state == JobStatus.QUEUED:
        # Popped, never started (the horse marks it started before the handler runs): back to the front of
        # its queue, unless it is there already or another worker holds it.
        others = [inflight_key(n) for n in _all_worker_names(connection) if n != dead_worker]
        requeued = requeue_unless_held(
            connection, job_id=job_id, queue_key=queue.key, remove_from=inflight, held_in=others
        )
        if requeued and record is not None and record.status == RecordStatus.RUNNING:
            # Only when this call put it back: otherwise a live worker may hold a newer attempt.
            record_attempt_unstarted(record_id=job_id, attempt=record.attempts)
        _reconciled_log(job_id, "in_flight_requeued" if requeued else "in_flight_released", dead_worker)
        return True
    if state == JobStatus.STARTED:
        if (job.worker_name or "") != dead_worker:
            connection.lrem(inflight, 1, job_id)  # a later attempt, by another worker: not ours
            return True
        registry = StartedJobRegistry(queue.name, connection=connection, serializer=queue.serializer)
        attempt = record.attempts if record is not None else None
        if not _recover(job, queue, registry, attempt=attempt):
            return False
        connection.lrem(inflight, 1, job_id)
        return True
    # Finished, failed, scheduled for a retry, stopped: the attempt ended; write what rq knows of it.
    if record is not None and record.status in UNMARKED_ATTEMPT:
        attempt_settle(job, record, statuses=(record.status,))
    connection.lrem(inflight, 1, job_id)
    return True


def _unreadable_fail(
    connection: Redis, job_id: str, queue: Queue, exc: Exception, *, event: str, inflight: str | None
) -> None:
    """Count and fail a job whose hash rq cannot parse (found in an in-flight list or a registry)."""
    worker_event_count(event, connection)
    job_fail_raw(
        connection,
        job_id=job_id,
        queue_name=queue.name,
        reason=f"Unreadable job hash: {exc}",
        failure_ttl=900,
        inflight=inflight,
    )


def _all_worker_names(connection: Redis) -> list[str]:
    return [name.decode() for name in connection.zrange(WORKERS_KEY, 0, -1)]


def record_requeue_lost(*, record: JobRecord, reason: str) -> bool:
    """A record whose rq job Redis no longer has goes back to the outbox: pushed again, at least once."""
    return record_to_outbox(record=record, reason=reason, attempt_must_match=True)


def _reconciled_log(job_id: str, reason: str, worker: str) -> None:
    log_event("recovered", logging.WARNING, job_id=job_id, reason=reason, dead_worker=worker)


def abandoned_jobs_recover(*, connection: Redis, queues: Iterable[Queue], ttl: int | None = None) -> list[str]:
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
                if _abandoned_recover(job_id, queue, registry, ttl or _liveness_ttl()):
                    recovered.append(job_id)
            except Exception:
                log_event("recover_failed", logging.ERROR, job_id=job_id, queue=queue.name, exc_info=True)
    return recovered


def _abandoned_recover(job_id: str, queue: Queue, registry: StartedJobRegistry, ttl: int) -> bool:
    connection = queue.connection
    try:
        job = Job.fetch(job_id, connection=connection, serializer=queue.serializer)
    except NoSuchJobError:
        registry_entry_remove(registry, job_id)  # a registry entry without its job: nothing to run
        return False
    except Exception as exc:
        # Unparsable (a bad date, say): rq's own clean-up would raise on it at every pass. Remove it.
        log_event(
            "bad_entry_removed",
            logging.ERROR,
            registry="started",
            queue=queue.name,
            job_id=job_id[:80],
            error=type(exc).__name__,
        )
        registry_entry_remove(registry, job_id)
        _unreadable_fail(connection, job_id, queue, exc, event="bad_entry_removed", inflight=None)
        return False
    if not _worker_gone(connection, job.worker_name, job_id, ttl):
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
    try:
        # Re-queued with no backoff: the handler did not fail, its process vanished; run it again now.
        moved = started_job_move(queue, job, registry, worker_name=dead_worker, requeue=will_retry, error=error)
    except WatchError:
        # Moved between our check and our move (or the connection dropped): the next sweep looks again.
        log_event("recover_raced", logging.WARNING, job_id=job.id, queue=queue.name)
        return False
    if not moved:
        return False
    log_event(
        "recovered", logging.WARNING, job_id=job.id, queue=queue.name, dead_worker=dead_worker, requeued=will_retry
    )
    if before is not None and before[0] in UNMARKED_ATTEMPT and attempt in (None, before[1]):
        record_attempt_failed(
            record_id=job.id, error=error, will_retry=will_retry, attempt=before[1], statuses=(before[0],)
        )
    return True


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
            log_event("reconcile_failed", logging.ERROR, job_id=record.id, exc_info=True)
    return settled


def _reconcile(record: JobRecord) -> bool:
    queue = queue_get(record.queue)
    connection = queue.connection
    statuses = (record.status,)
    try:
        job = Job.fetch(record.id, connection=connection, serializer=queue.serializer)
    except NoSuchJobError:
        # Redis no longer has the job (it lost its data: results outlive any sweep delay, see
        # TRENOVA_JOBS_RESULT_TTL): push it again, at least once rather than never — unless a horse still
        # runs it (it settles through its supervisor, from its outcome file).
        if horse_running(connection, record.id):
            return False
        return record_requeue_lost(record=record, reason="rq_job_missing")
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
    if not _worker_gone(connection, job.worker_name, job.id, _liveness_ttl()):
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

    Looked for along the job's own path (scheduled registry → queue → a worker's in-flight list), so a
    job moving forward during the checks is still seen; a move that changes its status aborts the re-queue.
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
    if _held_in_flight(connection, job.id):
        # Taken by a worker: it settles the job, or recovery does once that worker is dead.
        return False
    # In no queue and no registry: a worker took it off its queue and died before starting it, or Redis
    # lost the queue entry. Put it back.
    return _claimed(connection, job.id, lambda: _requeue_lost(record, job, queue))


def _held_in_flight(connection: Redis, job_id: str) -> bool:
    keys = [inflight_key(name) for name in _all_worker_names(connection)]
    with connection.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.lpos(key, job_id)
        return any(position is not None for position in pipe.execute())


def _requeue_lost(record: JobRecord, job: Job, queue: Queue) -> bool:
    inflight_keys = [inflight_key(name) for name in _all_worker_names(queue.connection)]
    if not job_requeue_if_lost(queue, job, held_in=inflight_keys):
        return False
    if record.status == RecordStatus.RUNNING:
        error = "The worker that dequeued this job died before starting it; the job was queued again."
        record_attempt_failed(record_id=record.id, error=error, will_retry=True, attempt=record.attempts)
    _reconciled(record, "rq_job_lost")
    return True


def _reconciled(record: JobRecord, reason: str | None) -> None:
    if reason:
        log_job("reconciled", record, logging.WARNING, reason=reason)
