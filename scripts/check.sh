#!/usr/bin/env bash
# The whole test suite from a fresh clone: a virtual environment, a non-editable install of
# the project with its test tools, then lint, format, types, import contracts and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${FLOWRUN_VENV:-.venv-check}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# Non-editable: the tests exercise what the wheel contains. setuptools builds in ./build and
# never cleans it, so a module removed from the tree would still ship: start from nothing.
rm -rf build
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps .
"$VENV/bin/python" -m pip install --quiet ".[dev]"

echo "== ruff check"; "$VENV/bin/ruff" check .
echo "== ruff format --check"; "$VENV/bin/ruff" format --check .
echo "== mypy --strict"; "$VENV/bin/mypy"
echo "== import contracts"; PYTHONPATH=.:adapters "$VENV/bin/lint-imports"
# PostgreSQL: the adapter's tests need a server on 127.0.0.1:5432 (or FLOWRUN_TEST_POSTGRES_URL).
# Start the local cluster if it is down; a machine without PostgreSQL still passes (those
# tests skip with the reason). When a server is up, skipping them becomes a failure.
echo "== PostgreSQL server"
PG_HOST="${FLOWRUN_PG_HOST:-127.0.0.1}"
PG_PORT="${FLOWRUN_PG_PORT:-5432}"
if command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      PG_VERSION="$(ls /etc/postgresql | sort -V | tail -n 1)"
      pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start ||
        echo "could not start PostgreSQL $PG_VERSION" >&2
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break
        sleep 1
      done
    fi
  fi
  if pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
    echo "PostgreSQL is up on $PG_HOST:$PG_PORT"
    export FLOWRUN_REQUIRE_POSTGRES=1
  else
    echo "PostgreSQL is not available on $PG_HOST:$PG_PORT: its tests will be skipped"
  fi
else
  echo "pg_isready not found: the PostgreSQL tests will be skipped"
fi

echo "== pytest"
status=0
"$VENV/bin/pytest" "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$status"
