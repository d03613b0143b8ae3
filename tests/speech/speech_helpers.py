"""Speech test material shared by the speech tests: phrases, shared recordings, espeak-ng audio, WER."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jiwer
import numpy as np
import pytest

from telephony.audio import float_to_phone_mulaw, load_audio_file, phone_mulaw_to_float

SHARED_AUDIO = Path(__file__).resolve().parents[3] / "shared" / "data" / "audio"
PHRASES = json.loads((Path(__file__).with_name("hotline_phrases.json")).read_text(encoding="utf-8"))
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
CLI_VOICES = {"en": "en-us", "de": "de"}  # the same espeak-ng voices as gmw/en-us and gmw/de


def shared_audio(name: str) -> tuple[np.ndarray, int]:
    path = SHARED_AUDIO / name
    if not path.is_file():
        pytest.fail(f"test audio {path} is missing: the shared/ folder must sit beside the project")
    return load_audio_file(path)


def espeak_cli(text: str, language: str) -> tuple[np.ndarray, int]:
    """espeak-ng's own command line, independent of our Synthesizer, at the Synthesizer's rate."""
    wav = subprocess.run(
        ["espeak-ng", "-v", CLI_VOICES[language], "-s", "165", "--stdout", text], capture_output=True, check=True
    ).stdout
    pcm = np.frombuffer(wav[44:], dtype="<i2").astype(np.float32) / 32768.0  # espeak-ng writes a plain 44-byte header
    return pcm, int.from_bytes(wav[24:28], "little")


def through_phone(samples: np.ndarray, rate: int) -> np.ndarray:
    """What the transcriber gets from a call: 8 kHz mu-law, decoded and resampled to 16 kHz."""
    return phone_mulaw_to_float(float_to_phone_mulaw(samples, rate), 16000)


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower().replace("-", " ")).split())


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    # jiwer refuses empty hypotheses; an empty one should count as all words deleted.
    return jiwer.wer([normalise(r) for r in references], [normalise(h) or "<nothing>" for h in hypotheses])
