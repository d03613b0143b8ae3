"""`voice-app serve`: the app on gunicorn, with a drain on SIGTERM so that no caller is dropped.

Workers use gunicorn's gthread worker: a call's media stream holds one thread for as long as the call lasts.
Each worker builds its own services and loads its own Whisper model after the fork (CTranslate2's threads
do not survive a fork), and takes requests only once both are ready.

The drain. gunicorn's own SIGTERM handling closes the listening socket at once and gives requests only
graceful_timeout, and after a stream closes Twilio still needs an answer from us to its Connect action. So the
master takes SIGTERM as the start of a drain instead, shared with the workers through memory mapped before
the fork:
- at once, /readyz answers 503 (the balancer moves on) and a new call's voice webhook sends the caller
  straight to a person; the listener stays open, so Connect actions, status callbacks and whispers are
  still answered;
- calls in progress go on for `server.drain_seconds`; each one that ends meanwhile ends as usual;
- then every worker hands its remaining callers to a person (reason server_shutdown): their streams close
  and their Connect actions, arriving moments later, are answered with the <Dial> to the agent target;
- once no call is in progress and CONNECT_ACTION_GRACE_SECONDS have passed since the last one ended, the
  master stops the way gunicorn does and exits 0.
SIGINT and SIGQUIT still stop at once, as gunicorn documents them.
"""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO
from weakref import WeakSet

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger as GunicornLogger

from voice_app.config import Settings
from voice_app.drain import CallInProgress
from voice_app.models import HandoffReason
from voice_app.observability.logs import dress_handler

log = logging.getLogger(__name__)

# How long, after the last call ended, Twilio's request for what comes next (the Connect action) is awaited:
# Twilio sends it as soon as the stream closes.
CONNECT_ACTION_GRACE_SECONDS = 5.0
# After the hand-over, how long streams may take to close before the master stops regardless.
HANDOVER_LIMIT_SECONDS = 10.0
DRAIN_POLL_SECONDS = 0.25
# Once the drain is over, workers only finish short requests.
WORKER_GRACEFUL_TIMEOUT_SECONDS = 10
# A worker loads its model and renders the prompts before it first reports alive; on a busy machine that
# took up to a minute.
WORKER_TIMEOUT_SECONDS = 180
# gunicorn's access log without the query string (the compliance search still puts a phone number there)
# and without the referrer (which may carry one too).
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


class DrainState:
    """The drain as master and workers see it, in shared memory made before the fork. Times are
    time.monotonic(), one clock for every process on the machine."""

    def __init__(self, drain_seconds: float):
        self.drain_seconds = drain_seconds
        self._started_at = multiprocessing.Value("d", 0.0)  # 0: not draining
        self._calls = multiprocessing.Value("i", 0)
        self._last_call_ended_at = multiprocessing.Value("d", 0.0)

    def start(self) -> bool:
        """Master, on SIGTERM; False if it had started already."""
        with self._started_at.get_lock():
            if self._started_at.value:
                return False
            self._started_at.value = time.monotonic()
            return True

    @property
    def draining(self) -> bool:
        return self._started_at.value != 0.0

    @property
    def handover_due(self) -> bool:
        return self.draining and time.monotonic() >= self._started_at.value + self.drain_seconds

    @property
    def over(self) -> bool:
        """Master: no call left and its Connect action answered, or the hand-over took too long."""
        if not self.draining:
            return False
        now = time.monotonic()
        if now >= self._started_at.value + self.drain_seconds + HANDOVER_LIMIT_SECONDS:
            return True
        quiet_since = max(self._started_at.value, self._last_call_ended_at.value)
        return self._calls.value == 0 and now >= quiet_since + CONNECT_ACTION_GRACE_SECONDS

    def call_started(self) -> None:
        with self._calls.get_lock():
            self._calls.value += 1

    def call_ended(self) -> None:
        with self._calls.get_lock():
            self._calls.value -= 1
            self._last_call_ended_at.value = time.monotonic()


class WorkerDrain:
    """A worker's side of the drain: what the app asks (`draining`, `serving`) and the hand-over when the drain
    time is up."""

    def __init__(self, state: DrainState):
        self._state = state
        self._sessions: WeakSet[CallInProgress] = WeakSet()
        self._lock = threading.Lock()
        threading.Thread(target=self._hand_over_when_due, name="drain-watch", daemon=True).start()

    @property
    def draining(self) -> bool:
        return self._state.draining

    @contextmanager
    def serving(self, session: CallInProgress) -> Iterator[None]:
        with self._lock:
            self._sessions.add(session)
        self._state.call_started()
        try:
            yield
        finally:
            self._state.call_ended()
            with self._lock:
                self._sessions.discard(session)

    def _hand_over_when_due(self) -> None:
        handed_over: WeakSet[CallInProgress] = WeakSet()
        while True:
            time.sleep(DRAIN_POLL_SECONDS)
            if not self._state.handover_due:
                continue
            with self._lock:
                due = [session for session in self._sessions if session not in handed_over]
            if due:
                log.warning("drain time is up: handing %d call(s) to a person", len(due))
            for session in due:
                handed_over.add(session)
                try:
                    session.hand_over(HandoffReason.SERVER_SHUTDOWN)
                except Exception:  # the next session must still be handed over
                    log.exception("hand-over at shutdown failed")


class RetentionClaim:
    """The daily retention job runs in one worker only: the one holding an exclusive lock on a file of this
    server's runtime folder. The others wait for the lock on a thread; the kernel releases it when its holder
    exits, so a replacement takes over."""

    def __init__(self, lock_path: Path, start_retention):
        self._lock_path = lock_path
        self._start_retention = start_retention
        self._handle: TextIO | None = None  # held open for the worker's lifetime: closing it releases the lock
        threading.Thread(target=self._claim, name="retention-claim", daemon=True).start()

    def _claim(self) -> None:
        handle = open(self._lock_path, "a")  # noqa: SIM115  (held open on purpose, see _handle)
        fcntl.flock(handle, fcntl.LOCK_EX)
        self._handle = handle
        log.info("this worker runs the daily retention job")
        self._start_retention()


class DrainingArbiter(Arbiter):
    """gunicorn's master with SIGTERM turned into the drain described above."""

    def handle_term(self):
        if self.app.drain.start():
            log.warning(
                "SIGTERM: draining for %g s; not ready, new calls go straight to a person", self.app.drain.drain_seconds
            )

    def manage_workers(self):
        super().manage_workers()
        if self.app.drain.over:
            log.warning("drain over: stopping")
            raise StopIteration  # gunicorn's graceful stop: listeners closed, workers told to exit


def gunicorn_logger(log_format: str) -> type[GunicornLogger]:
    """gunicorn's error and access logs in the format of the app's own lines."""

    class FormattedLogger(GunicornLogger):
        def setup(self, cfg):
            super().setup(cfg)
            for handler in self.error_log.handlers + self.access_log.handlers:
                dress_handler(handler, log_format)

    return FormattedLogger


def _forget_worker_metrics(_arbiter, worker) -> None:
    from voice_app.observability import metrics

    metrics.forget_worker(worker.pid)


class HotlineServer(BaseApplication):
    def __init__(self, settings: Settings, *, auth_token: str, secret_key: str, log_format: str, runtime_dir: Path):
        self.settings = settings
        self._auth_token = auth_token
        self._secret_key = secret_key
        self._log_format = log_format
        self._runtime_dir = runtime_dir
        self.drain = DrainState(settings.server.drain_seconds)
        self._retention: RetentionClaim | None = None
        super().__init__(prog="voice-app serve")

    def load_config(self) -> None:
        server = self.settings.server
        host = f"[{server.host}]" if ":" in server.host else server.host
        options = {
            "bind": [f"{host}:{server.port}"],
            "worker_class": "gthread",
            "workers": server.workers,
            "threads": server.threads,
            "graceful_timeout": WORKER_GRACEFUL_TIMEOUT_SECONDS,
            "timeout": WORKER_TIMEOUT_SECONDS,
            "proc_name": "voice-app",
            "logger_class": gunicorn_logger(self._log_format),
            "accesslog": "-",
            "errorlog": "-",
            "access_log_format": ACCESS_LOG_FORMAT,
            "child_exit": _forget_worker_metrics,
            # gunicorn's control socket sits at one path per user: a second instance on the machine would take it
            # over, and nothing here uses it.
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        """In each worker, after the fork: its own database engine, model and rendered prompts."""
        from voice_app.app import create_app
        from voice_app.compliance.retention import DailyRetention
        from voice_app.services import build_services

        services = build_services(
            self.settings,
            auth_token=self._auth_token,
            secret_key=self._secret_key,
            drain=WorkerDrain(self.drain),
            on_progress=log.info,
        )
        self._retention = RetentionClaim(
            self._runtime_dir / "retention.lock", DailyRetention(services.engine, self.settings.retention).start
        )
        log.info("worker ready: model loaded, prompts rendered")
        return create_app(services)

    def run(self) -> None:
        DrainingArbiter(self).run()


def _prepare_metrics_dir(runtime_dir: Path) -> Path:
    """Where the workers keep their metrics: the operator's PROMETHEUS_MULTIPROC_DIR emptied of an earlier run's
    files, or a private folder in this server's runtime folder. Set before prometheus_client is first
    imported, which reads it once (the workers inherit both)."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError(
            "prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set; "
            "the workers' metrics would not add up"
        )
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(given)
        if not folder.is_dir():
            raise RuntimeError(f"PROMETHEUS_MULTIPROC_DIR {given} is not a folder")
        for stale in folder.glob("*.db"):
            stale.unlink()
        return folder
    folder = runtime_dir / "metrics"
    folder.mkdir(mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def _prepare_database(settings: Settings) -> None:
    """The database checked at head (an empty one made), and notice versions once, in the master: workers starting
    together would race to create them. Its connections are closed before the fork; each worker opens its own."""
    from voice_app.database import open_database
    from voice_app.services import sync_notice_versions

    engine = open_database(settings.database_url, settings.database_url_setting)
    try:
        sync_notice_versions(engine, settings)
    finally:
        engine.dispose()


def run_server(settings: Settings, *, auth_token: str, secret_key: str, log_format: str) -> None:
    """Runs until SIGTERM and its drain (or SIGINT) are over."""
    runtime_dir = Path(tempfile.mkdtemp(prefix="voice-app-"))
    master_pid = os.getpid()
    try:
        metrics_dir = _prepare_metrics_dir(runtime_dir)
        _prepare_database(settings)
        server = settings.server
        log.info(
            "serving on %s:%s with %d workers of %d threads, public URL %s, metrics in %s",
            server.host,
            server.port,
            server.workers,
            server.threads,
            server.public_url,
            metrics_dir,
        )
        HotlineServer(
            settings, auth_token=auth_token, secret_key=secret_key, log_format=log_format, runtime_dir=runtime_dir
        ).run()
    finally:
        # Workers leave gunicorn's loop by SystemExit through here too; only the master cleans up.
        if os.getpid() == master_pid:
            shutil.rmtree(runtime_dir, ignore_errors=True)
