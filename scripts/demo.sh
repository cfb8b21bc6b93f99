#!/usr/bin/env bash
# From a fresh clone: install flowrun-core into a virtual environment and run `flowrun demo`
# on the embedded default, a SQLite file (./flowrun-demo.db, recreated each time).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${FLOWRUN_VENV:-.venv-demo}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
rm -rf build  # setuptools never cleans ./build: a removed module would still ship
"$VENV/bin/python" -m pip install --quiet .
rm -f flowrun-demo.db flowrun-demo.db-wal flowrun-demo.db-shm
exec "$VENV/bin/flowrun" demo --db flowrun-demo.db "$@"
