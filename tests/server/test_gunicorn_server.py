"""`voice-app serve` for real: a gunicorn master with two workers in its own process, on a free loopback port,
reached over HTTP and websockets by the Twilio simulator. One server for the whole module (each worker loads
the model); the drain test stops it, so it runs last, and the log test reads what it wrote."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlmodel import Session, select

from benchmarks.served_instance import wait_until_ready
from telephony.simulator import Press, Silence, TwilioSimulator
from telephony.twiml import Dial, parse_twiml
from tests.support import TEST_SECRETS
from voice_app.config import PROJECT_ROOT, load_settings
from voice_app.database import make_engine
from voice_app.local_server import LocalServer
from voice_app.models import Call

METRICS_TOKEN = "metrics-token-" + "5" * 20
DRAIN_SECONDS = 12
START_SECONDS = 240  # two workers loading the model and rendering prompts on a busy 2-core machine
# The caller of each placed call; none of these may appear in any log line.
CALLERS = {"stays": "+447700900101", "hangs_on_briefly": "+447700900102", "late": "+447700900103"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_test_config(folder: Path) -> Path:
    """The shipped config with absolute paths, agents always available (so the outcome does not depend on the
    hour), a silence timeout long enough for a caller to stay on the line through the drain, and a short drain."""
    text = (PROJECT_ROOT / "config.toml").read_text(encoding="utf-8")
    for old, new in [
        ('notice_dir = "voice_app/notices"', f'notice_dir = "{PROJECT_ROOT / "voice_app" / "notices"}"'),
        ('model_cache_dir = "var/models"', f'model_cache_dir = "{PROJECT_ROOT / "var" / "models"}"'),
        (
            'days = ["mon", "tue", "wed", "thu", "fri", "sat"]',
            'days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]',
        ),
        ('opens = "08:00"', 'opens = "00:00"'),
        ('closes = "20:00"', 'closes = "23:59"'),
        ("silence_timeout_seconds = 6", "silence_timeout_seconds = 60"),
        ("drain_seconds = 120", f"drain_seconds = {DRAIN_SECONDS}"),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    database_url: str
    stdout: Path
    stderr: Path
    config: Path

    def metric(self, name: str) -> float:
        response = requests.get(self.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5)
        response.raise_for_status()
        match = re.search(rf"^{re.escape(name)} (\S+)$", response.text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    def calls(self) -> list[Call]:
        engine = make_engine(self.database_url)
        try:
            with Session(engine) as session:
                return list(session.exec(select(Call)))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{folder / 'hotline.db'}"
    env = {
        **os.environ,
        **TEST_SECRETS,
        "VOICE_APP_PUBLIC_URL": url,
        "VOICE_APP_DATABASE_URL": database_url,
        "VOICE_APP_METRICS_TOKEN": METRICS_TOKEN,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    config = write_test_config(folder)
    stdout, stderr = folder / "stdout.log", folder / "stderr.log"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voice_app.cli",
                "--config",
                str(config),
                "--log-format",
                "json",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
                "--threads",
                "8",
            ],
            env=env,
            stdout=out,
            stderr=err,
        )
    running = RunningServer(url, process, database_url, stdout, stderr, config)
    try:
        wait_until_ready(process, url, stderr, seconds=START_SECONDS)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_health_and_readiness(server):
    health = requests.get(server.url + "/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = requests.get(server.url + "/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "model": "ok", "draining": "no"}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {METRICS_TOKEN}", METRICS_TOKEN])
def test_metrics_need_the_bearer_token(server, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(server.url + "/metrics", headers=headers, timeout=5)
    assert response.status_code == 401
    assert "voice_app" not in response.text


def test_metrics_are_prometheus_text(server):
    response = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    for name in (
        "voice_app_calls_in_progress",
        'voice_app_answer_latency_seconds_bucket{le="0.1"}',
        "voice_app_transcription_seconds_count",
        'voice_app_turn_stage_seconds_count{stage="end_of_turn"}',
    ):
        assert name in response.text


def test_the_access_log_has_no_query_strings(server):
    requests.get(server.url + "/healthz?phone=%2B447700900999", timeout=5)
    time.sleep(0.5)
    logged = server.stdout.read_text() + server.stderr.read_text()
    assert "/healthz" in logged
    assert "447700900999" not in logged


def _place(server, results, key, script, **options):
    simulator = TwilioSimulator(
        server.url,
        TEST_SECRETS["TWILIO_AUTH_TOKEN"],
        from_number=CALLERS[key],
        to_number="+4420555010",
        max_call_seconds=200,
        **options,
    )
    results[key] = simulator.place_call(script)


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_sigterm_drains_then_hands_the_remaining_caller_to_a_person(server):
    results = {}
    # One caller stays on the line, silent, past the drain; the other asks for a person during it.
    callers = [
        threading.Thread(target=_place, args=(server, results, "stays", [Press("1")])),
        threading.Thread(
            target=_place, args=(server, results, "hangs_on_briefly", [Press("1"), Silence(4), Press("0")])
        ),
    ]
    for caller in callers:
        caller.start()
    _wait_for(lambda: sum(call.consent_decision == "granted" for call in server.calls()) == 2, 120, "both consents")
    # Both calls in progress, counted across the workers whichever serves them and whichever answers the scrape.
    assert [server.metric("voice_app_calls_in_progress") for _ in range(4)] == [2.0] * 4
    assert server.metric('voice_app_consent_decisions_total{decision="granted"}') == 2.0

    server.process.send_signal(signal.SIGTERM)
    sigterm_at = time.monotonic()
    # The master takes the signal in its own loop, which a request racing it can beat on a busy machine; a
    # balancer polling readiness sees the drain within a second.
    _wait_for(lambda: requests.get(server.url + "/readyz", timeout=5).status_code == 503, 1, "readiness 503")
    readiness = requests.get(server.url + "/readyz", timeout=5)
    assert readiness.status_code == 503
    assert readiness.json()["checks"]["draining"] == "yes"
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200

    # A call arriving now goes straight to a person, without a media stream.
    _place(server, results, "late", [])
    late = results["late"]
    assert late.outcome == "transferred" and late.stream_sid is None
    assert late.dial_target == load_settings(server.config, TEST_SECRETS).telephony.agent_target.address

    callers[1].join(timeout=60)
    briefly = results["hangs_on_briefly"]
    assert briefly.outcome == "transferred", briefly
    assert time.monotonic() - sigterm_at < DRAIN_SECONDS, "the call meant to end inside the drain ended after it"
    assert server.metric('voice_app_transfers_total{reason="caller_asked"}') == 1.0
    assert server.metric('voice_app_transfers_total{reason="server_shutdown"}') == 1.0
    assert server.metric("voice_app_calls_in_progress") == 1.0

    callers[0].join(timeout=DRAIN_SECONDS + 30)
    stays = results["stays"]
    assert stays.outcome == "transferred", stays
    dial = parse_twiml(stays.twiml[-1])[0]
    assert isinstance(dial, Dial) and dial.target == late.dial_target
    assert time.monotonic() - sigterm_at >= DRAIN_SECONDS - 1, "handed over before the drain time was up"

    assert server.process.wait(timeout=DRAIN_SECONDS + 30) == 0
    assert time.monotonic() - sigterm_at < DRAIN_SECONDS + 25
    reasons = {call.call_sid: call.handoff_reason for call in server.calls()}
    assert [reasons[results[key].call_sid] for key in ("stays", "hangs_on_briefly", "late")] == [
        "server_shutdown",
        "caller_asked",
        "server_shutdown",
    ]
    test_sigterm_drains_then_hands_the_remaining_caller_to_a_person.call_sids = {
        key: result.call_sid for key, result in results.items()
    }


def test_json_logs_parse_name_the_calls_and_hold_no_phone_number(server):
    call_sids = getattr(test_sigterm_drains_then_hands_the_remaining_caller_to_a_person, "call_sids", None)
    if call_sids is None:
        pytest.skip("needs the calls of the drain test")
    assert server.process.poll() is not None
    lines = (server.stdout.read_text() + server.stderr.read_text()).splitlines()
    entries = [json.loads(line) for line in lines]  # fails on any line that is not one JSON object
    assert all(set(entry) >= {"time", "level", "logger", "message", "call_id"} for entry in entries)
    named = {entry["call_id"] for entry in entries}
    assert set(call_sids.values()) <= named
    assert any(entry["logger"] == "gunicorn.access" for entry in entries)
    everything = "\n".join(lines)
    for number in CALLERS.values():
        for form in (number, number.lstrip("+"), number[3:]):
            assert form not in everything


def test_the_in_process_server_counts_in_the_default_registry(base_settings, speech, tmp_path, monkeypatch):
    from tests.support import settings_with_database

    settings = settings_with_database(base_settings, tmp_path / "local.db")
    with LocalServer(settings, auth_token="t" * 32, secret_key="k" * 40, speech=speech) as local:
        monkeypatch.delenv("VOICE_APP_METRICS_TOKEN", raising=False)
        assert requests.get(local.url + "/metrics", timeout=5).status_code == 404
        monkeypatch.setenv("VOICE_APP_METRICS_TOKEN", METRICS_TOKEN)
        response = requests.get(local.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5)
        assert response.status_code == 200 and "voice_app_calls_in_progress" in response.text
        assert requests.get(local.url + "/readyz", timeout=5).json()["checks"]["draining"] == "no"
