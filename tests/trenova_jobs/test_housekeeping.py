"""Housekeeping: system:cleanup_temp_files on a real directory tree, system:prune_job_records on real rows."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import timezone

import trenova_jobs.housekeeping as housekeeping
from tests.conftest import REPO_ROOT, wait_for
from trenova_jobs import NonRetryableError, enqueue
from trenova_jobs.conf import temp_dir
from trenova_jobs.housekeeping import job_records_prune, size_text, temp_files_cleanup
from trenova_jobs.jobs import handle_system_cleanup_temp_files, handle_system_prune_job_records
from trenova_jobs.models import JobRecord, JobStatus
from trenova_jobs.payloads import EmptyPayload
from trenova_jobs.registry import JobContext, registry_get

HOUR = 3600


def _ctx(job_type: str) -> JobContext:
    return JobContext(
        job_id="job_DIRECT",
        job_type=job_type,
        attempt=1,
        max_retries=3,
        organization_id=None,
        business_unit_id=None,
        user_id=None,
    )


def _file(path: Path, *, age_hours: float, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = time.time() - age_hours * HOUR
    os.utime(path, (stamp, stamp))
    return path


def _symlink(link: Path, target: Path, *, age_hours: float) -> Path:
    link.symlink_to(target)
    stamp = time.time() - age_hours * HOUR
    os.utime(link, (stamp, stamp), follow_symlinks=False)  # the link itself looks old too
    return link


def test_both_system_jobs_are_registered_on_the_system_queue() -> None:
    for name in ("system:cleanup_temp_files", "system:prune_job_records"):
        spec = registry_get(name)
        assert (spec.queue, spec.max_retries) == ("system", 3), name


# --- Temporary files -----------------------------------------------------------------------------


def test_old_files_go_new_files_stay_and_links_are_never_followed(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    outside = tmp_path / "outside"
    old = _file(root / "old.bin", age_hours=30, size=1000)
    nested_old = _file(root / "a" / "b" / "nested.log", age_hours=25, size=24)
    new = _file(root / "new.bin", age_hours=1)
    target = _file(outside / "precious.txt", age_hours=100)
    target_dir_file = _file(outside / "dir" / "also-precious.txt", age_hours=100)
    link_to_file = _symlink(root / "to-file", target, age_hours=100)
    link_to_dir = _symlink(root / "a" / "to-dir", outside / "dir", age_hours=100)
    dangling = _symlink(root / "dangling", tmp_path / "nowhere", age_hours=100)

    result = temp_files_cleanup(directory=str(root), max_age_hours=24)

    assert not old.exists() and not nested_old.exists()
    assert new.exists()
    # Links are left alone, and what they point to is never touched nor walked.
    assert target.read_bytes() == b"x" * 10 and target_dir_file.exists()
    assert link_to_file.is_symlink() and link_to_dir.is_symlink() and dangling.is_symlink()
    assert (root / "a" / "b").is_dir()  # directories are kept, even emptied ones
    assert result.as_json() == {
        "directory": str(root),
        "max_age_hours": 24,
        "deleted": 2,
        "kept": 1,
        "bytes_freed": 1024,
        "skipped": 3,
        "errors": 0,
        "message": f"Deleted 2 files (1.0 KB) older than 24 h under {root}",
    }
    # Again: nothing left to do.
    assert temp_files_cleanup(directory=str(root), max_age_hours=24).deleted == 0


def test_a_configured_directory_reached_through_a_link_is_resolved_once(tmp_path: Path) -> None:
    real = tmp_path / "real"
    old = _file(real / "old", age_hours=48)
    (tmp_path / "alias").symlink_to(real)
    result = temp_files_cleanup(directory=str(tmp_path / "alias"), max_age_hours=24)
    assert result.directory == str(real) and result.deleted == 1 and not old.exists()


def test_a_missing_directory_is_nothing_to_do(tmp_path: Path) -> None:
    result = temp_files_cleanup(directory=str(tmp_path / "absent"), max_age_hours=24)
    assert (result.exists, result.deleted) == (False, 0)
    assert result.message == f"Nothing to clean: {tmp_path / 'absent'} does not exist"


@pytest.mark.parametrize("configured", ["/", "//", "/tmp/..", "var/tmp", "./tmp", ""])
def test_the_root_and_relative_paths_are_refused(configured: str) -> None:
    with pytest.raises(NonRetryableError, match=r"filesystem root|absolute path"):
        temp_files_cleanup(directory=configured, max_age_hours=24)


def test_a_link_to_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root-alias").symlink_to("/")
    with pytest.raises(NonRetryableError, match="filesystem root"):
        temp_files_cleanup(directory=str(tmp_path / "root-alias"), max_age_hours=24)


def test_a_file_where_the_directory_should_be_is_refused(tmp_path: Path) -> None:
    _file(tmp_path / "not-a-dir", age_hours=48)
    with pytest.raises(NonRetryableError, match="not a directory"):
        temp_files_cleanup(directory=str(tmp_path / "not-a-dir"), max_age_hours=24)


def test_a_file_that_cannot_be_removed_is_counted_and_the_walk_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tmp"
    stuck, gone = _file(root / "stuck", age_hours=48), _file(root / "gone", age_hours=48)
    real_unlink = os.unlink

    def unlink(name: str, *, dir_fd: int | None = None) -> None:
        if name == "stuck":
            raise PermissionError(13, "Permission denied")
        real_unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(housekeeping.os, "unlink", unlink)
    result = temp_files_cleanup(directory=str(root), max_age_hours=24)
    assert (result.deleted, result.errors) == (1, 1)
    assert stuck.exists() and not gone.exists()
    assert result.message.endswith("; 1 could not be removed or read (see the worker log)")


def test_sizes_read_like_sizes() -> None:
    assert [size_text(n) for n in (0, 1, 1023, 1536, 3_565_158, 3 * 1024**3, 5 * 1024**4)] == [
        "0 bytes",
        "1 byte",
        "1,023 bytes",
        "1.5 KB",
        "3.4 MB",
        "3.0 GB",
        "5.0 TB",
    ]


def test_the_temp_dir_defaults_to_var_tmp_under_the_project(settings) -> None:
    del settings.TRENOVA_TEMP_DIR
    assert temp_dir() == str(REPO_ROOT / "var" / "tmp")
    settings.TRENOVA_TEMP_DIR = 42
    with pytest.raises(ImproperlyConfigured, match="TRENOVA_TEMP_DIR"):
        temp_dir()


def test_the_handler_reads_the_settings(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    _file(root / "two-hours", age_hours=2, size=2048)
    _file(root / "fresh", age_hours=0)
    with override_settings(TRENOVA_TEMP_DIR=str(root), TRENOVA_TEMP_MAX_AGE_HOURS=1):
        result = handle_system_cleanup_temp_files(EmptyPayload(), _ctx("system:cleanup_temp_files"))
    assert (result["deleted"], result["kept"], result["bytes_freed"], result["errors"]) == (1, 1, 2048, 0)
    assert result["message"] == f"Deleted 1 file (2.0 KB) older than 1 h under {root}"
    with override_settings(TRENOVA_TEMP_DIR="/"), pytest.raises(NonRetryableError):
        handle_system_cleanup_temp_files(EmptyPayload(), _ctx("system:cleanup_temp_files"))
    with (
        override_settings(TRENOVA_TEMP_DIR=str(root), TRENOVA_TEMP_MAX_AGE_HOURS=0),
        pytest.raises(NonRetryableError, match="TRENOVA_TEMP_MAX_AGE_HOURS"),
    ):
        handle_system_cleanup_temp_files(EmptyPayload(), _ctx("system:cleanup_temp_files"))


# --- Finished job records ------------------------------------------------------------------------


def _record(status: str, *, finished_days_ago: float | None, created_days_ago: float | None = None) -> JobRecord:
    now = timezone.now()
    record = JobRecord.objects.create(job_type="system:noop", queue="default", status=status, payload={})
    created = now - timedelta(days=created_days_ago if created_days_ago is not None else (finished_days_ago or 0) + 1)
    finished = now - timedelta(days=finished_days_ago) if finished_days_ago is not None else None
    JobRecord.objects.filter(pk=record.pk).update(created_at=created, finished_at=finished)
    return record


@pytest.mark.django_db
def test_prune_deletes_old_finished_records_and_never_an_active_one() -> None:
    old_finished = [
        _record(status, finished_days_ago=40) for status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
    ]
    old_finished += [_record(JobStatus.SUCCEEDED, finished_days_ago=31 + i) for i in range(4)]
    recent = [
        _record(JobStatus.SUCCEEDED, finished_days_ago=29),
        _record(JobStatus.FAILED, finished_days_ago=1, created_days_ago=60),  # created long ago, finished lately
    ]
    # Active records stay whatever their timestamps say (a failed job an operator retried keeps its old
    # finished_at until it finishes again).
    active = [
        _record(status, finished_days_ago=90)
        for status in (JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.PENDING, JobStatus.RETRYING, JobStatus.SCHEDULED)
    ]
    active.append(_record(JobStatus.RUNNING, finished_days_ago=None, created_days_ago=90))

    assert job_records_prune(older_than_days=30, batch_size=2) == 7

    remaining = set(JobRecord.objects.values_list("pk", flat=True))
    assert remaining == {r.pk for r in (*recent, *active)}
    assert not remaining & {r.pk for r in old_finished}
    assert job_records_prune(older_than_days=30) == 0  # idempotent


@pytest.mark.django_db
def test_prune_reads_the_retention_setting_and_words_its_result(settings) -> None:
    _record(JobStatus.SUCCEEDED, finished_days_ago=8)
    _record(JobStatus.SUCCEEDED, finished_days_ago=6)
    settings.TRENOVA_JOBS_RECORD_RETENTION_DAYS = 7
    assert handle_system_prune_job_records(EmptyPayload(), _ctx("system:prune_job_records")) == {
        "deleted": 1,
        "older_than_days": 7,
        "message": "Deleted 1 finished job record older than 7 days",
    }
    assert JobRecord.objects.count() == 1
    settings.TRENOVA_JOBS_RECORD_RETENTION_DAYS = 1
    for _ in range(1234):
        JobRecord.objects.create(job_type="system:noop", queue="default", status=JobStatus.SUCCEEDED, payload={})
    JobRecord.objects.update(
        created_at=timezone.now() - timedelta(days=3), finished_at=timezone.now() - timedelta(days=2)
    )
    result = handle_system_prune_job_records(EmptyPayload(), _ctx("system:prune_job_records"))
    assert result["message"] == "Deleted 1,235 finished job records older than 1 day"
    settings.TRENOVA_JOBS_RECORD_RETENTION_DAYS = 0
    with pytest.raises(NonRetryableError, match="TRENOVA_JOBS_RECORD_RETENTION_DAYS"):
        handle_system_prune_job_records(EmptyPayload(), _ctx("system:prune_job_records"))


@pytest.mark.django_db
@pytest.mark.parametrize("kwargs", [{"older_than_days": 0}, {"batch_size": 0}])
def test_prune_refuses_nonsense_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        job_records_prune(**kwargs)


# --- Both on a real worker -----------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_both_system_jobs_on_a_real_worker(redis_conn, start_worker, tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    old, new = _file(root / "old", age_hours=48, size=100), _file(root / "new", age_hours=0)
    outside = _file(tmp_path / "outside" / "old", age_hours=48)
    _symlink(root / "link", outside, age_hours=48)
    stale = _record(JobStatus.SUCCEEDED, finished_days_ago=45)
    running = _record(JobStatus.RUNNING, finished_days_ago=45)
    cleanup = enqueue("system:cleanup_temp_files", {})
    prune = enqueue("system:prune_job_records", {})
    # The worker's settings come from the environment (project/settings.py).
    start_worker("system", env={"TRENOVA_TEMP_DIR": str(root), "TRENOVA_JOBS_RECORD_RETENTION_DAYS": "30"})

    def finished(record_id: str) -> JobRecord | None:
        record = JobRecord.objects.filter(pk=record_id).first()
        return record if record is not None and record.is_finished else None

    done = wait_for(lambda: finished(cleanup.id), timeout=60, message="the temp file cleanup")
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert (done.result["deleted"], done.result["kept"], done.result["skipped"]) == (1, 1, 1)
    assert not old.exists() and new.exists() and outside.exists()
    done = wait_for(lambda: finished(prune.id), timeout=60, message="the job record prune")
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.result["deleted"] == 1
    assert not JobRecord.objects.filter(pk=stale.pk).exists()
    assert JobRecord.objects.filter(pk=running.pk).exists()


@pytest.mark.django_db
def test_pruning_deletes_old_fire_rows_but_keeps_each_schedules_latest(redis_conn):
    from datetime import timedelta

    from django.utils import timezone

    from trenova_jobs.housekeeping import job_records_prune
    from trenova_jobs.models import ScheduleFire
    from trenova_jobs.schedules import schedule_create

    now = timezone.now().replace(microsecond=0)
    yearly = schedule_create(name="yearly", job_type="system:noop", cron="0 0 1 1 *")
    busy = schedule_create(name="busy", job_type="system:noop", interval_seconds=60)
    for days in (400, 365):
        ScheduleFire.objects.create(schedule=yearly, fire_time=now - timedelta(days=days), outcome="enqueued")
    for days in (90, 40, 1):
        ScheduleFire.objects.create(schedule=busy, fire_time=now - timedelta(days=days), outcome="missed")
    job_records_prune(older_than_days=30, now=now)
    kept = sorted((f.schedule.name, (now - f.fire_time).days) for f in ScheduleFire.objects.select_related())
    assert kept == [("busy", 1), ("yearly", 365)]
