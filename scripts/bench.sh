#!/usr/bin/env bash
# The benchmark command from a fresh clone: a virtual environment with the project installed
# (non-editable, as users get it), then `python -m benchmarks` with every argument passed on.
#
#   scripts/bench.sh --smoke                      # seconds; what CI runs
#   scripts/bench.sh --vs-prefect                 # the README's table (several minutes)
#   scripts/bench.sh --vs-prefect --prefect-python /path/to/venv/bin/python
#
# --vs-prefect installs prefect==3.9.1 into its own cached venv
# (${XDG_CACHE_HOME:-~/.cache}/flowrun-core/prefect-3.9.1) on first use; never into this one.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${FLOWRUN_BENCH_VENV:-.venv-bench}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
rm -rf build  # setuptools never cleans ./build: a removed module would still ship
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps .
"$VENV/bin/python" -m pip install --quiet .

# Run from the repository root so `benchmarks` (not installed) is importable.
exec "$VENV/bin/python" -m benchmarks "$@"
