"""Speech recognition of one utterance: the phone's 8 kHz audio resampled for Whisper, transcribed in the language
the dialogue expects (or detected while the caller may still switch).

Recognition may start early, when the caller pauses and before the turn is known to be over: if the turn then ends
without another word, its transcript is (nearly) ready; if the caller went on, the early result is thrown away.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from telephony.audio import PHONE_RATE, pcm16_to_float32, resample
from voice_app.speech.stt import Transcriber, Transcript

log = logging.getLogger(__name__)

STT_RATE = 16000


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

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self._early: _EarlyRecognition | None = None

    def start_early(self, pcm16: bytes, known_language: str | None, fallback_language: str) -> None:
        """Starts transcribing the turn so far in the background; a previous early start is forgotten."""
        result: Future[Transcript] = Future()
        self._early = _EarlyRecognition(pcm16, known_language, fallback_language, result)
        threading.Thread(
            target=self._transcribe_into,
            args=(result, pcm16, known_language, fallback_language),
            name="early-recognition",
            daemon=True,
        ).start()

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
            try:
                return Recognised(early.result.result(), time.monotonic() - started, early=True)
            except Exception:
                log.warning("early recognition failed; transcribing the turn again", exc_info=True)
                started = time.monotonic()
        transcript = self._transcribe(pcm16, known_language, fallback_language)
        return Recognised(transcript, time.monotonic() - started)

    def _transcribe_into(
        self, result: Future[Transcript], pcm16: bytes, known_language: str | None, fallback_language: str
    ) -> None:
        try:
            result.set_result(self._transcribe(pcm16, known_language, fallback_language))
        except Exception as error:  # handed to whoever waits for it
            result.set_exception(error)

    def _transcribe(self, pcm16: bytes, known_language: str | None, fallback_language: str) -> Transcript:
        audio = resample(pcm16_to_float32(pcm16), PHONE_RATE, STT_RATE)
        return self.transcriber.transcribe(audio, known_language, fallback_language=fallback_language)
