"""`voice-app serve` as a real server process, for the benchmarks and the tests that need one: the shipped config
with chosen settings changed, a temporary SQLite database (or a given database URL), the demo customers seeded,
started as gunicorn would run in production and waited for until it answers, then stopped.

    with served_instance(config={("speech", "end_of_turn_silence_ms"): 400}, workers=2) as server:
        TwilioSimulator(server.url, server.auth_token, ...).place_call(...)
        server.process_stats()  # RSS, threads and open files of the master and each worker

The tests import `wait_until_ready` and `render_config` from here (pytest puts the project root on the path); the
benchmark scripts put it there themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import requests

from voice_app.accounts.demo_data import seed_demo
from voice_app.config import DEFAULT_CONFIG_PATH, PROJECT_ROOT
from voice_app.database import create_schema, make_engine

# Each worker loads the Whisper model and trains the intent classifier before it answers, on a shared machine.
START_SECONDS = 240
# Long enough for a draining server with no call in progress to exit by itself.
STOP_SECONDS = 90
AUTH_TOKEN = "served-instance-auth-token-" + "0" * 16
SECRET_KEY = "served-instance-secret-key-" + "1" * 32


class ServerNotReady(RuntimeError):
    """The server exited, or did not answer its probe in time; the message ends with the tail of its log."""


def wait_until_ready(
    process: subprocess.Popen,
    url: str,
    log_path: Path,
    *,
    seconds: float = START_SECONDS,
    probe: str = "/readyz",
    name: str = "voice-app serve",
) -> None:
    """Polls `url + probe` until it answers 200; raises ServerNotReady as soon as the process exits, or after
    `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise ServerNotReady(f"{name} exited with {process.returncode}:\n{_tail(log_path)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url + probe, timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise ServerNotReady(f"{name} did not answer {probe} within {seconds:g} s:\n{_tail(log_path)}")
        time.sleep(0.5)


def _tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-3000:] if log_path.exists() else f"({log_path} was not written)"


def render_config(changes: Mapping[tuple[str, str], object]) -> str:
    """The shipped config.toml with some `key = value` lines of some tables replaced; relative folders made absolute
    so the file works from anywhere. Fails if a key to change is not in the shipped file."""
    changes = {
        ("speech", "model_cache_dir"): str(PROJECT_ROOT / "var" / "models"),
        ("consent", "notice_dir"): str(PROJECT_ROOT / "voice_app" / "notices"),
        **changes,
    }
    unused = set(changes)
    table = ""
    lines = []
    for line in DEFAULT_CONFIG_PATH.read_text().splitlines():
        header = re.match(r"^\[([^\]]+)\]\s*$", line)
        assignment = re.match(r"^([A-Za-z_]+)\s*=", line)
        if header:
            table = header.group(1)
        elif assignment and (table, assignment.group(1)) in changes:
            key = (table, assignment.group(1))
            # JSON strings, numbers and lists of strings are valid TOML too.
            line = f"{key[1]} = {json.dumps(changes[key])}"
            unused.discard(key)
        lines.append(line)
    if unused:
        raise ValueError(f"not in the shipped config.toml: {sorted(unused)}")
    return "\n".join(lines) + "\n"


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ProcessStats:
    pid: int
    rss_mb: float
    threads: int
    open_files: int


def process_stats(pid: int) -> ProcessStats:
    """Resident memory and threads from /proc/PID/status, open file descriptors from /proc/PID/fd."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return ProcessStats(
        pid=pid,
        rss_mb=int(status["VmRSS"].split()[0]) / 1024,
        threads=int(status["Threads"]),
        open_files=len(os.listdir(f"/proc/{pid}/fd")),
    )


@dataclass
class ServedInstance:
    url: str  # where it listens; also its public URL, which the simulator signs for
    process: subprocess.Popen  # the gunicorn master
    database_url: str
    config_path: Path
    log_path: Path  # its stdout and stderr
    auth_token: str = AUTH_TOKEN
    secret_key: str = SECRET_KEY

    @property
    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def process_stats(self) -> list[ProcessStats]:
        """The master first, then each worker."""
        stats = []
        for pid in [self.process.pid, *self.worker_pids]:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a worker restarting just now
                stats.append(process_stats(pid))
        return stats

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, stop_signal: signal.Signals = signal.SIGTERM, seconds: float = STOP_SECONDS) -> int:
        """Signals the master (SIGTERM drains, SIGINT stops at once) and waits; kills it after `seconds`."""
        if self.process.poll() is None:
            self.process.send_signal(stop_signal)
        try:
            return self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


@contextlib.contextmanager
def served_instance(
    *,
    config: Mapping[tuple[str, str], object] | None = None,
    database_url: str | None = None,
    seed: bool = True,
    workers: int = 1,
    threads: int = 16,
    folder: Path | None = None,
    environment: Mapping[str, str] | None = None,
    start_seconds: float = START_SECONDS,
) -> Iterator[ServedInstance]:
    """A running `voice-app serve` on a free loopback port, stopped (SIGINT) when the block ends.

    `config`: settings of the shipped config.toml to change, as {(table, key): value}. `database_url`: default a
    new SQLite file in `folder` (default a new temporary folder, which keeps the config and the log). `seed`: create
    the schema and seed the demo customers first (with `secret_key`, so the demo callers are recognised).
    `environment`: more environment variables for the server."""
    folder = Path(tempfile.mkdtemp(prefix="served-instance-")) if folder is None else folder
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    database_url = database_url or f"sqlite:///{folder / 'hotline.db'}"
    if seed:
        engine = make_engine(database_url)
        try:
            create_schema(engine)
            seed_demo(engine, SECRET_KEY, today=date.today())
        finally:
            engine.dispose()
    config_path = folder / "config.toml"
    server_settings = {("server", "port"): port, ("server", "workers"): workers, ("server", "threads"): threads}
    config_path.write_text(render_config({("server", "host"): "127.0.0.1", **server_settings, **(config or {})}))
    env = {
        **os.environ,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "VOICE_APP_SECRET_KEY": SECRET_KEY,
        "VOICE_APP_CONFIG": str(config_path),
        "VOICE_APP_PUBLIC_URL": url,
        "VOICE_APP_DATABASE_URL": database_url,
        "PYTHONPATH": str(PROJECT_ROOT),
        **(environment or {}),
    }
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "voice_app", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder
        )
    instance = ServedInstance(url, process, database_url, config_path, log_path)
    try:
        wait_until_ready(process, url, log_path, seconds=start_seconds)
        yield instance
    finally:
        instance.stop(signal.SIGINT)
