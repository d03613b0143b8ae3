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

import soundfile

from telephony.audio import float_to_phone_mulaw, to_mono, trim_silence

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
