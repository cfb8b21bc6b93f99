#!/usr/bin/env bash
# The fuzz campaign, separate from CI: N hostile inputs (default 100,000) through the wire
# façade on the in-memory adapter, on SQLite files and under injected storage faults, split
# over 2 worker processes. Prints "N inputs, 0 unexpected outcomes" and a breakdown by status;
# exits 1 if any input had an unexpected outcome (each is printed with a replay command).
#
#   bash scripts/fuzz.sh                 # 100,000 inputs, seed 1
#   bash scripts/fuzz.sh 500000 --seed 7 --workers 4
#   bash scripts/fuzz.sh --seed 1 --replay 12345     # replay one case alone
#
# CI runs a smaller deterministic slice instead: pytest tests/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
exec "$PYTHON" tests/fuzz/campaign.py "$@"
