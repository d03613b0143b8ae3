"""`voice-app serve` as real server processes for the tests of several instances: each gets its own config file
(the shipped one with only the listening port and the folders changed), shares one database and one public URL
with the others, and is stopped at the end."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmarks.served_instance import render_config, wait_until_ready
from tests.postgres import free_loopback_port
from voice_app.config import PROJECT_ROOT

# Each process loads the Whisper model and trains the intent classifier before it answers, on a shared machine.
START_SECONDS = 180
# Long enough for a draining server with no call in progress to exit by itself.
STOP_SECONDS = 90
SECRETS = {
    "TWILIO_AUTH_TOKEN": "instances-auth-token-" + "5" * 16,
    "VOICE_APP_SECRET_KEY": "instances-secret-key-" + "6" * 32,
}
# Colleagues always available, so that a transfer rings whatever the hour the test runs at.
ALWAYS_OPEN = {
    ("telephony.business_hours", "days"): ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    ("telephony.business_hours", "opens"): "00:00",
    ("telephony.business_hours", "closes"): "23:59:59",
}


@dataclass
class Instance:
    name: str
    url: str  # where it listens, not the public URL
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_or_kill(instance: Instance) -> None:
    try:
        instance.process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        instance.process.kill()
        instance.process.wait(10)


@contextlib.contextmanager
def running_instances(
    names: list[str],
    folder: Path,
    database_url: str,
    public_url: str,
    changes: Mapping[tuple[str, str], object] | None = None,
) -> Iterator[list[Instance]]:
    """One `voice-app serve` per name on a free loopback port, all on `database_url` behind `public_url`, with some
    settings `changes` (as for `render_config`). They start one after the other: the first brings the empty
    database's schema up, which two at once would race for."""
    instances: list[Instance] = []
    try:
        for name in names:
            port = free_loopback_port()
            config_path = folder / f"{name}.toml"
            config_path.write_text(
                render_config(
                    {
                        ("server", "host"): "127.0.0.1",
                        ("server", "port"): port,
                        ("server", "workers"): 1,
                        **ALWAYS_OPEN,
                        **(changes or {}),
                    }
                )
            )
            environment = {
                **os.environ,
                **SECRETS,
                "VOICE_APP_CONFIG": str(config_path),
                "VOICE_APP_PUBLIC_URL": public_url,
                "VOICE_APP_DATABASE_URL": database_url,
                "PYTHONPATH": str(PROJECT_ROOT),
            }
            log_path = folder / f"{name}.log"
            with log_path.open("wb") as log_file:
                process = subprocess.Popen(
                    [sys.executable, "-m", "voice_app", "serve"],
                    env=environment,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=folder,
                )
            instance = Instance(name, f"http://127.0.0.1:{port}", process, log_path)
            instances.append(instance)
            wait_until_ready(process, instance.url, log_path, seconds=START_SECONDS, probe="/healthz", name=name)
        yield instances
    finally:
        # All are told at once, so their drains overlap.
        for instance in instances:
            if instance.process.poll() is None:
                instance.process.send_signal(signal.SIGTERM)
        for instance in instances:
            _wait_or_kill(instance)
