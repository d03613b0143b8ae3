"""End-of-turn detection on real speech and espeak-ng audio, both through 8 kHz mu-law.

Measured pauses (VAD aggressiveness 2): one_two_three.wav has 500 ms and 420 ms between its words,
jfk.flac 840 ms after "Americans" and 540 ms later on. Utterances found per end_silence_ms:
one_two_three 3 (up to 400), 2 (500), 1 (600 and more); jfk 3 (up to 500), 2 (600-800), 1 (900).
"""

from __future__ import annotations

import numpy as np
import pytest
from speech_helpers import espeak_cli, shared_audio

from telephony.audio import PCM16_FRAME_BYTES, float_to_phone_mulaw, mulaw_to_pcm16, split_frames
from voice_app.speech.turns import PauseBegan, SpeechStarted, TurnDetector, TurnEvent, UtteranceEnded


def phone_frames(samples: np.ndarray, rate: int, *, silence_after_s: float = 1.5) -> list[bytes]:
    lead, tail = np.zeros(rate // 2, np.float32), np.zeros(int(rate * silence_after_s), np.float32)
    padded = np.concatenate([lead, samples, tail])
    return [mulaw_to_pcm16(frame) for frame in split_frames(float_to_phone_mulaw(padded, rate))]


def run(detector: TurnDetector, frames: list[bytes]) -> list[TurnEvent]:
    return [event for frame in frames if (event := detector.push(frame)) is not None]


def utterances(events: list[TurnEvent]) -> list[UtteranceEnded]:
    return [event for event in events if isinstance(event, UtteranceEnded)]


@pytest.mark.parametrize(("end_silence_ms", "expected"), [(700, 1), (500, 2), (400, 3)])
def test_one_two_three_splits_by_pause_length(end_silence_ms: int, expected: int) -> None:
    events = run(TurnDetector(end_silence_ms=end_silence_ms), phone_frames(*shared_audio("one_two_three.wav")))

    assert len(utterances(events)) == expected
    # Every utterance is announced first, and each start is followed by its end.
    assert [type(e) for e in events] == [SpeechStarted, UtteranceEnded] * expected


@pytest.mark.parametrize(("end_silence_ms", "expected"), [(700, 2), (900, 1)])
def test_jfk_pause_after_americans(end_silence_ms: int, expected: int) -> None:
    found = utterances(run(TurnDetector(end_silence_ms=end_silence_ms), phone_frames(*shared_audio("jfk.flac"))))

    assert len(found) == expected
    assert not any(u.truncated for u in found)
    assert sum(u.duration_ms for u in found) > 10_000


@pytest.mark.parametrize(
    ("text", "language"), [("I want to speak to an agent", "en"), ("ich möchte mit einem Mitarbeiter sprechen", "de")]
)
def test_espeak_sentence_is_one_utterance_with_preroll(text: str, language: str) -> None:
    samples, rate = espeak_cli(text, language)
    found = utterances(run(TurnDetector(), phone_frames(samples, rate)))

    assert len(found) == 1
    utterance = found[0]
    assert utterance.duration_ms == len(utterance.pcm16) // 16
    # The sentence, the 200 ms preroll and the 700 ms of silence that ended it.
    assert len(samples) / rate * 1000 < utterance.duration_ms < len(samples) / rate * 1000 + 1200


def test_silence_starts_nothing() -> None:
    assert run(TurnDetector(), phone_frames(np.zeros(8000 * 3, np.float32), 8000)) == []


def test_line_hiss_makes_no_utterance() -> None:
    rng = np.random.default_rng(3)
    hiss = (rng.standard_normal(8000 * 5) * 10 ** (-50 / 20)).astype(np.float32)

    # VAD may flag the onset of the hiss before it adapts (one SpeechStarted), never a whole turn.
    assert utterances(run(TurnDetector(), phone_frames(hiss, 8000))) == []


def test_long_speech_is_cut_at_max_utterance() -> None:
    found = utterances(run(TurnDetector(max_utterance_ms=2000), phone_frames(*shared_audio("jfk.flac"))))

    assert found[0].truncated
    assert all(u.duration_ms == 2000 for u in found if u.truncated)
    assert not all(u.truncated for u in found)


@pytest.mark.parametrize(("blip_ms", "kept"), [(80, False), (300, True)])
def test_blip_shorter_than_min_speech_is_dropped(blip_ms: int, kept: bool) -> None:
    # WebRTC's VAD flags about 80 ms past the end of a sound: 80 ms of "one" gives 8 voiced frames.
    samples, rate = shared_audio("one_two_three.wav")
    onset = np.flatnonzero(np.abs(samples) > 0.05)[0]
    blip = samples[onset : onset + int(blip_ms / 1000 * rate)]

    events = run(TurnDetector(min_speech_ms=200), phone_frames(blip, rate))

    assert events[0] == SpeechStarted()
    assert len(utterances(events)) == (1 if kept else 0)


def test_reset_forgets_a_turn_in_progress() -> None:
    frames = phone_frames(*shared_audio("one_two_three.wav"))
    detector = TurnDetector()
    first_start = next(i for i, frame in enumerate(frames) if isinstance(detector.push(frame), SpeechStarted))

    detector.reset()
    # "one" is mostly heard by now; what follows still makes an utterance, but without "one" in it.
    rest = utterances(run(detector, frames[first_start + 20 :]))

    assert len(rest) == 1
    assert rest[0].duration_ms < len(frames[first_start:]) * 20


@pytest.mark.parametrize("size", [0, 160, PCM16_FRAME_BYTES - 1, PCM16_FRAME_BYTES + 1, 640])
def test_wrong_frame_size_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="320 bytes"):
        TurnDetector().push(bytes(size))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"end_silence_ms": 0},
        {"end_silence_ms": 710},
        {"vad_aggressiveness": 4},
        {"min_speech_ms": -20},
        {"preroll_ms": 30},
        {"start_frames": 0},
        {"max_utterance_ms": 200},
        {"pause_ms": 0},
        {"pause_ms": 210},
        {"pause_ms": 700},
    ],
)
def test_bad_settings_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        TurnDetector(**kwargs)


def test_pauses_are_reported_within_the_turn_and_the_fallback_still_ends_it() -> None:
    frames = phone_frames(*shared_audio("jfk.flac"), silence_after_s=2)
    events = run(TurnDetector(end_silence_ms=1500, pause_ms=200), frames)

    # jfk's two pauses (840 and 540 ms) and the silence at its end, then the end of the one turn.
    assert [type(e) for e in events] == [SpeechStarted, PauseBegan, PauseBegan, PauseBegan, UtteranceEnded]
    pauses = [e for e in events if isinstance(e, PauseBegan)]
    assert len(pauses[0].pcm16) < len(pauses[1].pcm16) < len(pauses[2].pcm16)
    ended = utterances(events)[0]
    assert ended.pcm16.startswith(pauses[2].pcm16)
    assert len(ended.pcm16) - ended.speech_bytes == 1500 * 16


def test_a_turn_ended_at_a_pause_is_the_audio_so_far() -> None:
    detector = TurnDetector(end_silence_ms=3000, pause_ms=200)
    for frame in phone_frames(*shared_audio("jfk.flac")):
        event = detector.push(frame)
        if isinstance(event, PauseBegan):
            break
    assert detector.silence_ms == 200

    ended = detector.end_turn()

    assert ended is not None and ended.pcm16 == event.pcm16 and not ended.truncated
    assert ended.speech_bytes == len(ended.pcm16) - 200 * 16
    assert not detector.in_utterance and detector.end_turn() is None
