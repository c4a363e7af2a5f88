#!/usr/bin/env bash
# The demo: install, make sure Redis answers, migrate, seed realistic shipments, run a real worker,
# and print what came out. Uses an SQLite file unless DATABASE_URL is set.
#   scripts/demo.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
ensure_redis
export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
export DJANGO_SETTINGS_MODULE=project.settings
PY="$VENV/bin/python"
say "Migrating (${DATABASE_URL:-SQLite file db.sqlite3})"
"$PY" manage.py migrate -v0
say "Default schedules (kept as they are if they exist)"
"$PY" manage.py setup_schedules
say "Seeding demo data"
"$PY" manage.py seed_demo --flush
say "Analysing the demo data through the job service and a real worker"
"$PY" manage.py demo_analyze
say "Next steps"
cat <<NEXT
  Web UI and API:  DJANGO_DEBUG=1 .venv/bin/python manage.py runserver
                   then http://127.0.0.1:8000/admin/ (admin / admin) and http://127.0.0.1:8000/api/v1/docs/
  Dashboard:       http://127.0.0.1:8000/admin/dashboard/   (queues, throughput, failures, top suggestions)
  Review a lane:   http://127.0.0.1:8000/admin/patterns/dedicatedlanesuggestion/   (pending first; open one)
  An API token:    TOKEN=\$(DJANGO_DEBUG=1 .venv/bin/python manage.py issue_token admin)
                   curl -H "Authorization: Token \$TOKEN" http://127.0.0.1:8000/api/v1/lane-suggestions/
  A worker:        DJANGO_DEBUG=1 .venv/bin/python manage.py rqworker    (runs jobs, fires the schedules)
  (DJANGO_DEBUG=1: local settings; production needs DJANGO_SECRET_KEY and DATABASE_URL instead.)
NEXT
