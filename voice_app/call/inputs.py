"""What a call's executor takes from its queue besides the dialogue's own events: turns from the reader, the
player's report that a prompt began, and requests to end the call's stream."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from voice_app.dialogue.messages import CallStarted, DigitPressed, PromptFinished
from voice_app.models import HandoffReason


@dataclass(frozen=True)
class SpeechBegan:
    """The caller started talking (turn detection on the reader's thread). `talked_over_at`: when this cut a playing
    prompt short (barge-in), which the dialogue counts."""

    talked_over_at: datetime | None = None


@dataclass(frozen=True)
class TurnPaused:
    """The caller paused within a turn: its audio so far may be transcribed before the turn is known to be over."""

    pcm16: bytes
    pause: int = 0  # numbers the pauses of a call, so that a judgement of the words reaches the pause it is about


@dataclass(frozen=True)
class EarlyTranscriptReady:
    """The transcript started at pause number `pause` is ready (told by the recognition's thread)."""

    pause: int


@dataclass(frozen=True)
class Utterance:
    pcm16: bytes
    ended_at: float  # time.monotonic() when turn detection closed it
    speech_bytes: int = 0  # how much of pcm16 runs up to the caller's last voiced frame
    end_of_turn_seconds: float = 0.0  # from the caller's last voiced frame until the turn was declared over


@dataclass(frozen=True)
class PromptStarted:
    """The first frame of a prompt went to Twilio (told by the player's thread)."""

    prompt_id: str
    sent_at: float  # time.monotonic()


@dataclass(frozen=True)
class StopAsked:
    """Wakes an executor waiting for input: a stop request is waiting for it."""


CallInput = (
    CallStarted
    | DigitPressed
    | PromptFinished
    | SpeechBegan
    | TurnPaused
    | EarlyTranscriptReady
    | Utterance
    | PromptStarted
    | StopAsked
)


@dataclass(frozen=True)
class StreamEnded:
    """The stream is over (Twilio's stop, a closed socket, the session shutting down): stop at once."""


@dataclass(frozen=True)
class StreamFailed:
    """The stream broke: the caller goes to a person."""

    reason: HandoffReason


@dataclass(frozen=True)
class HandOverRequested:
    """Another thread (the server's drain) ends the call: the caller goes to a person."""

    reason: HandoffReason


# Not queued behind the caller's turns: the executor checks for one before it takes the next input.
StopRequest = StreamEnded | StreamFailed | HandOverRequested
