"""A voice message being recorded, as a pure state machine: the caller's audio from the tone on in, how the message
ended out, and the audio worth keeping. No socket, no database, the time given in: `voicemail_session` reads the
stream, plays the instructions and stores what this keeps.

The message ends at the hash key, at the longest message, after a few seconds of silence once the caller has
spoken, or with no word at all for a while; a caller who hangs up ends it too (the session knows that).
"""

from __future__ import annotations

from telephony.audio import FRAME_MS, MULAW_FRAME_BYTES, mulaw_to_pcm16, split_frames
from voice_app.speech.turns import SpeechStarted, TurnDetector, UtteranceEnded

FRAMES_PER_SECOND = 1000 // FRAME_MS
# Audio kept before the first word and after the last one, so that neither is clipped.
MARGIN_FRAMES = 15  # 300 ms
PREROLL_MS = 200  # TurnDetector's default: the audio before speech was recognised as such
START_FRAMES = 3
HASH_KEY = "#"


class VoiceMessage:
    def __init__(
        self,
        *,
        end_silence_seconds: float,
        max_seconds: int,
        no_message_seconds: float,
        vad_aggressiveness: int,
        min_speech_ms: int,
    ) -> None:
        self.end_silence_frames = max(1, round(end_silence_seconds * FRAMES_PER_SECOND))
        self.max_frames = max_seconds * FRAMES_PER_SECOND
        self.no_message_frames = round(no_message_seconds * FRAMES_PER_SECOND)
        self.turns = TurnDetector(
            end_silence_ms=self.end_silence_frames * FRAME_MS,
            vad_aggressiveness=vad_aggressiveness,
            min_speech_ms=min_speech_ms,
            max_utterance_ms=(max_seconds + 1) * 1000,  # the length limit is ours, not the detector's
            preroll_ms=PREROLL_MS,
            start_frames=START_FRAMES,
        )
        self.recording = False
        self.tone_due: float | None = None  # when recording starts even if Twilio never echoes the tone's mark
        self.frames: list[bytes] = []  # 20 ms of caller audio each, from the end of the tone
        self.speech_from: int | None = None  # first frame of the first speech, with its preroll
        self.speech_until: int | None = None  # last voiced frame, when silence ended the message
        self.quiet_from = 0  # where the wait for a first word (re)starts: the tone, or the end of a blip

    def tone_queued(self, due: float) -> None:
        """The tone is on its way; by `due` (time.monotonic()) it has played, whether or not its mark comes back."""
        self.tone_due = due

    def tone_played(self) -> None:
        if not self.recording:
            self._begin()

    def media(self, inbound: bool, mulaw: bytes, now: float) -> str | None:
        """Audio of the stream; how the message ended, once it has."""
        if not self.recording and self.tone_due is not None and now >= self.tone_due:
            self._begin()
        if not inbound or not self.recording:
            return None
        for frame in split_frames(mulaw):
            ended_by = self._record(frame)
            if ended_by:
                return ended_by
        return None

    def key(self, digit: str) -> str | None:
        return "hash_key" if self.recording and digit == HASH_KEY else None

    def kept(self, ended_by: str) -> bytes | None:
        """The message to store, from just before the first word to just after the last; None if nothing was said."""
        if ended_by == "no_message" or self.speech_from is None:
            return None
        start = max(0, self.speech_from - MARGIN_FRAMES)
        last = len(self.frames) if self.speech_until is None else self.speech_until + MARGIN_FRAMES
        return b"".join(self.frames[start : min(len(self.frames), last)])

    def _begin(self) -> None:
        self.recording = True
        self.turns.reset()

    def _record(self, frame: bytes) -> str | None:
        assert len(frame) == MULAW_FRAME_BYTES
        self.frames.append(frame)
        index = len(self.frames)
        was_in_utterance = self.turns.in_utterance
        turn = self.turns.push(mulaw_to_pcm16(frame))
        if isinstance(turn, SpeechStarted):
            if self.speech_from is None:
                self.speech_from = max(0, index - START_FRAMES - PREROLL_MS // FRAME_MS)
        elif isinstance(turn, UtteranceEnded):
            self.speech_until = index - self.end_silence_frames
            return "silence"
        elif was_in_utterance and not self.turns.in_utterance:
            self.quiet_from = index  # a cough or a click, not a message: wait for words again from here
        if index >= self.max_frames:
            return "max_length"
        if not self.turns.in_utterance and index - self.quiet_from >= self.no_message_frames:
            return "no_message"
        return None
