#!/usr/bin/env bash
# A whole phone call through the real code path: the simulator calls the assistant in this process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/voice-app demo "$@"
