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
# Non-editable: the tests exercise what the wheel contains.
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps .
"$VENV/bin/python" -m pip install --quiet ".[dev]"

echo "== ruff check"; "$VENV/bin/ruff" check .
echo "== ruff format --check"; "$VENV/bin/ruff" format --check .
echo "== mypy --strict"; "$VENV/bin/mypy"
echo "== import contracts"; PYTHONPATH=.:adapters "$VENV/bin/lint-imports"
echo "== pytest"
status=0
"$VENV/bin/pytest" "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$status"
