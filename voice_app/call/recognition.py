"""Speech recognition of one utterance: the phone's 8 kHz audio resampled for Whisper, transcribed in the language
the dialogue expects (or detected while the caller may still switch).

Recognition may start early, when the caller pauses and before the turn is known to be over: if the turn then ends
without another word, its transcript is (nearly) ready; if the caller went on, the early result is thrown away.

Recognition is bounded in time (`[speech] transcription_timeout_seconds`): a recogniser that hangs would leave the
caller in silence with nobody to notice. Past the bound the call gives up on it (and the caller goes to a person);
the decode itself cannot be interrupted and finishes on its own thread, its result thrown away. A recogniser that
fails on the early audio fails the turn: the same audio is not handed to it a second time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from telephony.audio import PHONE_RATE, pcm16_to_float32, resample
from voice_app.speech.stt import Transcriber, Transcript

STT_RATE = 16000


class RecognitionTimedOut(RuntimeError):
    """The recogniser did not answer within the configured bound."""


@dataclass(frozen=True)
class Recognised:
    transcript: Transcript
    seconds: float  # how long the caller's turn waited for it, once the turn was over
    early: bool = False  # started at a pause, before the turn was over


@dataclass(frozen=True)
class _EarlyRecognition:
    pcm16: bytes
    known_language: str | None
    fallback_language: str
    result: Future[Transcript]

    def covers(self, pcm16: bytes, speech_bytes: int, known_language: str | None, fallback_language: str) -> bool:
        """Whether the finished turn is this audio plus silence only, in the same languages."""
        return (
            (known_language, fallback_language) == (self.known_language, self.fallback_language)
            and speech_bytes <= len(self.pcm16)
            and pcm16.startswith(self.pcm16)
        )


class Recogniser:
    """One call's recognition; used from the call's executor thread only."""

    def __init__(self, transcriber: Transcriber, *, timeout_seconds: float) -> None:
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds}")
        self.transcriber = transcriber
        self.timeout_seconds = timeout_seconds
        self._early: _EarlyRecognition | None = None

    def start_early(
        self,
        pcm16: bytes,
        known_language: str | None,
        fallback_language: str,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        """Starts transcribing the turn so far in the background; a previous early start is forgotten. `on_ready` is
        called (on the recognition's thread) when the transcript is ready or has failed."""
        result = self._start(pcm16, known_language, fallback_language, "early")
        self._early = _EarlyRecognition(pcm16, known_language, fallback_language, result)
        if on_ready is not None:
            result.add_done_callback(lambda _: on_ready())

    def early_transcript(self) -> Transcript | None:
        """The transcript of the latest early start if it is ready, without waiting; None if there is none (yet), or
        it failed (the error is the turn's, raised by `recognise`)."""
        early = self._early
        if early is None or not early.result.done() or early.result.exception() is not None:
            return None
        return early.result.result()

    def recognise(
        self, pcm16: bytes, known_language: str | None, fallback_language: str, *, speech_bytes: int | None = None
    ) -> Recognised:
        early, self._early = self._early, None
        started = time.monotonic()
        if (
            early is not None
            and speech_bytes is not None
            and early.covers(pcm16, speech_bytes, known_language, fallback_language)
        ):
            # A recogniser that failed on this audio is not asked again: its error is the turn's, as it would be
            # had the turn been transcribed only once it was over.
            return Recognised(self._wait(early.result, started), time.monotonic() - started, early=True)
        transcript = self._wait(self._start(pcm16, known_language, fallback_language, "recognise"), started)
        return Recognised(transcript, time.monotonic() - started)

    def _start(self, pcm16: bytes, known_language: str | None, fallback_language: str, name: str) -> Future[Transcript]:
        result: Future[Transcript] = Future()

        def transcribe() -> None:
            try:
                audio = resample(pcm16_to_float32(pcm16), PHONE_RATE, STT_RATE)
                result.set_result(
                    self.transcriber.transcribe(audio, known_language, fallback_language=fallback_language)
                )
            except BaseException as error:  # handed to the waiting call, which decides what it means
                result.set_exception(error)

        # Not a daemon: a process that exits while CTranslate2 still decodes on a daemon thread aborts in its C++
        # teardown (a gunicorn worker stopping after a drain did); the exit waits for the decode instead.
        threading.Thread(target=transcribe, name=name).start()
        return result

    def _wait(self, result: Future[Transcript], started: float) -> Transcript:
        remaining = self.timeout_seconds - (time.monotonic() - started)
        try:
            return result.result(timeout=max(0.0, remaining))
        except FutureTimeout:
            raise RecognitionTimedOut(f"speech recognition took longer than {self.timeout_seconds:g} s") from None
