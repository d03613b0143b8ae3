"""The voice message being recorded, with frames and a given clock alone: when recording starts and how it ends."""

from __future__ import annotations

from telephony.audio import MULAW_FRAME_BYTES
from voice_app.call.voice_message import VoiceMessage

SILENT_FRAME = b"\xff" * MULAW_FRAME_BYTES


def message(max_seconds=120, no_message_seconds=2.0) -> VoiceMessage:
    return VoiceMessage(
        end_silence_seconds=4.0,
        max_seconds=max_seconds,
        no_message_seconds=no_message_seconds,
        vad_aggressiveness=2,
        min_speech_ms=200,
    )


def test_nothing_counts_before_the_tone():
    recording = message()
    assert recording.media(True, SILENT_FRAME * 200, now=0.0) is None and recording.frames == []
    assert recording.key("#") is None


def test_recording_starts_with_the_tones_mark_or_when_it_is_due():
    by_mark, by_time = message(), message()
    by_mark.tone_played()
    assert by_mark.recording
    by_time.tone_queued(due=5.0)
    by_time.media(True, SILENT_FRAME, now=4.9)
    assert not by_time.recording
    by_time.media(False, SILENT_FRAME, now=5.0)  # any frame of the stream, the assistant's own too
    assert by_time.recording and by_time.frames == []


def test_silence_from_the_tone_on_leaves_no_message():
    recording = message(no_message_seconds=2.0)
    recording.tone_played()
    ended = [recording.media(True, SILENT_FRAME, now=0.0) for _ in range(100)]
    assert ended.index("no_message") == 99 and recording.kept("no_message") is None


def test_the_hash_key_and_the_longest_message_end_it():
    recording = message(max_seconds=1, no_message_seconds=5.0)
    recording.tone_played()
    assert recording.key("5") is None and recording.key("#") == "hash_key"
    ended = [recording.media(True, SILENT_FRAME, now=0.0) for _ in range(50)]
    assert ended[-1] == "max_length" and ended.count(None) == 49
    assert recording.kept("max_length") is None, "nothing was said"
