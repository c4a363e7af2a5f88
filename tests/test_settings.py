"""Settings come from the environment, fail with clear messages, and keep queue payloads JSON."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parents[1]
JSON_SERIALIZER = "rq.serializers.JSONSerializer"

PRINT_ENGINE = (
    "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'project.settings'; django.setup(); "
    "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
)


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run with the plain project settings and only the given Django variables set."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_secret_key_with_debug_off_is_a_clear_error() -> None:
    result = run(["manage.py", "check"], DJANGO_DEBUG="0")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["makemigrations", "--check", "--dry-run"], ["migrate", "--plan"]])
def test_missing_secret_key_is_a_clear_error_for_every_command(command: list[str]) -> None:
    result = run(["manage.py", *command], DJANGO_DEBUG="0")
    assert result.returncode == 2
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_defaults_to_off_so_the_secret_key_is_required() -> None:
    result = run(["manage.py", "check"])
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_invalid_debug_value_names_the_variable() -> None:
    result = run(["manage.py", "check"], DJANGO_DEBUG="maybe", DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "DJANGO_DEBUG" in result.stderr
    assert "maybe" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_on_runs_without_a_secret_key() -> None:
    result = run(["manage.py", "check"], DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_without_database_url_the_database_is_sqlite() -> None:
    result = run(["-c", PRINT_ENGINE], DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"


def test_database_url_selects_postgresql() -> None:
    result = run(["-c", PRINT_ENGINE], DJANGO_DEBUG="1", DATABASE_URL="postgres://postgres@127.0.0.1:5432/trenova_jobs")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.postgresql"


@pytest.mark.parametrize("name", sorted(settings.RQ_QUEUES))
def test_every_queue_uses_the_json_serializer(name: str) -> None:
    assert settings.RQ_QUEUES[name]["SERIALIZER"] == JSON_SERIALIZER


def test_queue_connections_resolve_to_the_json_serializer() -> None:
    import django_rq
    from rq.serializers import JSONSerializer

    for name in settings.RQ_QUEUES:
        assert django_rq.get_queue(name).serializer is JSONSerializer, name


def test_scheduler_queues_use_the_same_redis_and_serializer() -> None:
    assert set(settings.SCHEDULER_QUEUES) == set(settings.RQ_QUEUES)
    for name, config in settings.SCHEDULER_QUEUES.items():
        assert config["URL"] == settings.RQ_QUEUES[name]["URL"]
        assert config.get("SERIALIZER") == JSON_SERIALIZER
