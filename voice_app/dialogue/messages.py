"""What the dialogue hears (events) and what it asks for (actions). Plain data, no audio, no sockets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from consent.ledger import Decision, Method
from voice_app.models import CallOutcome, HandoffReason

# Events --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallStarted:
    at: datetime


@dataclass(frozen=True)
class PromptFinished:
    """The caller has heard the prompt to its end (or it was cut by barge-in)."""

    prompt_id: str
    at: datetime


@dataclass(frozen=True)
class CallerSpoke:
    text: str
    language: str
    language_probability: float
    confidence: float
    at: datetime


@dataclass(frozen=True)
class DigitPressed:
    digit: str
    at: datetime


@dataclass(frozen=True)
class SilenceElapsed:
    """The caller said nothing for the configured time after a question."""

    at: datetime


@dataclass(frozen=True)
class CallerInterrupted:
    """The caller started talking while an interruptible prompt was playing (barge-in). The dialogue counts
    these: a caller who talks over the assistant again and again goes to a person."""

    at: datetime


Event = CallStarted | PromptFinished | CallerSpoke | DigitPressed | SilenceElapsed | CallerInterrupted


# Actions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    prompt_id: str
    text: str
    language: str
    interruptible: bool
    evidence: str | None = None  # "disclosure" or "notice": logged as proof once fully played


@dataclass(frozen=True)
class RecordConsent:
    decision: Decision
    method: Method
    language: str
    recognised_answer: str | None
    prompt_count: int
    notice_played_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True)
class StoreTurn:
    """Only ever emitted after consent was granted."""

    transcript: str
    confidence: float
    language: str
    intent: str
    intent_confidence: float
    route: str
    reply: str


@dataclass(frozen=True)
class EndCall:
    """Close the stream once the prompts before it have been heard; the outcome decides the TwiML."""

    outcome: CallOutcome
    reason: HandoffReason | None
    topic: str | None = None  # the intent behind a handoff, for the agent


@dataclass(frozen=True)
class PauseInvoice:
    """Pause the verified caller's invoice until `until` (a return the merchant has not registered yet), after the
    caller confirmed it. Stored in the account and as a call event, like any change made on a call."""

    customer_id: str
    invoice_id: str
    until: date


@dataclass(frozen=True)
class StopPlaying:
    """Stop what is playing now and drop what is queued (Twilio's `clear`): none of it counts as heard."""


Action = Say | RecordConsent | StoreTurn | EndCall | PauseInvoice | StopPlaying
