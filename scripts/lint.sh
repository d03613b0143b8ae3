#!/usr/bin/env bash
# Lint, format and type checks, with the ruff and mypy of the .venv that setup.sh makes (configured in
# pyproject.toml). Runs every check and fails at the end if any failed, so one run shows all there is to fix.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

paths=(voice_app telephony consent tests benchmarks)
failed=()
.venv/bin/ruff check "${paths[@]}" || failed+=("ruff check")
.venv/bin/ruff format --check "${paths[@]}" || failed+=("ruff format --check (run: .venv/bin/ruff format ${paths[*]})")
.venv/bin/mypy || failed+=(mypy)

if [ ${#failed[@]} -gt 0 ]; then
    printf 'lint: failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "lint: ruff check, ruff format --check and mypy passed"
