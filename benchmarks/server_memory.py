"""Resident memory of `voice-app serve`: the gunicorn master and one worker, idle after start (model loaded,
prompts rendered) and at their peak while the worker serves N simulated calls at once.

    .venv/bin/python benchmarks/server_memory.py [--calls 4 8] [--workers 1]

With one worker (the default) every call lands on it, so its figures are those of a worker carrying N calls.
Each call: consent by keypad, a spoken question (transcribed by Whisper), verification by keypad, an answer,
then the caller asks for a person. RSS is read from /proc/PID/status (VmRSS) every 0.2 s; after the calls
the worker's VmHWM (its peak RSS since it started) is printed as well. Prints Markdown for the README.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from telephony.simulator import Press, Speak, TwilioSimulator  # noqa: E402
from voice_app.accounts.demo_data import WELL_KNOWN_ENGLISH, demo_customer, seed_demo  # noqa: E402
from voice_app.database import create_schema, make_engine  # noqa: E402
from voice_app.speech.tts import Synthesizer  # noqa: E402

AUTH_TOKEN = "memory-benchmark-token-" + "0" * 16
SECRET_KEY = "memory-benchmark-secret-" + "1" * 32


# Loading the model and training the intent classifier in each worker; generous for a busy machine.
START_SECONDS = 180


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} of {pid} not found")


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def config_file(folder: Path) -> Path:
    text = (PROJECT_ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('notice_dir = "voice_app/notices"', f'notice_dir = "{PROJECT_ROOT / "voice_app" / "notices"}"')
    text = text.replace('model_cache_dir = "var/models"', f'model_cache_dir = "{PROJECT_ROOT / "var" / "models"}"')
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="memory-benchmark-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{folder / 'hotline.db'}"
    engine = make_engine(database_url)
    create_schema(engine)
    seed_demo(engine, SECRET_KEY, today=date.today())
    engine.dispose()
    env = {
        **os.environ,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "VOICE_APP_SECRET_KEY": SECRET_KEY,
        "VOICE_APP_PUBLIC_URL": url,
        "VOICE_APP_DATABASE_URL": database_url,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    with open(folder / "server.log", "wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voice_app.cli",
                "--config",
                str(config_file(folder)),
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--threads",
                "16",
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if server.poll() is not None:
                sys.exit(f"the server exited with {server.returncode} before it was ready; see {log.name}")
            if time.monotonic() > deadline:
                sys.exit(f"the server did not become ready within {START_SECONDS} s; see {log.name}")
            try:
                if requests.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        time.sleep(2)
        worker = children(server.pid)[0]
        print("| state | master RSS MB | worker RSS MB |\n|---|---|---|")
        print(f"| after start (model loaded, prompts rendered) | {rss_mb(server.pid):.0f} | {rss_mb(worker):.0f} |")
        customer = demo_customer(WELL_KNOWN_ENGLISH, date.today())
        synthesizer = Synthesizer({"en": "gmw/en-us", "de": "gmw/de"}, rate_wpm=165)
        question = synthesizer.synthesize("Where is my refund?", "en")
        script = [
            Press("1"),
            Speak(question, label="question"),
            Press(customer.date_of_birth.strftime("%d%m%Y")),
            Press("0"),
        ]
        for count in args.calls:
            peak = {"master": 0.0, "worker": 0.0}
            calls = [
                threading.Thread(
                    target=TwilioSimulator(
                        url, AUTH_TOKEN, from_number=customer.phones[0], to_number="+4420555010", max_call_seconds=240
                    ).place_call,
                    args=(script,),
                )
                for _ in range(count)
            ]
            for call in calls:
                call.start()
            while any(call.is_alive() for call in calls):
                peak["master"] = max(peak["master"], rss_mb(server.pid))
                peak["worker"] = max(peak["worker"], rss_mb(worker))
                time.sleep(0.2)
            print(f"| peak during {count} concurrent calls | {peak['master']:.0f} | {peak['worker']:.0f} |")
        print(f"\nworker VmHWM (peak since start): {rss_mb(worker, 'VmHWM'):.0f} MB")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
