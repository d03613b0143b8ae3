"""End-of-turn detection: when has the caller started and stopped speaking?

Input is the phone stream as 20 ms frames of 8 kHz PCM16 (320 bytes), classified by WebRTC's VAD.
Speech starts after `start_frames` voiced frames in a row (so a click does not start a turn); the
utterance then includes `preroll_ms` of audio before them, because VAD notices a word a little
after its soft onset. The turn ends after `end_silence_ms` without a voiced frame. With `pause_ms` set, a
shorter silence first reports a `PauseBegan` with the turn so far, so that someone else (a turn-completion model)
may end the turn at once with `end_turn()`; `end_silence_ms` is then the fallback. Utterances with
less than `min_speech_ms` of voiced frames (coughs, line clicks) are dropped without an event, and
one that runs past `max_utterance_ms` is cut there and marked truncated.

Tuning, measured with tests/speech/test_turns.py's material, all through 8 kHz mu-law:
- Pauses as VAD (aggressiveness 2) sees them: one_two_three.wav ("one, two, three") 500 ms and
  420 ms; jfk.flac 840 ms after "Americans", 540 ms later on.
- Utterances per end_silence_ms: one_two_three 3 (300-400), 2 (500), 1 (600 and more);
  jfk 3 (300-500), 2 (600-800), 1 (900); espeak-ng sentences in English and German 1 at every
  setting (espeak pauses only between sentences).
- 700 ms keeps a caller's half-second hesitation inside the turn and answers 0.7 s after they stop;
  the 840 ms pause in jfk does end a turn, which the dialogue has to live with (or raise this).
- Aggressiveness 2 flagged no frame in 5 s of white noise at -55 to -45 dBFS and 23 of 250 at
  -40 dBFS; 3 flagged none at -40 dBFS but shortened "three" from 620 to 440 ms of voiced frames.
- WebRTC's VAD keeps flagging about 80 ms after a sound ends: 80 ms of speech gives 8 voiced frames,
  so min_speech_ms=200 drops sounds shorter than about 120 ms (measured: 100 ms dropped, 120 kept).
- The onset of steady line hiss can be flagged for a few frames before VAD adapts: a SpeechStarted
  can come without an UtteranceEnded.
- That hangover is 100 ms (5 frames) after the last frame carrying sound, even when digital silence follows
  (measured on the espeak-ng consent answer and questions and on jfk.flac; 100-120 ms where a quiet fade follows).
  A pause measured from the last voiced frame therefore begins 100 ms after the caller stopped. With
  `quiet_below_peak_db` set, a voiced frame that much quieter than the loudest frame of the turn counts as silence,
  so that a pause is measured from the end of the sound (the 200 ms pause after which the turn-completion model is
  asked, as its makers pair it with a VAD without such a hangover). QUIET_BELOW_PEAK_DB = 35 ends the pause 0-3
  frames after the last frame carrying sound (the benchmark's caller counts sound down to 30 dB below the peak) and
  finds no pause the VAD alone does not (jfk.flac, one_two_three.wav, the espeak-ng turns); 25 dB found three more
  in jfk.flac, between its words.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

from telephony.audio import FRAME_MS, PCM16_FRAME_BYTES, PHONE_RATE

_BYTES_PER_MS = PHONE_RATE * 2 // 1000
QUIET_BELOW_PEAK_DB = 35.0


@dataclass(frozen=True)
class SpeechStarted:
    """The caller has begun to speak. Not always followed by UtteranceEnded: a blip is dropped."""


@dataclass(frozen=True)
class PauseBegan:
    """The caller has been silent for `pause_ms` within a turn that has not ended yet."""

    pcm16: bytes  # the turn so far, 8 kHz PCM16 from the preroll up to now


@dataclass(frozen=True)
class UtteranceEnded:
    pcm16: bytes  # 8 kHz PCM16 from the preroll up to the end of the trailing silence
    duration_ms: int
    truncated: bool  # cut at max_utterance_ms while the caller was still speaking
    speech_bytes: int = 0  # how much of pcm16 runs up to the last voiced frame; the rest is trailing silence


TurnEvent = SpeechStarted | PauseBegan | UtteranceEnded


class TurnDetector:
    """Feeds on 20 ms frames of one call's inbound audio; not shared between calls or threads."""

    def __init__(
        self,
        *,
        end_silence_ms: int = 700,
        vad_aggressiveness: int = 2,
        min_speech_ms: int = 200,
        max_utterance_ms: int = 15000,
        preroll_ms: int = 200,
        start_frames: int = 3,
        pause_ms: int | None = None,
        quiet_below_peak_db: float | None = None,
    ) -> None:
        for name, value in (
            ("end_silence_ms", end_silence_ms),
            ("min_speech_ms", min_speech_ms),
            ("max_utterance_ms", max_utterance_ms),
            ("preroll_ms", preroll_ms),
        ):
            if value < 0 or value % FRAME_MS:
                raise ValueError(f"{name} must be a non-negative multiple of {FRAME_MS} ms, got {value}")
        if end_silence_ms == 0:
            raise ValueError("end_silence_ms must be positive")
        if pause_ms is not None and not (0 < pause_ms < end_silence_ms and pause_ms % FRAME_MS == 0):
            raise ValueError(
                f"pause_ms must be a positive multiple of {FRAME_MS} ms shorter than end_silence_ms, got {pause_ms}"
            )
        if not 0 <= vad_aggressiveness <= 3:
            raise ValueError(f"vad_aggressiveness must be 0..3, got {vad_aggressiveness}")
        if start_frames < 1:
            raise ValueError(f"start_frames must be >= 1, got {start_frames}")
        longest_start = preroll_ms + start_frames * FRAME_MS
        if max_utterance_ms <= max(longest_start, min_speech_ms):
            raise ValueError(
                f"max_utterance_ms ({max_utterance_ms}) must exceed preroll plus start frames "
                f"({longest_start} ms) and min_speech_ms ({min_speech_ms})"
            )
        if quiet_below_peak_db is not None and not quiet_below_peak_db > 0:
            raise ValueError(f"quiet_below_peak_db must be positive, got {quiet_below_peak_db}")
        self._quiet_below_peak_db = quiet_below_peak_db
        self._vad = webrtcvad.Vad(vad_aggressiveness)
        self._end_silence_frames = end_silence_ms // FRAME_MS
        self._pause_frames = pause_ms // FRAME_MS if pause_ms is not None else None
        self._min_speech_frames = min_speech_ms // FRAME_MS
        self._max_frames = max_utterance_ms // FRAME_MS
        self._start_frames = start_frames
        self._recent: deque[bytes] = deque(maxlen=preroll_ms // FRAME_MS + start_frames)
        self.reset()

    def reset(self) -> None:
        """Forgets everything heard so far, including a turn in progress."""
        self._recent.clear()
        self._voiced_run = 0
        self._utterance: list[bytes] | None = None
        self._voiced_frames = 0
        self._silent_run = 0
        self._peak_db = -math.inf  # the loudest frame of the turn in progress

    @property
    def in_utterance(self) -> bool:
        """Speech has started and its turn has neither ended nor been dropped as a blip yet."""
        return self._utterance is not None

    @property
    def silence_ms(self) -> int:
        """How long the caller has been silent within the turn in progress (0 outside a turn)."""
        return self._silent_run * FRAME_MS if self._utterance is not None else 0

    def push(self, pcm16_frame: bytes) -> TurnEvent | None:
        if len(pcm16_frame) != PCM16_FRAME_BYTES:
            raise ValueError(
                f"expected one {FRAME_MS} ms frame of 8 kHz PCM16 ({PCM16_FRAME_BYTES} bytes), got {len(pcm16_frame)}"
            )
        voiced = self._vad.is_speech(pcm16_frame, PHONE_RATE)
        if self._utterance is None:
            return self._listen(pcm16_frame, voiced)
        return self._follow(pcm16_frame, voiced)

    def _listen(self, frame: bytes, voiced: bool) -> TurnEvent | None:
        self._recent.append(frame)
        self._voiced_run = self._voiced_run + 1 if voiced else 0
        if self._voiced_run < self._start_frames:
            return None
        self._utterance = list(self._recent)
        self._voiced_frames = self._voiced_run
        self._silent_run = 0
        self._recent.clear()
        self._voiced_run = 0
        return SpeechStarted()

    def _follow(self, frame: bytes, voiced: bool) -> TurnEvent | None:
        assert self._utterance is not None
        self._utterance.append(frame)
        if voiced:
            self._voiced_frames += 1
        if voiced and not self._quiet(frame):
            self._silent_run = 0
        else:
            self._silent_run += 1
        if self._silent_run >= self._end_silence_frames:
            return self._end(truncated=False)
        if len(self._utterance) >= self._max_frames:
            return self._end(truncated=True)
        if self._silent_run == self._pause_frames:
            return PauseBegan(b"".join(self._utterance))
        return None

    def _quiet(self, frame: bytes) -> bool:
        """Whether a voiced frame is so much quieter than the turn's loudest that it is the VAD's hangover."""
        if self._quiet_below_peak_db is None:
            return False
        samples = np.frombuffer(frame, np.int16).astype(np.float32)
        level_db = 10 * math.log10(float(np.mean(samples * samples)) + 1.0)
        self._peak_db = max(self._peak_db, level_db)
        return level_db < self._peak_db - self._quiet_below_peak_db

    def end_turn(self) -> UtteranceEnded | None:
        """Ends the turn in progress now (it was judged complete during a pause); None if there is none, or if it
        was too short to be one."""
        if self._utterance is None:
            return None
        return self._end(truncated=False)

    def _end(self, *, truncated: bool) -> UtteranceEnded | None:
        assert self._utterance is not None
        pcm16 = b"".join(self._utterance)
        speech_bytes = len(pcm16) - self._silent_run * PCM16_FRAME_BYTES
        long_enough = self._voiced_frames >= self._min_speech_frames
        self.reset()
        if not long_enough:
            return None
        return UtteranceEnded(
            pcm16=pcm16, duration_ms=len(pcm16) // _BYTES_PER_MS, truncated=truncated, speech_bytes=speech_bytes
        )
