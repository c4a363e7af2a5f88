#!/usr/bin/env bash
# Run the whole test suite against real PostgreSQL and Redis (installing and starting what is missing).
#   scripts/test.sh                 # lint, type check, migration check, then pytest
#   scripts/test.sh -k dedup -x     # extra arguments go to pytest
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
ensure_postgres
ensure_redis
ensure_chromium
export DJANGO_SETTINGS_MODULE=project.settings_test
say "ruff"
"$VENV/bin/ruff" check --output-format concise . && "$VENV/bin/ruff" format --check -q .
say "mypy"
"$VENV/bin/mypy"
say "OpenAPI schema is valid, without warnings"
"$VENV/bin/python" manage.py spectacular --validate --fail-on-warn --file /dev/null
say "migrations are complete"
"$VENV/bin/python" manage.py makemigrations --check --dry-run trenova_jobs patterns notifications
say "pytest (PostgreSQL: ${DATABASE_URL%%\?*})"
exec "$VENV/bin/pytest" "$@"
