# Shared steps for scripts/demo.sh and scripts/test.sh: Python venv, pinned install, local services.
# Sourced, not run. Works as root on a fresh Debian 12 machine, and as any user where things exist.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

apt_install() {
  # Installs Debian packages when running as root; otherwise says what to install.
  if [ "$(id -u)" -ne 0 ]; then
    die "missing $*; install it (sudo apt-get install $*) or run this script as root"
  fi
  say "Installing $* (apt-get)"
  if [ ! -f /var/lib/apt/periodic/.trenova-updated ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null)" ]; then
    apt-get update -qq && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/.trenova-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

find_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

ensure_venv() {
  local py
  py="$(find_python)" || { apt_install python3.11 python3.11-venv; py="$(find_python)"; } \
    || die "Python 3.11 is required"
  if [ ! -x "$VENV/bin/python" ]; then
    say "Creating virtualenv in .venv"
    "$py" -m venv "$VENV" 2>/dev/null || { apt_install python3.11-venv; "$py" -m venv "$VENV"; }
  fi
  # The stamp skips the pip run when nothing it depends on changed.
  local stamp="$VENV/.installed" want
  want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements/constraints.txt" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "Installing pinned dependencies"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$ROOT/requirements/constraints.txt" \
      -e "$ROOT[dev]"
    echo "$want" > "$stamp"
  fi
}

redis_up() { "$VENV/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
}

ensure_redis() {
  local url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
  if redis_up "$url"; then return 0; fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  say "Starting a local redis-server on 127.0.0.1:6379"
  mkdir -p "$ROOT/var"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "$ROOT/var" --logfile "$ROOT/var/redis.log"
  for _ in $(seq 1 50); do redis_up "$url" && return 0; sleep 0.2; done
  die "Redis did not answer at $url (see var/redis.log)"
}

pg_up() { "$VENV/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, psycopg
url = sys.argv[1].rsplit("/", 1)[0] + "/postgres"
psycopg.connect(url, connect_timeout=2).close()
PY
}

ensure_postgres() {
  # Sets DATABASE_URL to a PostgreSQL the tests can use, starting or installing one when needed.
  export DATABASE_URL="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/trenova_jobs}"
  if pg_up "$DATABASE_URL"; then return 0; fi
  command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  say "Starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  for _ in $(seq 1 50); do pg_up "$DATABASE_URL" && return 0; sleep 0.2; done
  # A fresh Debian install asks for a password over TCP: give the postgres role the one in the URL.
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
    pg_up "$DATABASE_URL" && return 0
  fi
  die "PostgreSQL did not accept $DATABASE_URL"
}

ensure_chromium() {
  # The browser test drives Debian's headless Chromium; without it (and not root to install it) it skips.
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" -eq 0 ]; then
    apt_install chromium chromium-driver
  else
    say "No chromium/chromedriver (sudo apt-get install chromium chromium-driver): the browser test will skip"
  fi
}
