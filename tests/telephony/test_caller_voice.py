"""The simulated caller's voice: the same words give the same audio, whatever was said before."""

from __future__ import annotations

import numpy as np
import pytest

from telephony.audio import PHONE_RATE, mulaw_duration_seconds, phone_mulaw_to_float
from telephony.caller_voice import caller_says, caller_says_with_pause


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


def test_a_pause_is_inserted_whole_at_a_word_boundary():
    sentence = "I would like to know my open invoices."
    whole = caller_says(sentence, "en")
    paused = caller_says_with_pause(sentence, "en", words_before=5, pause_seconds=0.6)
    assert mulaw_duration_seconds(paused) == pytest.approx(mulaw_duration_seconds(whole) + 0.6, abs=0.021)
    level = np.abs(phone_mulaw_to_float(paused, PHONE_RATE))
    frame = PHONE_RATE // 50
    quiet = "".join("q" if level[i : i + frame].max() < 0.01 else "s" for i in range(0, len(level) - frame, frame))
    pause_starts = quiet.find("q" * 30)  # the 0.6 s pause, in 20 ms frames
    # "I would like to know my" said alone takes about a second: the pause comes after those words, not inside them
    assert 0.6 < pause_starts * 0.02 < 1.6
    assert "s" in quiet[:pause_starts] and "s" in quiet[pause_starts + 30 :]


@pytest.mark.parametrize("words_before", [0, 8, True, 2.5])
def test_a_pause_outside_the_sentence_is_refused(words_before):
    with pytest.raises(ValueError):
        caller_says_with_pause(
            "I would like to know my open invoices.", "en", words_before=words_before, pause_seconds=0.5
        )
