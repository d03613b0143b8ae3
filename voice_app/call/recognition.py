"""Speech recognition of one utterance: the phone's 8 kHz audio resampled for Whisper, transcribed in the language
the dialogue expects (or detected while the caller may still switch)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from telephony.audio import PHONE_RATE, pcm16_to_float32, resample
from voice_app.speech.stt import Transcriber, Transcript

STT_RATE = 16000


@dataclass(frozen=True)
class Recognised:
    transcript: Transcript
    seconds: float  # how long recognition took


class Recogniser:
    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber

    def recognise(self, pcm16: bytes, known_language: str | None, fallback_language: str) -> Recognised:
        audio = resample(pcm16_to_float32(pcm16), PHONE_RATE, STT_RATE)
        started = time.monotonic()
        transcript = self.transcriber.transcribe(audio, known_language, fallback_language=fallback_language)
        return Recognised(transcript, time.monotonic() - started)
