"""Housekeeping services behind the two system jobs: old temporary files, and old finished job records.

``temp_files_cleanup`` deletes regular files older than ``TRENOVA_TEMP_MAX_AGE_HOURS`` under
``TRENOVA_TEMP_DIR`` and nothing else: it walks the tree through directory file descriptors, opening each
subdirectory with ``O_NOFOLLOW`` relative to its parent, so it never follows a symbolic link (to a file or
a directory, even one swapped in while it runs) and never leaves the directory it was given. Symbolic
links themselves are left alone (counted as skipped): removing one would be harmless to its target, but
the job's promise is "regular files", and a link is somebody's deliberate pointer. Directories on another
filesystem (a mount inside the directory) are not descended either.

``job_records_prune`` deletes finished job records (succeeded, failed, cancelled) past the retention, in
batches; an active record is never touched, whatever its timestamps say.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from trenova_jobs.conf import setting_int, temp_dir
from trenova_jobs.errors import NonRetryableError
from trenova_jobs.models import FINISHED_STATUSES, JobRecord, ScheduleFire

logger = logging.getLogger("trenova_jobs")

PRUNE_BATCH_SIZE = 5000
# Deeper directories than this are not descended (each level holds one open descriptor).
MAX_DEPTH = 128
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


# --- Temporary files -------------------------------------------------------------------------------------


@dataclass
class TempCleanupResult:
    directory: str
    max_age_hours: int
    exists: bool = True
    deleted: int = 0
    kept: int = 0  # regular files younger than the cutoff
    bytes_freed: int = 0
    skipped: int = 0  # symbolic links, sockets, FIFOs, devices, other filesystems, too deep
    errors: int = 0

    @property
    def message(self) -> str:
        if not self.exists:
            return f"Nothing to clean: {self.directory} does not exist"
        files = "file" if self.deleted == 1 else "files"
        text = (
            f"Deleted {self.deleted:,} {files} ({size_text(self.bytes_freed)}) older than {self.max_age_hours} h "
            f"under {self.directory}"
        )
        if self.errors:
            text += f"; {self.errors:,} could not be removed or read (see the worker log)"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "max_age_hours": self.max_age_hours,
            "deleted": self.deleted,
            "kept": self.kept,
            "bytes_freed": self.bytes_freed,
            "skipped": self.skipped,
            "errors": self.errors,
            "message": self.message,
        }


def size_text(size: int) -> str:
    """1536 → '1.5 KB'; 3_565_158 → '3.4 MB'."""
    if size < 1024:
        return f"{size:,} byte" if size == 1 else f"{size:,} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:,.1f} TB"


def temp_root(configured: str) -> str:
    """The configured directory, made absolute with every symbolic link in it resolved, once.

    Refuses (NonRetryableError) a relative path and the filesystem root: the cleanup deletes everything
    old below the directory it is given.
    """
    if not configured or not os.path.isabs(configured):
        raise NonRetryableError(f"TRENOVA_TEMP_DIR must be an absolute path; got {configured!r}.")
    root = os.path.realpath(configured)
    if os.path.dirname(root) == root:
        raise NonRetryableError(f"TRENOVA_TEMP_DIR resolves to the filesystem root ({root}); refusing to clean it.")
    return root


def temp_files_cleanup(
    *, directory: str | None = None, max_age_hours: int | None = None, now: float | None = None
) -> TempCleanupResult:
    """Delete the regular files under ``directory`` (default ``TRENOVA_TEMP_DIR``) not modified for
    ``max_age_hours`` (default ``TRENOVA_TEMP_MAX_AGE_HOURS``).

    A missing directory is nothing to do. Files that vanish meanwhile are not counted; files that cannot be
    removed (permissions) are counted as errors and logged, and the walk goes on. Directories are kept,
    even empty ones.
    """
    hours = setting_int("TRENOVA_TEMP_MAX_AGE_HOURS") if max_age_hours is None else max_age_hours
    if not isinstance(hours, int) or hours < 1:
        raise ValueError(f"max_age_hours must be a positive integer; got {hours!r}.")
    root = temp_root(temp_dir() if directory is None else directory)
    result = TempCleanupResult(directory=root, max_age_hours=hours)
    cutoff = (time.time() if now is None else now) - hours * 3600
    try:
        root_fd = os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        result.exists = False
        return result
    except NotADirectoryError:
        raise NonRetryableError(f"TRENOVA_TEMP_DIR ({root}) is not a directory.") from None
    except OSError as exc:
        # ELOOP: the last component became a symbolic link after it was resolved; refuse rather than follow.
        raise NonRetryableError(f"TRENOVA_TEMP_DIR ({root}) cannot be opened: {exc}") from exc
    _walk(root_fd, root, cutoff, result)
    logger.info(
        "event=temp_files_cleaned directory=%s deleted=%s bytes_freed=%s kept=%s skipped=%s errors=%s",
        root,
        result.deleted,
        result.bytes_freed,
        result.kept,
        result.skipped,
        result.errors,
    )
    return result


def _names(fd: int) -> list[str]:
    # scandir on a descriptor lists that very directory; nothing is looked up by path.
    with os.scandir(fd) as entries:
        return [entry.name for entry in entries]


def _walk(root_fd: int, root: str, cutoff: float, result: TempCleanupResult) -> None:
    root_dev = os.fstat(root_fd).st_dev
    try:
        names = _names(root_fd)
    except OSError:
        os.close(root_fd)
        raise
    # Depth-first; one open descriptor per level being walked.
    stack: list[tuple[int, str, list[str]]] = [(root_fd, root, names)]
    try:
        while stack:
            fd, path, pending = stack[-1]
            if not pending:
                os.close(fd)
                stack.pop()
                continue
            name = pending.pop()
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)  # lstat: a link is a link
            except FileNotFoundError:
                continue
            except OSError as exc:
                _error(result, path, name, exc)
                continue
            if stat.S_ISREG(st.st_mode):
                if st.st_mtime >= cutoff:
                    result.kept += 1
                    continue
                try:
                    # unlink never follows a link; a name swapped for one since the lstat loses only the link.
                    os.unlink(name, dir_fd=fd)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    _error(result, path, name, exc)
                    continue
                result.deleted += 1
                result.bytes_freed += st.st_size
            elif stat.S_ISDIR(st.st_mode):
                if st.st_dev != root_dev or len(stack) >= MAX_DEPTH:
                    result.skipped += 1
                    continue
                child = _open_dir(fd, path, name, st, result)
                if child is None:
                    continue
                try:
                    child_names = _names(child)
                except OSError as exc:
                    os.close(child)
                    _error(result, path, name, exc)
                    continue
                stack.append((child, os.path.join(path, name), child_names))
            else:
                result.skipped += 1  # symbolic links (never followed, never removed), sockets, FIFOs, devices
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def _open_dir(parent_fd: int, path: str, name: str, seen: os.stat_result, result: TempCleanupResult) -> int | None:
    """Open subdirectory ``name`` of ``parent_fd`` without following a link; None if it is not the one seen."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        # ELOOP / ENOTDIR: swapped for a link or a file since the lstat; not ours to follow.
        _error(result, path, name, exc)
        return None
    if not os.path.samestat(seen, os.fstat(fd)):
        os.close(fd)
        result.skipped += 1
        return None
    return fd


def _error(result: TempCleanupResult, path: str, name: str, exc: OSError) -> None:
    result.errors += 1
    logger.warning("event=temp_file_error path=%s error=%s", os.path.join(path, name), exc)


# --- Finished job records --------------------------------------------------------------------------------


def job_records_prune(
    *, older_than_days: int | None = None, batch_size: int = PRUNE_BATCH_SIZE, now: datetime | None = None
) -> int:
    """Delete the finished job records (succeeded, failed, cancelled) whose ``finished_at`` is older than
    ``older_than_days`` (default ``TRENOVA_JOBS_RECORD_RETENTION_DAYS``); returns how many were deleted.

    Batches of ``batch_size`` ids, one transaction each: the batch is locked (``SKIP LOCKED``: a record an
    operator is retrying right now stays for the next run) and deleted with the same condition, so a record
    that became active again is never deleted. Loops until no old finished record is left.
    """
    days = setting_int("TRENOVA_JOBS_RECORD_RETENTION_DAYS") if older_than_days is None else older_than_days
    if not isinstance(days, int) or days < 1:
        raise ValueError(f"older_than_days must be a positive integer; got {days!r}.")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    # A record finishes after it is created, so created_at < cutoff holds too; it lets the (status, created_at)
    # index find the candidates instead of a scan of the whole table.
    old = JobRecord.objects.filter(status__in=FINISHED_STATUSES, finished_at__lt=cutoff, created_at__lt=cutoff)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(old.order_by().select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            _, per_model = old.filter(pk__in=ids).delete()
            total += per_model.get(JobRecord._meta.label, 0)
    fires = schedule_fires_prune(cutoff=cutoff, batch_size=batch_size)
    if total or fires:
        logger.info("event=job_records_pruned count=%s fires=%s older_than_days=%s", total, fires, days)
    return total


def schedule_fires_prune(*, cutoff: datetime, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete schedule fire rows older than ``cutoff`` — except each schedule's latest, which says when it last
    fired (without it, a rarely firing schedule would count its old fire times as due again)."""
    latest = ScheduleFire.objects.filter(schedule_id=OuterRef("schedule_id")).order_by("-fire_time").values("pk")[:1]
    old = ScheduleFire.objects.filter(fire_time__lt=cutoff).exclude(pk=Subquery(latest))
    total = 0
    while True:
        ids = list(old.order_by().values_list("pk", flat=True)[:batch_size])
        if not ids:
            return total
        total += ScheduleFire.objects.filter(pk__in=ids).delete()[0]
