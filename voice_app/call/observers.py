"""Observers of a call: they hear what the executor did and measure or report it, without taking part. Each one
is told every observation and picks those it cares about, so a new measurement is a new observer, not a change
to the executor.

An observer whose failure must not end the caller's conversation (a lost measurement, a broken operator feed)
catches its own errors. The notice evidence does not: a call whose proof of the notice cannot be stored goes to
a person, like any other failure of the executor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from consent.ledger import Decision, Method
from voice_app import calls
from voice_app.accounts.directory import AccountDirectory, AccountSummary, CustomerRef
from voice_app.call import records
from voice_app.call.inputs import PromptStarted
from voice_app.dialogue.messages import Say
from voice_app.models import Call, CallOutcome, HandoffReason
from voice_app.observability import metrics
from voice_app.services import Services
from voice_app.speech.stt import Transcript


@dataclass(frozen=True)
class UtteranceTaken:
    """The executor begins answering an utterance that ended at `ended_at` (time.monotonic())."""

    ended_at: float
    end_of_turn_seconds: float = 0.0  # from the caller's last voiced frame until the turn was declared over


@dataclass(frozen=True)
class Heard:
    transcript: Transcript
    seconds: float  # how long the turn waited for its transcript once it was over
    at: datetime


@dataclass(frozen=True)
class Understood:
    """The dialogue decided what to do about what the caller said."""

    seconds: float  # account lookups included
    account_lookup_seconds: float


@dataclass(frozen=True)
class Said:
    say: Say
    at: datetime
    synthesis_seconds: float = 0.0
    queued_at: float = 0.0  # time.monotonic() when its audio went to the player


@dataclass(frozen=True)
class TurnStored:
    turn_id: int | None  # None when the turn was not kept (no consent)


@dataclass(frozen=True)
class UtteranceAnswered:
    """Everything the dialogue did about the utterance is done (its prompts may still be playing)."""


@dataclass(frozen=True)
class PromptHeard:
    """The caller heard the prompt to its end; its mark came back at `at`."""

    say: Say
    at: datetime


@dataclass(frozen=True)
class ConsentRecorded:
    decision: Decision
    method: Method
    at: datetime


@dataclass(frozen=True)
class CallEnded:
    outcome: CallOutcome
    reason: HandoffReason | None
    at: datetime


@dataclass(frozen=True)
class CallFailed:
    reason: HandoffReason


Observation = (
    UtteranceTaken
    | Heard
    | Understood
    | Said
    | TurnStored
    | UtteranceAnswered
    | PromptStarted
    | PromptHeard
    | ConsentRecorded
    | CallEnded
    | CallFailed
)

log = logging.getLogger(__name__)


class Observer(Protocol):
    def observe(self, observation: Observation) -> None: ...


class Observers:
    def __init__(self, observers: list[Observer]) -> None:
        self._observers = list(observers)

    def add(self, observers: list[Observer]) -> None:
        self._observers.extend(observers)

    def observe(self, observation: Observation) -> None:
        for observer in self._observers:
            observer.observe(observation)


class TimedAccounts:
    """A call's account directory that adds up how long its look-ups take, so that an answer's time in account
    lookup can be told apart from the rest of understanding. Used by one call's executor thread."""

    def __init__(self, directory: AccountDirectory) -> None:
        self.directory = directory
        self._seconds = 0.0

    def take_seconds(self) -> float:
        """The look-up time since the last call of this."""
        seconds, self._seconds = self._seconds, 0.0
        return seconds

    def find_by_phone(self, e164: str) -> CustomerRef | None:
        with self._clock():
            return self.directory.find_by_phone(e164)

    def find_by_customer_number(self, number: str) -> CustomerRef | None:
        with self._clock():
            return self.directory.find_by_customer_number(number)

    def verify(self, customer_id: str, *, date_of_birth: date | None = None, postcode: str | None = None) -> bool:
        with self._clock():
            return self.directory.verify(customer_id, date_of_birth=date_of_birth, postcode=postcode)

    def summary(self, customer_id: str) -> AccountSummary:
        with self._clock():
            return self.directory.summary(customer_id)

    def pause_invoice(self, customer_id: str, invoice_id: str, *, until: date) -> date:
        with self._clock():
            return self.directory.pause_invoice(customer_id, invoice_id, until=until)

    @contextmanager
    def _clock(self) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self._seconds += time.monotonic() - started


class MetricsObserver:
    """The Prometheus side of a call: transcription time and failures (answer latency is `AnswerLatency`'s)."""

    def observe(self, observation: Observation) -> None:
        match observation:
            case Heard():
                metrics.transcribed(observation.seconds)
            case CallFailed():
                metrics.error(observation.reason.value)


class ConversationFeed:
    """What an operator watching the call sees (`voice-app call`, the demo): said, heard, decided."""

    def __init__(self, services: Services, call_sid: str) -> None:
        self.services = services
        self.call_sid = call_sid

    def observe(self, observation: Observation) -> None:
        match observation:
            case Heard(transcript=heard):
                self._tell(
                    "heard", f"{heard.text!r} ({heard.language}, confidence {heard.confidence:.2f})", observation.at
                )
            case Said():
                self._tell("bot", observation.say.text, observation.at)
            case ConsentRecorded():
                self._tell("consent", f"{observation.decision.value} by {observation.method.value}", observation.at)
            case CallEnded(outcome=outcome, reason=reason):
                self._tell("end", f"{outcome.value}{f' ({reason.value})' if reason else ''}", observation.at)

    def _tell(self, kind: str, text: str, at: datetime) -> None:
        self.services.observe(self.call_sid, kind, text, at)


@dataclass
class _AwaitedReply:
    ended_at: float
    turn_id: int | None = None
    timed: bool = False  # its first prompt is being timed
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage (models.STAGES)
    queued_at: float | None = None


class AnswerLatency:
    """From the caller's last word to the first audio of the reply: the first prompt said while an utterance is
    answered is timed, and kept with the turn it answered (when consent let that turn be kept)."""

    def __init__(self, services: Services, call: Call) -> None:
        self.services = services
        self.call_id = calls.id_of(call)
        self._awaited: _AwaitedReply | None = None
        self._timed_prompts: dict[str, _AwaitedReply] = {}

    def observe(self, observation: Observation) -> None:
        match observation:
            case UtteranceTaken():
                self._awaited = _AwaitedReply(
                    observation.ended_at, stages={"end_of_turn": observation.end_of_turn_seconds}
                )
            case Heard() if self._awaited is not None:
                self._awaited.stages["transcription"] = observation.seconds
            case Understood() if self._awaited is not None:
                self._awaited.stages["understanding"] = observation.seconds
                self._awaited.stages["account_lookup"] = observation.account_lookup_seconds
            case TurnStored() if self._awaited is not None:
                self._awaited.turn_id = observation.turn_id
            case Said() if self._awaited is not None and not self._awaited.timed:
                self._awaited.timed = True
                self._awaited.stages["synthesis"] = observation.synthesis_seconds
                self._awaited.queued_at = observation.queued_at
                self._timed_prompts[observation.say.prompt_id] = self._awaited
            case UtteranceAnswered():
                self._awaited = None
            case PromptStarted() if observation.prompt_id in self._timed_prompts:
                self._record(self._timed_prompts.pop(observation.prompt_id), observation.sent_at)

    def _record(self, reply: _AwaitedReply, sent_at: float) -> None:
        latency_seconds = sent_at - reply.ended_at
        if reply.queued_at is not None:
            reply.stages["first_frame"] = max(0.0, sent_at - reply.queued_at)
        metrics.answered(latency_seconds)
        metrics.turn_stages(reply.stages)
        try:
            calls.record_answer_latency(
                self.services.engine,
                self.call_id,
                round(latency_seconds * 1000),
                reply.turn_id,
                {stage: round(seconds * 1000) for stage, seconds in reply.stages.items()},
            )
        except Exception:  # a lost measurement must not end the caller's conversation
            log.exception("call %s: answer latency not stored", self.call_id)


class NoticeEvidence:
    """Proof that the disclosure and the consent notice were played to their end, naming the exact version."""

    def __init__(self, services: Services, call: Call) -> None:
        self.services = services
        self.call = call

    def observe(self, observation: Observation) -> None:
        if isinstance(observation, PromptHeard):
            records.record_notice_played(
                self.services.engine, self.services.notices, self.call, observation.say, at=observation.at
            )


def call_observers(services: Services, call: Call) -> list[Observer]:
    """The observers of one call once its stream has started (metrics are observed from before the start)."""
    return [NoticeEvidence(services, call), AnswerLatency(services, call), ConversationFeed(services, call.call_sid)]
