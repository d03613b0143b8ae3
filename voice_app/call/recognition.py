"""Speech recognition of one utterance: the phone's 8 kHz audio resampled for Whisper, transcribed in the language
the dialogue expects (or detected while the caller may still switch).

Recognition is bounded in time (`[speech] transcription_timeout_seconds`): a recogniser that hangs would leave the
caller in silence with nobody to notice. Past the bound the call gives up on it (and the caller goes to a person);
the decode itself cannot be interrupted and finishes on its own thread, its result thrown away.
"""

from __future__ import annotations

import threading
import time
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
    seconds: float  # how long recognition took


class Recogniser:
    def __init__(self, transcriber: Transcriber, *, timeout_seconds: float) -> None:
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds}")
        self.transcriber = transcriber
        self.timeout_seconds = timeout_seconds

    def recognise(self, pcm16: bytes, known_language: str | None, fallback_language: str) -> Recognised:
        audio = resample(pcm16_to_float32(pcm16), PHONE_RATE, STT_RATE)
        started = time.monotonic()
        result: Future[Transcript] = Future()

        def transcribe() -> None:
            try:
                result.set_result(
                    self.transcriber.transcribe(audio, known_language, fallback_language=fallback_language)
                )
            except BaseException as error:  # handed to the waiting call, which decides what it means
                result.set_exception(error)

        threading.Thread(target=transcribe, name="recognise", daemon=True).start()
        try:
            transcript = result.result(timeout=self.timeout_seconds)
        except FutureTimeout:
            raise RecognitionTimedOut(f"speech recognition took longer than {self.timeout_seconds:g} s") from None
        return Recognised(transcript, time.monotonic() - started)
