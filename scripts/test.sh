#!/usr/bin/env bash
# Runs the test suite through real components (speech model, espeak-ng, SQLite, websockets).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
# Two workers (VOICE_APP_TEST_WORKERS), a test file to one worker: most of the time is whole calls played in real
# time, which wait rather than compute; a file's module-wide fixtures (a server, its placed calls) stay in one.
exec .venv/bin/python -m pytest -n "${VOICE_APP_TEST_WORKERS:-2}" --dist loadfile "$@"
