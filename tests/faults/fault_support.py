"""What the fault tests share: faults put between real parts (a TCP relay that can cut the media stream like a
network would, a wrapper around the real recogniser that raises or stalls), and how a fault's outcome is read
back: the calls' records and the consent ledger."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import requests
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from consent.models import ConsentEvent
from telephony import webhooks
from telephony.signatures import SignatureChecker
from telephony.simulator import DEFAULT_ACCOUNT_SID, CallResult
from voice_app import calls
from voice_app.models import Call, CallEvent
from voice_app.speech.stt import Transcriber, Transcript

CALLER = "+4915112345678"
ENGLISH_LINE = "+4420555010"
POLL_SECONDS = 0.05
# How long the simulated caller waits once the assistant falls silent before answering. Longer than the
# simulator's default: on a loaded machine the assistant's audio can stall for a moment in the middle of the
# notice, and a caller answering into that pause presses a key the notice does not count yet.
ANSWER_DELAY_SECONDS = 1.5
RELAY_CHUNK = 65536

# Notices a few seconds long instead of the shipped half minute: every call here must hear them before consenting,
# and what is under test is what follows.
SHORT_NOTICES = {
    "disclosure.en.txt": "You are talking to an automated assistant.",
    "consent.en.txt": "May what you say be turned into text? Press one for yes, two for no.",
    "disclosure.de.txt": "Sie sprechen mit einem automatischen Assistenten.",
    "consent.de.txt": "Darf Ihre Sprache in Text umgewandelt werden? Eins für ja, zwei für nein.",
}


def short_notice_dir(folder: Path) -> Path:
    for name, text in SHORT_NOTICES.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    return folder


class CuttableRelay:
    """A TCP relay on loopback in front of the server. `cut()` resets every connection through it at once (no
    websocket close frame, no FIN: a TCP reset, as when a network path breaks); new connections are still relayed."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), name="relay-pump", daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(RELAY_CHUNK):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                # Linger 0: close sends a reset. Shutting down reading first wakes the pump blocked on this socket.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RD)
            sock.close()

    def close(self) -> None:
        self._listener.close()
        self.cut()


class FaultyRecogniser(Transcriber):
    """The real recogniser with a fault around it, standing in for a recogniser that fails: with `fault` "raise"
    it raises instead of transcribing; with "slow" it answers, but only after `slow_seconds`."""

    def __init__(self, real: Transcriber, fault: Literal["raise", "slow"], slow_seconds: float = 0.0) -> None:
        # Not the model's own set-up: the real recogniser, already loaded, does the work.
        self.real = real
        self.fault = fault
        self.slow_seconds = slow_seconds
        self.calls = 0

    def transcribe(
        self, audio_16k: np.ndarray, language: str | None = None, *, fallback_language: str | None = None
    ) -> Transcript:
        self.calls += 1
        if self.fault == "raise":
            raise RuntimeError("recogniser fault injected by the test")
        time.sleep(self.slow_seconds)
        return self.real.transcribe(audio_16k, language, fallback_language=fallback_language)


def stored_call(engine: Engine, call_sid: str) -> Call:
    call = calls.find_call(engine, call_sid)
    assert call is not None, "the call was registered"
    return call


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {seconds:g} s")
        time.sleep(POLL_SECONDS)


def consent_event_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(ConsentEvent)).one()


def call_event_count(engine: Engine, kind: str) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(CallEvent).where(CallEvent.kind == kind)).one()


def twilio_post(base_url: str, auth_token: str, path: str, call_sid: str, **fields: str) -> requests.Response:
    """A request as Twilio posts it for `call_sid`, signed over `base_url` (the public URL) and sent there."""
    params = {**webhooks.call_fields(DEFAULT_ACCOUNT_SID, call_sid, CALLER, ENGLISH_LINE), **fields}
    url = base_url + path
    signature = SignatureChecker(auth_token).sign(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=20)


def gap_before_apology(result: CallResult) -> float:
    """Seconds from the start of the caller's last turn (an utterance or a key) to the apology starting on the line."""
    last_turn = max(event.at for event in result.events if event.kind in ("caller_speak", "caller_press"))
    return min(event.at for event in result.events if event.kind == "bot_audio_start" and event.at > last_turn) - (
        last_turn
    )
