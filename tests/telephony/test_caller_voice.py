"""The simulated caller's voice: the same words give the same audio, whatever was said before."""

from __future__ import annotations

import numpy as np
import pytest

from telephony.audio import PHONE_RATE, mulaw_duration_seconds, phone_mulaw_to_float
from telephony.caller_voice import caller_says


def test_the_same_words_render_to_the_same_audio_after_other_words():
    first = caller_says("I withdraw my consent.", "en")
    caller_says("Guten Tag, ich habe eine Frage zu meiner Rechnung.", "de")
    caller_says.cache_clear()  # so the second render is a new espeak-ng run, not the cached bytes
    assert caller_says("I withdraw my consent.", "en") == first


def test_the_audio_is_phone_audio_with_little_silence_around_the_words():
    audio = caller_says("Yes.", "en")
    assert 0.2 < mulaw_duration_seconds(audio) < 1.0
    level = np.abs(phone_mulaw_to_float(audio, PHONE_RATE))
    loud = np.flatnonzero(level > 0.01)
    assert loud[0] < 0.15 * PHONE_RATE and len(level) - loud[-1] < 0.15 * PHONE_RATE
    assert caller_says("Ja.", "de") != caller_says("Yes.", "en")


@pytest.mark.parametrize(("text", "language"), [("", "en"), ("   ", "de"), ("Bonjour", "fr")])
def test_bad_input_is_refused_with_a_clear_error(text, language):
    with pytest.raises(ValueError):
        caller_says(text, language)
