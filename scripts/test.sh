#!/usr/bin/env bash
# Runs the test suite through real components (speech model, espeak-ng, SQLite, websockets).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
exec .venv/bin/python -m pytest "$@"
