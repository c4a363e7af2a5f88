"""The job framework's public surface, and the boundary other apps keep to."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import trenova_jobs
from tests.conftest import REPO_ROOT

# Submodules other apps may import besides the package itself: none (everything they need is exported).
ALLOWED_SUBMODULES: set[str] = set()


def test_the_readme_example_imports_work():
    from trenova_jobs import JobContext, JobPayload, NonRetryableError, enqueue, job_type

    assert callable(enqueue) and callable(job_type)
    assert issubclass(NonRetryableError, Exception)
    assert JobPayload.__name__ == "JobPayload" and JobContext.__name__ == "JobContext"


def test_every_exported_name_resolves():
    for name in trenova_jobs.__all__:
        assert getattr(trenova_jobs, name) is not None, name
    assert trenova_jobs.enqueue.__module__ == "trenova_jobs.enqueuing"  # the function, not a module


def _trenova_imports(app: str) -> list[tuple[str, str]]:
    found = []
    for path in (REPO_ROOT / app).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("trenova_jobs"):
                found.append((str(path.relative_to(REPO_ROOT)), node.module))
            elif isinstance(node, ast.Import):
                found += [
                    (str(path.relative_to(REPO_ROOT)), a.name) for a in node.names if a.name.startswith("trenova_jobs")
                ]
    return found


def test_other_apps_import_only_the_public_surface():
    for app in ("patterns", "notifications"):
        imports = _trenova_imports(app)
        bad = [
            (path, module)
            for path, module in imports
            if module != "trenova_jobs" and module[13:] not in ALLOWED_SUBMODULES
        ]
        assert bad == [], f"{app} reaches inside trenova_jobs: {bad}"
    assert _trenova_imports("patterns"), "the check found no import at all: it would pass vacuously"


def test_trenova_jobs_imports_nothing_from_the_domain_apps():
    for path in (REPO_ROOT / "trenova_jobs").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            modules = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            for module in modules:
                assert not module.startswith(("patterns", "notifications")), (path, module)


def test_private_rq_api_is_used_in_rq_compat_only():
    private = (
        *("._enqueue_job", "._exc_info", "._stopped_job_id", "._result", "._handle_success", "._process"),
        *("._stop_requested", "._ordered_queues", "._install_signal_handlers", "._is_horse", "._horse_pid"),
        *("._start_scheduler", "._state", "._acquired_locks", "._queue_names"),
    )
    # Hand-written transactions and sorted-set writes: over rq's keys in rq_compat only (liveness keeps
    # trenova's own set of workers).
    raw_writes = (".watch(", ".multi(", ".zadd(", ".zrem(", '"rq:', "'rq:")
    for path in (REPO_ROOT / "trenova_jobs").rglob("*.py"):
        if path.name == "rq_compat.py":
            continue
        text = path.read_text()
        assert not [p for p in private if p in text], path
        if path.name != "liveness.py":
            assert not [w for w in raw_writes if w in text], path


def test_job_status_is_changed_in_transitions_only():
    writes = re.compile(
        r"\.update\((?:[^()]|\([^()]*\))*\bstatus\s*=|\.status\s*=(?!=)|\bstatus,\s*\w+\.enqueued_at\s*="
    )
    checked = 0
    for path in Path(REPO_ROOT / "trenova_jobs").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        found = writes.findall(path.read_text())
        if path.name == "transitions.py":
            checked = len(found)
        else:
            assert not found, (path, found)
    assert checked >= 5  # the pattern does find the writes where they are
