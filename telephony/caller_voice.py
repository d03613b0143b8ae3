"""A synthetic caller's voice for the simulator: text spoken by espeak-ng, as the phone line carries it.

Each phrase is rendered by its own `espeak-ng` process. espeak-ng keeps state from one text to the next inside a
process (the same sentence rendered four times in a row came out four times different), so a caller rendered by
the assistant's own long-lived synthesizer sounded different depending on what had been said before it, by any
call on the server. Whisper base hears such small differences: "I withdraw my consent." became "I withdraw my
complaint." when four calls ran at once, and whole-call tests passed or failed with the order they ran in. A fresh
process renders the same text to the same audio every time.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import soundfile

from telephony.audio import (
    FRAME_MS,
    float_to_phone_mulaw,
    mulaw_to_pcm16,
    pcm16_to_float32,
    split_frames,
    to_mono,
    trim_silence,
)
from telephony.simulator import insert_pauses

DEFAULT_CALLER_VOICES: Mapping[str, str] = MappingProxyType({"en": "gmw/en-us", "de": "gmw/de"})
DEFAULT_RATE_WPM = 165
_RENDER_TIMEOUT_SECONDS = 30


class CallerVoiceError(RuntimeError):
    """espeak-ng is missing or could not render the caller's words."""


@functools.lru_cache(maxsize=512)
def caller_says(text: str, language: str, *, rate_wpm: int = DEFAULT_RATE_WPM) -> bytes:
    """`text` in `language`'s espeak-ng voice as 8 kHz mu-law, with at most 0.1 s of silence at either end."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the caller's words must be a non-empty string")
    if language not in DEFAULT_CALLER_VOICES:
        raise ValueError(f"no caller voice for language {language!r}; known: {', '.join(DEFAULT_CALLER_VOICES)}")
    executable = shutil.which("espeak-ng")
    if executable is None:
        raise CallerVoiceError("espeak-ng is not installed (apt-get install espeak-ng)")
    try:
        rendered = subprocess.run(
            [executable, "-v", DEFAULT_CALLER_VOICES[language], "-s", str(rate_wpm), "--stdout", "--", text.strip()],
            capture_output=True,
            check=True,
            timeout=_RENDER_TIMEOUT_SECONDS,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        raise CallerVoiceError(f"espeak-ng could not render the caller's words: {error}") from None
    samples, rate = soundfile.read(io.BytesIO(rendered.stdout), dtype="float32", always_2d=False)
    spoken = trim_silence(to_mono(samples), int(rate))
    if spoken.size == 0:
        raise CallerVoiceError(f"espeak-ng rendered no sound for {text!r}")
    return float_to_phone_mulaw(spoken, int(rate))


def caller_says_with_pause(sentence: str, language: str, *, words_before: int, pause_seconds: float) -> bytes:
    """`sentence` said whole, so that its words keep their sentence-internal melody, with `pause_seconds` of silence
    after its first `words_before` words: at the quietest 20 ms frame near where those words end when said alone
    (a word boundary; said alone they end with a sentence-final lengthening the sentence does not have there)."""
    words = sentence.split()
    if isinstance(words_before, bool) or not isinstance(words_before, int) or not 0 < words_before < len(words):
        raise ValueError(f"the pause must fall between two of the sentence's {len(words)} words, got {words_before!r}")
    whole = caller_says(sentence, language)
    frame_seconds = FRAME_MS / 1000
    prefix_ends = len(split_frames(caller_says(" ".join(words[:words_before]), language))) * frame_seconds - 0.08
    frames = split_frames(whole)
    guess = int(max(0.1, prefix_ends) / frame_seconds)
    candidates = range(max(1, guess - 7), min(len(frames) - 1, guess + 5))
    quietest = min(candidates, key=lambda i: float(np.mean(pcm16_to_float32(mulaw_to_pcm16(frames[i])) ** 2)))
    return insert_pauses(whole, [(quietest * frame_seconds, pause_seconds)])
