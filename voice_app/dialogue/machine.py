"""The per-call conversation: greet and disclose, ask for consent, then help (assistance.py) or hand over.

A plain state machine over events that returns actions; the media session turns audio and the wire
protocol into these events and carries out the actions. Nothing here touches audio, sockets or the clock;
account data comes through the account directory it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from consent.ledger import Decision, Method
from voice_app.accounts.directory import AccountDirectory, CustomerRef
from voice_app.dialogue.assistance import DEFAULT_RETURN_PAUSE_DAYS, Asking, Assistance
from voice_app.dialogue.keypad import AGENT_DIGIT, CONSENT_DIGITS
from voice_app.dialogue.messages import (
    Action,
    CallerInterrupted,
    CallerSpoke,
    CallStarted,
    DigitPressed,
    EndCall,
    Event,
    PromptFinished,
    RecordConsent,
    Say,
    SilenceElapsed,
    StopPlaying,
)
from voice_app.dialogue.prompts import Prompt
from voice_app.dialogue.speaker import Speaker
from voice_app.models import CallOutcome, HandoffReason
from voice_app.understanding.intents import IntentClassifier
from voice_app.understanding.short_answers import ShortAnswer, consent_answer

# Switching language on one short utterance needs a confident detection; a wrong switch would replay the
# whole notice in a language the caller does not speak.
LANGUAGE_SWITCH_MIN_PROBABILITY = 0.8
MAX_LANGUAGE_SWITCHES = 1


@dataclass(frozen=True)
class NoticeTexts:
    disclosure: str
    consent: str


class State(StrEnum):
    NEW = "new"
    NOTICE_PLAYING = "notice_playing"  # disclosure and consent notice; cannot be interrupted
    AWAITING_CONSENT = "awaiting_consent"
    CONVERSATION = "conversation"
    ENDING = "ending"


class Dialogue:
    def __init__(
        self,
        language: str,
        notices: Mapping[str, NoticeTexts],
        *,
        min_transcript_confidence: float,
        classifier: IntentClassifier,
        accounts: AccountDirectory,
        caller: CustomerRef | None,
        today: date,
        caller_number: str | None = None,
        return_pause_days: int = DEFAULT_RETURN_PAUSE_DAYS,
    ):
        if language not in notices:
            raise ValueError(f"no notice texts for language {language!r}")
        self.language = language
        self.notices = notices
        self.min_transcript_confidence = min_transcript_confidence
        self.state = State.NEW
        self.consent_granted = False
        self.speaker = Speaker()
        self.assistance = Assistance(
            self.speaker,
            classifier,
            accounts,
            caller,
            today,
            self._withdrawal,
            caller_number=caller_number,
            return_pause_days=return_pause_days,
        )
        self._notice_prompt_id: str | None = None
        self._last_reply_id: str | None = None  # the last thing the assistant said, to know when it was heard
        self._notice_played_at: datetime | None = None
        self._consent_prompts = 0
        self._consent_misses = 0
        self._language_switches = 0

    @property
    def listening(self) -> bool:
        """Whether the caller's speech is to be transcribed now. Never during the notice, never after the end."""
        return self.state in (State.AWAITING_CONSENT, State.CONVERSATION)

    @property
    def language_open(self) -> bool:
        """Whether the caller may still turn out to speak the other language. Detecting it costs a second
        pass over the audio, so it is only done at the consent question, the caller's first answer."""
        return self.state == State.AWAITING_CONSENT

    @property
    def expects_short_answer(self) -> bool:
        """Whether the last question asked for consent or a plain yes or no, so a turn of one word is likely.
        ("Anything else?" is not one: its answer is often the next request.)"""
        return self.state == State.AWAITING_CONSENT or (
            self.state == State.CONVERSATION and self.assistance.asking is Asking.MORE_ITEMS
        )

    def handle(self, event: Event) -> list[Action]:
        if self.state == State.ENDING:
            return []
        actions = self._handle(event)
        replies = [action for action in actions if isinstance(action, Say)]
        if replies:
            self._last_reply_id = replies[-1].prompt_id
        if self.assistance.ended:
            self.state = State.ENDING
        return actions

    def _handle(self, event: Event) -> list[Action]:
        match event:
            case CallStarted():
                return self._start()
            case PromptFinished(prompt_id=prompt_id, at=at):
                return self._prompt_finished(prompt_id, at)
            case DigitPressed():
                return self._digit(event)
            case CallerSpoke():
                return self._spoke(event)
            case SilenceElapsed():
                return self._silence(event)
            case CallerInterrupted():
                return self.assistance.interrupted(self.language) if self.state == State.CONVERSATION else []
        raise TypeError(f"unknown dialogue event {event!r}")

    # -- phases ----------------------------------------------------------------------------------

    def _start(self) -> list[Action]:
        if self.state != State.NEW:
            return []
        texts = self.notices[self.language]
        return [self._say_text(texts.disclosure, interruptible=False, evidence="disclosure"), *self._play_notice()]

    def _play_notice(self) -> list[Action]:
        self.state = State.NOTICE_PLAYING
        self._consent_prompts += 1
        say = self._say_text(self.notices[self.language].consent, interruptible=False, evidence="notice")
        self._notice_prompt_id = say.prompt_id
        return [say]

    def _prompt_finished(self, prompt_id: str, at: datetime) -> list[Action]:
        if self.state == State.NOTICE_PLAYING and prompt_id == self._notice_prompt_id:
            self._notice_played_at = at
            self.state = State.AWAITING_CONSENT
        elif self.state == State.CONVERSATION and prompt_id == self._last_reply_id:
            self.assistance.reply_heard()
        return []

    def _digit(self, event: DigitPressed) -> list[Action]:
        if event.digit == AGENT_DIGIT and self.state in (State.NEW, State.NOTICE_PLAYING):
            # 0 reaches a person at any time, so the caller does not sit through the rest of the notice. Enough
            # disclosure is what they heard before pressing: they talk to the assistant no further than its one
            # transfer line, and no consent is recorded, as no question was put to them.
            self.state = State.ENDING
            return [StopPlaying(), *self._transfer(Prompt.TRANSFER, HandoffReason.CALLER_ASKED)]
        if event.digit == AGENT_DIGIT and self.state == State.AWAITING_CONSENT:
            return [
                StopPlaying(),
                *self._decide_consent(Decision.REFUSED, Method.KEYPAD, None, event.at, HandoffReason.CALLER_ASKED),
            ]
        if self.state == State.AWAITING_CONSENT:
            answer = CONSENT_DIGITS.get(event.digit)
            if answer is ShortAnswer.YES:
                return self._decide_consent(Decision.GRANTED, Method.KEYPAD, None, event.at)
            if answer is ShortAnswer.NO:
                return self._decide_consent(
                    Decision.REFUSED, Method.KEYPAD, None, event.at, HandoffReason.CONSENT_REFUSED
                )
            return self._consent_unclear(Method.KEYPAD, None, event.at)
        if self.state == State.CONVERSATION:
            return self.assistance.pressed(event, self.language)
        # Keys pressed while the notice plays are ignored: consent counts only once the notice was heard.
        return []

    def _spoke(self, event: CallerSpoke) -> list[Action]:
        if self.state == State.AWAITING_CONSENT:
            return self._consent_spoken(event)
        if self.state == State.CONVERSATION:
            return self.assistance.spoke(event, self.language)
        return []

    def _silence(self, event: SilenceElapsed) -> list[Action]:
        if self.state == State.AWAITING_CONSENT:
            self._consent_misses += 1
            if self._consent_misses >= 2:
                return self._decide_consent(
                    Decision.NO_ANSWER, Method.NONE, None, event.at, HandoffReason.CONSENT_SILENCE
                )
            self._consent_prompts += 1
            return [self._say(Prompt.CONSENT_SILENCE, interruptible=False)]
        if self.state == State.CONVERSATION:
            return self.assistance.silence(self.language)
        return []

    # -- consent -----------------------------------------------------------------------------------

    def _consent_spoken(self, event: CallerSpoke) -> list[Action]:
        if self._caller_switched_language(event):
            self.language = event.language
            self._language_switches += 1
            self._consent_misses = 0
            return self._play_notice()
        if not event.text or event.confidence < self.min_transcript_confidence:
            return self._consent_unclear(Method.SPEECH, event.text or None, event.at)
        answer = consent_answer(event.text, self.language)
        if answer is ShortAnswer.AGENT:
            return self._decide_consent(
                Decision.REFUSED, Method.SPEECH, event.text, event.at, HandoffReason.CALLER_ASKED
            )
        if answer is ShortAnswer.NO:
            return self._decide_consent(
                Decision.REFUSED, Method.SPEECH, event.text, event.at, HandoffReason.CONSENT_REFUSED
            )
        if answer is ShortAnswer.YES:
            return self._decide_consent(Decision.GRANTED, Method.SPEECH, event.text, event.at)
        return self._consent_unclear(Method.SPEECH, event.text, event.at)

    def _caller_switched_language(self, event: CallerSpoke) -> bool:
        return (
            bool(event.text)
            and event.language != self.language
            and event.language in self.notices
            and event.language_probability >= LANGUAGE_SWITCH_MIN_PROBABILITY
            and self._language_switches < MAX_LANGUAGE_SWITCHES
        )

    def _consent_unclear(self, method: Method, heard: str | None, at: datetime) -> list[Action]:
        self._consent_misses += 1
        if self._consent_misses >= 2:
            return self._decide_consent(Decision.NO_ANSWER, method, heard, at, HandoffReason.CONSENT_UNCLEAR)
        self._consent_prompts += 1
        return [self._say(Prompt.CONSENT_AGAIN, interruptible=False)]

    def _decide_consent(
        self,
        decision: Decision,
        method: Method,
        heard: str | None,
        at: datetime,
        handoff: HandoffReason | None = None,
    ) -> list[Action]:
        record = RecordConsent(
            decision=decision,
            method=method,
            language=self.language,
            recognised_answer=heard if method is Method.SPEECH else None,
            prompt_count=max(self._consent_prompts, 1),
            notice_played_at=self._notice_heard_at(),
            answered_at=at if method is not Method.NONE else None,
        )
        if decision is Decision.GRANTED:
            self.consent_granted = True
            self.state = State.CONVERSATION
            return [record, self._say(Prompt.CONSENT_THANKS, interruptible=True)]
        closing = Prompt.TRANSFER if handoff is HandoffReason.CALLER_ASKED else Prompt.REFUSED_TRANSFER
        return [record, *self._transfer(closing, handoff or HandoffReason.CONSENT_REFUSED)]

    def _withdrawal(self, event: CallerSpoke) -> RecordConsent:
        self.consent_granted = False
        return RecordConsent(
            decision=Decision.WITHDRAWN,
            method=Method.SPEECH,
            language=self.language,
            recognised_answer=event.text,
            prompt_count=max(self._consent_prompts, 1),
            notice_played_at=self._notice_heard_at(),
            answered_at=event.at,
        )

    # -- helpers -------------------------------------------------------------------------------------

    def _notice_heard_at(self) -> datetime:
        """When the consent notice finished playing, as its mark came back: a decision is only ever taken after
        it, so this is what the proof records, never the time of the answer."""
        if self._notice_played_at is None:
            raise RuntimeError("consent decided before the notice was heard")
        return self._notice_played_at

    def _transfer(self, closing: Prompt, reason: HandoffReason) -> list[Action]:
        self.state = State.ENDING
        return [self._say(closing, interruptible=False), EndCall(CallOutcome.TRANSFER, reason)]

    def _say(self, prompt: Prompt, *, interruptible: bool) -> Say:
        return self.speaker.prompt(prompt, self.language, interruptible=interruptible)

    def _say_text(self, text: str, *, interruptible: bool, evidence: str | None = None) -> Say:
        return self.speaker.text(text, self.language, interruptible=interruptible, evidence=evidence)
