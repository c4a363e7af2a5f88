"""Where trenova reaches below rq's public API: each shim here has a test, so an rq upgrade touches one file.

No other module uses an rq underscore attribute or writes rq's keys by hand (a registry ZADD or ZREM, a
WATCH/MULTI transaction over rq's job hash, queue and registries): they call a function here.

- ``code_from_redis_refuse()``: rq imports whatever dotted name a job hash holds (``func_name`` and the
  three callback names) — when a worker runs it, and when registry clean-up, which dashboards and
  ``count`` trigger, fires failure callbacks of expired jobs. Patched once per process so that rq can
  import only ``RUN_FUNCTION``: nothing read from Redis chooses code to run, in any process.
- ``dequeue_into()``: pop the first job id of several queues *and* record it in the worker's in-flight
  list in one atomic step (rq pops with BLPOP, and a job popped by a worker that dies next is in no
  queue or registry; rq's own LMOVE into its intermediate queue works for one queue only).
- ``job_fail_raw()``: fail a job without parsing it with rq (its hash may be malformed).
- ``job_enqueue_in()`` / ``job_schedule_in()``: rq's enqueue and schedule inside a caller's MULTI.
- ``job_push_unless_live()``, ``started_job_move()``, ``job_requeue_if_lost()``, ``job_requeue_front()``:
  the transactions that move a job between rq's queue and registries only if nobody moved it first.
- ``CompatWorker``: rq's ``Worker`` with the private state trenova's worker reads and writes behind
  named members, and ``ParentBoundScheduler``: rq's scheduler child, bound to its worker (lock owner,
  death with its parent).
"""

from __future__ import annotations

import calendar
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import rq.job
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError, WatchError
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.registry import BaseRegistry, FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.results import Result
from rq.scheduler import RQScheduler
from rq.utils import import_attribute as _rq_import_attribute
from rq.utils import utcformat, utcnow
from rq.worker_registration import register as worker_registry_add

from trenova_jobs.liveness import die_with_parent

RUN_FUNCTION = "trenova_jobs.execution.run"
ALLOWED_CALLABLES = frozenset({RUN_FUNCTION})


class RefusedCodeError(RuntimeError):
    """A job hash named code that trenova never enqueues."""


def _import_allowed(name: str) -> Any:
    if name not in ALLOWED_CALLABLES:
        raise RefusedCodeError(f"Refusing to import {name!r} named by a job in Redis; only {RUN_FUNCTION} runs.")
    return _rq_import_attribute(name)


def _func(self: Job) -> Any:
    name = self.func_name
    if name is None:
        return None
    if self.instance is not None:
        raise RefusedCodeError("Refusing a job that names a method of an instance stored in Redis.")
    return _import_allowed(name)


def code_from_redis_refuse() -> None:
    """Install the import guard in rq (idempotent). Called from the app's ``ready()``."""
    rq.job.import_attribute = _import_allowed
    # rq's Job.func is a property; replacing it on the class is what mypy cannot follow.
    Job.func = property(_func)  # type: ignore[method-assign,assignment]


# KEYS[1] the worker's in-flight list, KEYS[2..] the queues in the order to try them.
_DEQUEUE_SCRIPT = """
for i = 2, #KEYS do
  local id = redis.call('LMOVE', KEYS[i], KEYS[1], 'LEFT', 'RIGHT')
  if id then return {KEYS[i], id} end
end
return false
"""


# Wake-up tokens. An idle worker of several queues cannot block on them (no multi-key BLMOVE), so it
# blocks on their wake lists instead (BLPOP takes many keys), for at most the idle poll, then dequeues.
# Every push through ``job_enqueue_in`` (a new job, a retry, a requeue) also pushes a token onto that
# queue's wake list, in the same transaction; the list is cut to a few tokens, so tokens nobody waited for
# cost an extra dequeue at most. A push that writes no token (rq's scheduler moving a due job, recovery's
# requeue script) is found by the poll, as before.
WAKE_PREFIX = "trenova:wake:"
WAKE_TOKENS_KEPT = 8


def wake_key(queue_name: str) -> str:
    return f"{WAKE_PREFIX}{queue_name}"


def worker_wake_in(pipeline: Pipeline, queue_name: str) -> None:
    """Inside the caller's push transaction: tell one idle worker of ``queue_name`` to dequeue now."""
    key = wake_key(queue_name)
    pipeline.lpush(key, 1)
    pipeline.ltrim(key, 0, WAKE_TOKENS_KEPT - 1)


def wake_wait(connection: Redis, queue_names: list[str], timeout: float) -> bool:
    """Block until a token arrives on one of the queues' wake lists, at most ``timeout`` seconds; True
    when one did. What the token holds is never read."""
    return connection.blpop([wake_key(name) for name in queue_names], timeout=timeout) is not None


def dequeue_into(
    connection: Redis, inflight: str, queue_keys: list[str], timeout: float | None
) -> tuple[str, str] | None:
    """Move the first job id of the first non-empty queue into ``inflight``; (queue key, job id) or None.

    With one queue and a ``timeout`` this blocks in Redis (BLMOVE); with several, one atomic script tries
    them in order and the caller polls.
    """
    if len(queue_keys) == 1 and timeout:
        job_id = connection.blmove(queue_keys[0], inflight, timeout, "LEFT", "RIGHT")
        return (queue_keys[0], job_id.decode()) if job_id is not None else None
    result = connection.eval(_DEQUEUE_SCRIPT, 1 + len(queue_keys), inflight, *queue_keys)
    if not result:
        return None
    return result[0].decode(), result[1].decode()


# KEYS[1] job hash, KEYS[2] the queue, KEYS[3] the list to take the id out of, KEYS[4..] lists that hold
# it if it is taken. ARGV[1] job id. Pushes the id to the front of its queue only if the job is still
# ``queued`` and neither in the queue nor held: a check-and-move no other client can interleave with.
_REQUEUE_SCRIPT = """
redis.call('LREM', KEYS[3], 1, ARGV[1])
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
if redis.call('LPOS', KEYS[2], ARGV[1]) then return 0 end
for i = 4, #KEYS do
  if redis.call('LPOS', KEYS[i], ARGV[1]) then return 0 end
end
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1
"""


def requeue_unless_held(
    connection: Redis, *, job_id: str, queue_key: str, remove_from: str, held_in: list[str]
) -> bool:
    """Take ``job_id`` out of ``remove_from`` and put it back at the front of its queue, atomically,
    unless it is already queued there or held in one of ``held_in``. True when it was pushed."""
    keys = [Job.key_for(job_id), queue_key, remove_from, *held_in]
    return bool(connection.eval(_REQUEUE_SCRIPT, len(keys), *keys, job_id))


def job_from_hash(
    job_class: type[Job], job_id: str, fields: dict[bytes, bytes], connection: Redis, serializer: Any
) -> Job:
    """``Job.fetch`` from a hash already read (the worker reads it once, to check it, then parses it)."""
    job = job_class(job_id, connection=connection, serializer=serializer)
    job.restore(fields)
    return job


def queue_name_from_key(queue_key: str) -> str:
    return queue_key[len(Queue.redis_queue_namespace_prefix) :]


def job_fail_raw(
    connection: Redis, *, job_id: str, queue_name: str, reason: str, failure_ttl: int, inflight: str | None
) -> None:
    """Mark a job failed and list it in its queue's failed registry without loading it through rq."""
    now = datetime.now(UTC)
    key = Job.key_for(job_id)
    with connection.pipeline() as pipe:
        if connection.exists(key):
            pipe.hset(key, mapping={"status": "failed", "exc_info": reason, "ended_at": now.strftime(_RQ_TIME)})
            pipe.expire(key, failure_ttl)
            pipe.zadd(f"rq:failed:{queue_name}", {job_id: now.timestamp() + failure_ttl})
        if inflight:
            pipe.lrem(inflight, 1, job_id)
        pipe.execute()


_RQ_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # rq.utils.utcformat


def job_enqueue_in(queue: Queue, job: Job, pipeline: Pipeline, *, at_front: bool = False) -> Job:
    """What rq's own ``Job.retry()`` calls: push inside the caller's transaction, with no dependency checks,
    and wake an idle worker of the queue in the same transaction.

    ``enqueue_job()`` would open a second MULTI on the pipeline; our jobs have no dependencies.
    """
    queue._enqueue_job(job, pipeline=pipeline, at_front=at_front)
    worker_wake_in(pipeline, queue.name)
    return job


def job_schedule_in(queue: Queue, job: Job, due: datetime, pipeline: Pipeline) -> Job:
    """What ``Queue.schedule_job()`` does, inside the caller's transaction: rq 1.16's
    ``ScheduledJobRegistry.schedule()`` ignores the pipeline it is given and writes at once."""
    pipeline.sadd(queue.redis_queues_keys, queue.key)
    job.save(pipeline=pipeline)
    registry = ScheduledJobRegistry(queue.name, connection=queue.connection, serializer=queue.serializer)
    pipeline.zadd(registry.key, {job.id: calendar.timegm(due.utctimetuple())})
    return job


def job_delete_in(pipeline: Pipeline, job: Job, queue: Queue) -> None:
    """Delete a job, its results and its scheduled-registry entry inside the caller's transaction."""
    # job.delete() cleans the registry its status names; a scheduled retry may say otherwise.
    ScheduledJobRegistry(queue.name, connection=queue.connection, serializer=queue.serializer).remove(
        job, pipeline=pipeline
    )
    job.delete(pipeline=pipeline)
    pipeline.delete(Result.get_key(job.id))  # so the next run's latest_result() is its own


# rq states in which a job will still run: pushing it again would run it twice.
RQ_LIVE_STATES = frozenset({"queued", "scheduled", "started", "deferred"})


def _rq_live(state: bytes | None) -> bool:
    return state is not None and state.decode() in RQ_LIVE_STATES


def job_push_unless_live(
    queue: Queue, job_id: str, *, old_job: Callable[[], Job | None], push: Callable[[Pipeline], object]
) -> bool:
    """Run ``push`` (which writes the job into the pipeline it is given) unless rq holds ``job_id`` live
    already; False when it does (or a racer pushed it).

    Check and push are one Redis transaction (WATCH on the job key), so of two racing pushers exactly one
    pushes. A finished or failed rq job of the same id (``old_job()``, an earlier run) is deleted in the
    same transaction. Raises ``RedisError`` when the transaction was interrupted and the job is not live.
    """
    key = Job.key_for(job_id)
    with queue.connection.pipeline() as pipe:
        try:
            pipe.watch(key)
            state = pipe.hget(key, "status")
            if _rq_live(state):
                return False
            old = old_job() if state is not None else None
            pipe.multi()
            if old is not None:
                job_delete_in(pipe, old, queue)
            push(pipe)
            pipe.execute()
        except WatchError:
            # A racer pushed it, or (redis-py says WatchError for this too) the connection dropped while
            # watching: only a job that is live now counts as pushed.
            if _rq_live(queue.connection.hget(key, "status")):
                return False
            raise RedisError(f"Push of {job_id} was interrupted; it stays pending.") from None
    return True


def started_job_move(
    queue: Queue, job: Job, registry: StartedJobRegistry, *, worker_name: str | None, requeue: bool, error: str
) -> bool:
    """Take a started job out of ``registry`` and queue it again (one retry used up) or fail it with
    ``error``; False, moving nothing, unless it is still ``started`` by ``worker_name``.

    Check and move are one transaction (WATCH on the job's hash): raises ``WatchError`` when the job
    changed between the two (or the connection dropped), and nothing was moved.
    """
    with queue.connection.pipeline() as pipe:
        pipe.watch(job.key)
        status, worker = pipe.hmget(job.key, ["status", "worker_name"])
        if status != JobStatus.STARTED.value.encode() or (worker or b"").decode() != (worker_name or ""):
            return False
        pipe.multi()
        registry.remove(job, pipeline=pipe)
        if requeue:
            job.retries_left = (job.retries_left or 0) - 1
            # What rq's own Job.retry() calls: enqueue inside our transaction, skipping dependency checks
            # (enqueue_job() would open a second transaction on the pipeline).
            job_enqueue_in(queue, job, pipe)
        else:
            job.set_status(JobStatus.FAILED, pipeline=pipe)
            job_exc_info_set(job, error)
            job.save(pipeline=pipe, include_meta=False)
            FailedJobRegistry(queue.name, queue.connection, serializer=queue.serializer).add(
                job, job.failure_ttl, exc_string=error, pipeline=pipe
            )
        pipe.execute()
    return True


def job_requeue_if_lost(queue: Queue, job: Job, *, held_in: list[str]) -> bool:
    """Push ``job`` back onto its queue if it is lost: its status still the one this copy holds, and its id
    neither in the queue nor in any list of ``held_in``. All of them are WATCHed until the push commits;
    False when the job is not lost, or moved meanwhile."""
    state = job.get_status(refresh=False)
    with queue.connection.pipeline() as pipe:
        pipe.watch(job.key, queue.key, *held_in)
        if pipe.hget(job.key, "status") != state.encode() or pipe.lpos(queue.key, job.id) is not None:
            return False
        if any(pipe.lpos(key, job.id) is not None for key in held_in):
            return False
        pipe.multi()
        job_enqueue_in(queue, job, pipe)
        try:
            pipe.execute()
        except WatchError:
            return False
    return True


def job_requeue_front(connection: Redis, queue: Queue, job: Job, *, inflight: str) -> None:
    """Put ``job`` back at the front of its queue, out of every registry and out of ``inflight``, in one
    transaction, whatever rq managed to write meanwhile.

    Saved from this process's copy, as dequeued: retries_left as it was, the hash back if Redis lost it.
    """
    with connection.pipeline() as pipe:
        pipe.multi()
        queue.scheduled_job_registry.remove(job, pipeline=pipe)
        queue.failed_job_registry.remove(job, pipeline=pipe)
        queue.started_job_registry.remove(job, pipeline=pipe)
        job_enqueue_in(queue, job, pipe, at_front=True)
        pipe.lrem(inflight, 1, job.id)
        pipe.execute()


def registry_entry_remove(registry: BaseRegistry, job_id: str) -> None:
    """Take ``job_id`` out of ``registry`` without loading its job (it may be gone, or unparsable)."""
    registry.connection.zrem(registry.key, job_id)


def job_result(job: Job) -> Any:
    """The return value rq holds in memory for a job the horse just ran."""
    return job._result


def job_result_set(job: Job, value: Any) -> None:
    job._result = value


def job_failure_text(job: Job) -> str:
    """What rq keeps as the error of a job it failed without writing a result entry."""
    return job._exc_info or ""


def job_exc_info_set(job: Job, text: str) -> None:
    # rq initialises the attribute to None with no annotation, so its inferred type is None.
    job._exc_info = text  # type: ignore[assignment]


def worker_stopped_job_id(worker: Any) -> str | None:
    """The job rq's ``stop-job`` command asked this worker to stop, if any."""
    return getattr(worker, "_stopped_job_id", None)


class ParentBoundScheduler(RQScheduler):
    """rq's scheduler child, which dies with the worker that started it (it would run on otherwise).

    Its per-queue locks hold the worker's name (rq writes a pid, which says nothing on another host),
    so that recovery can release the locks of a dead worker at once instead of after their 61 s TTL:
    otherwise delayed jobs and retries on those queues would wait that long.
    """

    def __init__(self, *args: Any, owner: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        acquired = {
            name
            for name in self._queue_names
            if self.connection.set(self.get_locking_key(name), self._owner, nx=True, ex=self.interval + 60)
        }
        self._scheduled_job_registries = []
        self._acquired_locks = self._acquired_locks.union(acquired)
        # rq initialises it to None with no annotation, so its inferred type is None.
        self.lock_acquisition_time = datetime.now()  # type: ignore[assignment]
        if self._acquired_locks and auto_start and (not self._process or not self._process.is_alive()):
            self.start()
        return acquired

    def ensure_running(self) -> None:
        """Start the scheduler process if it is not running and this worker can take a queue's lock."""
        if self._process and self._process.is_alive():
            return
        # The dead child's locks may have lapsed and been taken by another worker meanwhile: remember only
        # those still held in this worker's name, so that no child is started on another worker's lock.
        owner = (self._owner, self._owner.encode())
        self._acquired_locks = {
            name for name in self._acquired_locks if self.connection.get(self.get_locking_key(name)) in owner
        }
        self.acquire_locks(auto_start=True)

    def start(self) -> Any:
        self._parent_pid = os.getpid()
        return super().start()

    def work(self) -> None:
        die_with_parent(self._parent_pid)
        super().work()


# Delete a lock only if the dead worker still holds it (another worker may have taken it since).
_RELEASE_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def scheduler_lock_release(connection: Redis, queue_name: str, owner: str) -> bool:
    """Free the rq scheduler lock of ``queue_name`` if ``owner`` (a ``ParentBoundScheduler``'s worker)
    still holds it; True when it was released."""
    return bool(connection.eval(_RELEASE_IF_OWNER, 1, RQScheduler.get_locking_key(queue_name), owner))


class CompatWorker(Worker):
    """rq's ``Worker`` with the private state trenova's worker uses behind named members, and
    ``ParentBoundScheduler`` as its scheduler."""

    scheduler: ParentBoundScheduler | None

    @property
    def stop_requested(self) -> bool:
        """A warm stop was asked for while a job ran: the work loop ends once it is settled."""
        return self._stop_requested

    @property
    def ordered_queues(self) -> list[Queue]:
        """The queues in the order the next dequeue tries them."""
        return self._ordered_queues

    @ordered_queues.setter
    def ordered_queues(self, queues: list[Queue]) -> None:
        self._ordered_queues = queues

    def signal_handlers_install(self) -> None:
        """rq's SIGINT/SIGTERM handlers: a first signal asks for a warm stop, a second one a cold stop."""
        self._install_signal_handlers()

    def horse_mark(self) -> None:
        """This process is the work horse from now on (``is_horse``)."""
        self._is_horse = True

    def registration_restore(self) -> None:
        """Register this worker again after Redis lost its data (a restart without persistence): back in
        rq's set of workers, its hash saying when it started and which queues it serves."""
        worker_registry_add(self)
        self.connection.hset(
            self.key,
            mapping={"birth": utcformat(utcnow()), "queues": ",".join(self.queue_names()), "state": self._state},
        )

    def state_is(self, state: str) -> bool:
        """Whether rq's in-memory worker state (what it last wrote to the worker hash) is ``state``."""
        return bool(self._state == state)

    def state_forget(self) -> None:
        """The state could not be written: make the next ``set_state`` write whatever it is then."""
        self._state = "unknown"

    def horse_pid_clear(self) -> None:
        """The horse has been waited for: there is none any more."""
        self._horse_pid = 0

    def scheduler_start(self, burst: bool = False, logging_level: str = "INFO") -> None:
        """Take the queues' scheduler locks and run the scheduler child (in burst mode: enqueue what is due
        once, then let the locks go)."""
        self.scheduler = ParentBoundScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level,
            serializer=self.serializer,
            owner=self.name,
        )
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                self.scheduler.enqueue_scheduled_jobs()
                self.scheduler.release_locks()
            else:
                self.scheduler.start()

    def _start_scheduler(self, burst: bool = False, logging_level: str = "INFO", *args: Any, **kwargs: Any) -> None:
        self.scheduler_start(burst, logging_level)
