"""The conversation after consent: understand the request, check who calls when the answer needs the account,
answer from the account data, or hand over to a person.

Verification: a caller recognised by caller ID proves who they are with their date of birth (keypad DDMMYYYY)
or postcode (spoken); an unknown caller first types their customer number. Three failed attempts go to a
person. No account detail is said before verification, and a failure never says which detail was wrong.
While digits are being typed, 0 is a digit; saying "agent" still reaches a person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from voice_app.accounts.directory import AccountDirectory, AccountSummary, CustomerRef
from voice_app.answers.account_answers import answer, requires_verification
from voice_app.answers.returns import PauseOffer, kept_answer, paused_answer
from voice_app.answers.terms_and_merchants import needs_account, terms_reply
from voice_app.dialogue.caller_details import (
    DATE_OF_BIRTH_DIGITS,
    date_from_keypad,
    date_from_speech,
    postcode_from_speech,
)
from voice_app.dialogue.keypad import AGENT_DIGIT, END_OF_ENTRY, RESTART_ENTRY
from voice_app.dialogue.messages import Action, CallerSpoke, DigitPressed, EndCall, PauseInvoice, Say, StoreTurn
from voice_app.dialogue.prompts import Prompt, prompt_text
from voice_app.dialogue.speaker import Speaker
from voice_app.models import CallOutcome, HandoffReason
from voice_app.understanding.intents import IntentClassifier, Route, Understanding
from voice_app.understanding.text import MAX_TRANSCRIPT_CHARS
from voice_app.understanding.vocabulary import (
    CONVERSATION_INTENTS,
    SENSITIVE_INTENTS,
    TERMS_AND_MERCHANT_INTENTS,
    Intent,
)

MAX_VERIFICATION_ATTEMPTS = 3
DEFAULT_RETURN_PAUSE_DAYS = 21  # config.toml [returns] pause_days
MAX_CUSTOMER_NUMBER_DIGITS = 12
WITHHELD = "[verification details withheld]"


class Asking(StrEnum):
    """What the assistant's last question was, so that "yes", "no" and key presses mean the right thing."""

    REQUEST = "request"  # how can I help / what else
    ANYTHING_ELSE = "anything_else"
    MORE_ITEMS = "more_items"  # "shall I read out the other N?"
    CUSTOMER_NUMBER = "customer_number"
    DATE_OF_BIRTH = "date_of_birth"
    PAUSE_CONFIRMATION = "pause_confirmation"  # "shall I pause the invoice from X for 21 days?"


@dataclass(frozen=True)
class PendingRequest:
    intent: Intent
    transcript: str
    items_said: int = 0


Withdraw = Callable[[CallerSpoke], Action]


class Assistance:
    def __init__(
        self,
        speaker: Speaker,
        classifier: IntentClassifier,
        accounts: AccountDirectory,
        caller: CustomerRef | None,
        today: date,
        withdraw_consent: Withdraw,
        *,
        caller_number: str | None = None,
        return_pause_days: int = DEFAULT_RETURN_PAUSE_DAYS,
    ):
        self.speaker = speaker
        self.classifier = classifier
        self.accounts = accounts
        self.caller = caller
        self.today = today
        self.withdraw_consent = withdraw_consent
        self.asking = Asking.REQUEST
        self.summary: AccountSummary | None = None
        self.pending: PendingRequest | None = None
        self.offer: PendingRequest | None = None
        self.customer_number = ""
        self.digits = ""
        self.failed_attempts = 0
        self.unclear_in_a_row = 0
        self.silences_in_a_row = 0
        self.last_topic: Intent | None = None  # what the caller last asked about, for the agent's briefing
        self.ended = False
        # Only its country code is used (the currency and merchant number to quote); it is never stored.
        self.caller_number = caller_number
        self.return_pause_days = return_pause_days
        self.pause_offered: PauseOffer | None = None

    @property
    def verified(self) -> bool:
        return self.summary is not None

    @property
    def collecting_digits(self) -> bool:
        return self.asking in (Asking.CUSTOMER_NUMBER, Asking.DATE_OF_BIRTH)

    # -- events --------------------------------------------------------------------------------------

    def spoke(self, event: CallerSpoke, language: str) -> list[Action]:
        self.silences_in_a_row = 0
        understood = self.classifier.classify(
            event.text[:MAX_TRANSCRIPT_CHARS], language, transcript_confidence=event.confidence
        )
        if understood.route is not Route.CLARIFY and understood.intent not in CONVERSATION_INTENTS:
            self.last_topic = understood.intent
        if self.collecting_digits:
            return self._verification_speech(event, understood, language)
        if understood.route is Route.HUMAN:
            return self._hand_over(event, understood, language)
        if understood.route is Route.CLARIFY or not event.text:
            return self._unclear(event, understood, language)
        self.unclear_in_a_row = 0
        return self._answer(event, understood, language)

    def pressed(self, event: DigitPressed, language: str) -> list[Action]:
        self.silences_in_a_row = 0
        if not self.collecting_digits:
            if event.digit == AGENT_DIGIT:
                return self._transfer(Prompt.TRANSFER, HandoffReason.CALLER_ASKED, language)
            return self._unclear(None, None, language)
        if event.digit == RESTART_ENTRY:
            self.digits = ""
            return []
        if event.digit != END_OF_ENTRY:
            self.digits += event.digit
        if self.asking is Asking.DATE_OF_BIRTH and len(self.digits) >= DATE_OF_BIRTH_DIGITS:
            return self._recorded(self._check_date_of_birth(date_from_keypad(self.digits), language), 1.0, language)
        if self.asking is Asking.CUSTOMER_NUMBER and (
            event.digit == END_OF_ENTRY or len(self.digits) >= MAX_CUSTOMER_NUMBER_DIGITS
        ):
            return self._check_customer_number(language)
        return []

    def silence(self, language: str) -> list[Action]:
        if self.collecting_digits and self.digits:
            # The caller stopped typing without the hash key: take what was typed as the attempt.
            if self.asking is Asking.CUSTOMER_NUMBER:
                return self._check_customer_number(language)
            return self._recorded(self._check_date_of_birth(date_from_keypad(self.digits), language), 1.0, language)
        self.silences_in_a_row += 1
        if self.silences_in_a_row >= 2:
            return self._transfer(Prompt.TRANSFER, HandoffReason.SILENCE, language)
        if self.collecting_digits:
            return [self._repeat_question(language)]
        return [self.speaker.prompt(Prompt.STILL_THERE, language, interruptible=True)]

    # -- understanding -------------------------------------------------------------------------------

    def _hand_over(self, event: CallerSpoke, understood: Understanding, language: str) -> list[Action]:
        intent = understood.intent
        if intent is Intent.WITHDRAW_CONSENT:
            # Nothing of this utterance is kept: the caller is taking their consent back.
            self.ended = True
            return [
                self.withdraw_consent(event),
                self.speaker.prompt(Prompt.WITHDRAWN_TRANSFER, language, interruptible=False),
                EndCall(CallOutcome.TRANSFER, HandoffReason.CONSENT_WITHDRAWN, intent.value),
            ]
        if intent is Intent.HUMAN:
            closing, reason = Prompt.TRANSFER, HandoffReason.CALLER_ASKED
        elif intent in SENSITIVE_INTENTS:
            closing, reason = Prompt.SENSITIVE_TRANSFER, HandoffReason.SENSITIVE_TOPIC
        else:
            closing, reason = Prompt.CANNOT_HELP, HandoffReason.OUT_OF_SCOPE
        return [self._turn(event, understood, closing, language), *self._transfer(closing, reason, language, intent)]

    def _unclear(self, event: CallerSpoke | None, understood: Understanding | None, language: str) -> list[Action]:
        self.unclear_in_a_row += 1
        stored = [self._turn(event, understood, Prompt.NOT_UNDERSTOOD, language)] if event and event.text else []
        if self.unclear_in_a_row >= 2:
            topic = understood.intent if understood else None
            return [*stored, *self._transfer(Prompt.TRANSFER, HandoffReason.UNCLEAR_TWICE, language, topic)]
        return [*stored, self.speaker.prompt(Prompt.NOT_UNDERSTOOD, language, interruptible=True)]

    def _answer(self, event: CallerSpoke, understood: Understanding, language: str) -> list[Action]:
        intent = understood.intent
        if intent is Intent.GOODBYE or (intent is Intent.DENY and self.asking is Asking.ANYTHING_ELSE):
            self.ended = True
            say = self.speaker.prompt(Prompt.GOODBYE, language, interruptible=False)
            return [self._turn(event, understood, say.text), say, EndCall(CallOutcome.HANGUP, None)]
        if intent is Intent.REPEAT:
            again = self.speaker.text(
                self.speaker.last_text or prompt_text(Prompt.WHAT_ELSE, language), language, interruptible=True
            )
            return [self._turn(event, understood, again.text), again]
        if self.asking is Asking.PAUSE_CONFIRMATION and intent in (Intent.AFFIRM, Intent.DENY):
            return self._pause_confirmed(event, understood, language)
        if intent is Intent.AFFIRM and self.asking is Asking.MORE_ITEMS and self.offer:
            return [self._turn(event, understood, "(more items)"), *self._tell(self.offer, language)]
        if intent in (Intent.AFFIRM, Intent.DENY):
            self.asking = Asking.REQUEST if intent is Intent.AFFIRM else Asking.ANYTHING_ELSE
            prompt = Prompt.WHAT_ELSE if intent is Intent.AFFIRM else Prompt.ANYTHING_ELSE
            say = self.speaker.prompt(prompt, language, interruptible=True)
            return [self._turn(event, understood, say.text), say]
        request = PendingRequest(intent, event.text)
        if intent in TERMS_AND_MERCHANT_INTENTS:
            return self._terms_or_merchant(event, understood, request, language)
        if requires_verification(intent) and not self.verified:
            self.pending = request
            return [self._turn(event, understood, "(verification)"), *self._start_verification(language)]
        actions = self._tell(request, language)
        return [self._turn(event, understood, " ".join(a.text for a in actions if isinstance(a, Say))), *actions]

    def _tell(self, request: PendingRequest, language: str, opening: str = "") -> list[Action]:
        if request.intent in TERMS_AND_MERCHANT_INTENTS:
            return self._tell_terms_or_merchant(request, language, opening)
        spoken = answer(
            request.intent, self.summary, request.transcript, language, self.today, skip_items=request.items_said
        )
        told = request.items_said + spoken.items_said
        parts = [opening, spoken.text]
        if spoken.items_said and told < spoken.items_total:
            self.offer, self.asking = PendingRequest(request.intent, request.transcript, told), Asking.MORE_ITEMS
        else:
            self.offer, self.asking = None, Asking.ANYTHING_ELSE
            parts.append(prompt_text(Prompt.ANYTHING_ELSE, language))
        return [self.speaker.text(" ".join(part for part in parts if part), language, interruptible=True)]

    # -- fees, merchants, unregistered returns (issue 12) -------------------------------------------------

    def _terms_or_merchant(
        self, event: CallerSpoke, understood: Understanding, request: PendingRequest, language: str
    ) -> list[Action]:
        if not self.verified and needs_account(request.intent, request.transcript, language, self.summary):
            self.pending = request
            return [self._turn(event, understood, "(verification)"), *self._start_verification(language)]
        actions = self._tell(request, language)
        reply = " ".join(action.text for action in actions if isinstance(action, Say))
        return [self._turn(event, understood, reply), *actions]

    def _tell_terms_or_merchant(self, request: PendingRequest, language: str, opening: str) -> list[Action]:
        reply = terms_reply(
            request.intent,
            request.transcript,
            language,
            self.summary,
            self.today,
            caller_number=self.caller_number,
            pause_days=self.return_pause_days,
        )
        if reply.hand_over:
            return self._transfer(Prompt.TRANSFER, HandoffReason.OUT_OF_SCOPE, language, request.intent)
        if reply.pause is None:
            return [self._said(opening, reply.text, language)]
        self.pause_offered, self.offer, self.asking = reply.pause, None, Asking.PAUSE_CONFIRMATION
        text = " ".join(part for part in (opening, reply.text) if part)
        return [self.speaker.text(text, language, interruptible=True)]

    def _said(self, opening: str, text: str, language: str) -> Say:
        self.offer, self.asking = None, Asking.ANYTHING_ELSE
        parts = (opening, text, prompt_text(Prompt.ANYTHING_ELSE, language))
        return self.speaker.text(" ".join(part for part in parts if part), language, interruptible=True)

    def _pause_confirmed(self, event: CallerSpoke, understood: Understanding, language: str) -> list[Action]:
        offer, self.pause_offered = self.pause_offered, None
        if offer is None or self.summary is None or understood.intent is Intent.DENY:
            said = self._said("", kept_answer(language), language)
            return [self._turn(event, understood, said.text), said]
        pause = PauseInvoice(self.summary.customer_id, offer.invoice.invoice_id, offer.until)
        said = self._said("", paused_answer(offer.invoice.merchant, offer.until, language, self.today), language)
        # The change first: if it fails, the executor hands the caller over before anything claims it was made.
        return [pause, self._turn(event, understood, said.text), said]

    # -- verification --------------------------------------------------------------------------------

    def _start_verification(self, language: str) -> list[Action]:
        self.digits = ""
        self.customer_number = ""
        self.asking = Asking.DATE_OF_BIRTH if self.caller else Asking.CUSTOMER_NUMBER
        return [self._repeat_question(language)]

    def _repeat_question(self, language: str) -> Say:
        prompt = Prompt.ASK_DATE_OF_BIRTH if self.asking is Asking.DATE_OF_BIRTH else Prompt.ASK_CUSTOMER_NUMBER
        return self.speaker.prompt(prompt, language, interruptible=True)

    def _verification_speech(self, event: CallerSpoke, understood: Understanding, language: str) -> list[Action]:
        if understood.intent in (Intent.HUMAN, Intent.WITHDRAW_CONSENT) and understood.route is Route.HUMAN:
            return self._hand_over(event, understood, language)
        if self.asking is Asking.DATE_OF_BIRTH:
            born = date_from_speech(event.text, language)
            postcode = None if born else postcode_from_speech(event.text, language)
            checked = self._check_identity(language, date_of_birth=born, postcode=postcode)
        else:
            self.digits = "".join(character for character in event.text if character.isdigit())
            checked = self._check_customer_number(language)
        return self._recorded(checked, event.confidence, language)

    def _recorded(self, actions: list[Action], confidence: float, language: str) -> list[Action]:
        """Keeps the verification step as a turn, with what the assistant answered but not what the caller
        gave to prove who they are."""
        reply = " ".join(action.text for action in actions if isinstance(action, Say))
        return [StoreTurn(WITHHELD, confidence, language, "verification", 1.0, "verify", reply), *actions]

    def _check_customer_number(self, language: str) -> list[Action]:
        # Not looked up yet: whether the number exists is only revealed together with the date of birth, so
        # that nobody can try out customer numbers.
        self.customer_number, self.digits = self.digits, ""
        self.asking = Asking.DATE_OF_BIRTH
        return [self._repeat_question(language)]

    def _check_date_of_birth(self, born: date | None, language: str) -> list[Action]:
        self.digits = ""
        return self._check_identity(language, date_of_birth=born)

    def _check_identity(
        self, language: str, *, date_of_birth: date | None = None, postcode: str | None = None
    ) -> list[Action]:
        claimed = self.caller or (
            self.accounts.find_by_customer_number(self.customer_number) if self.customer_number else None
        )
        if date_of_birth is None and postcode is None:
            return self._failed_attempt(language)
        # An unknown customer is checked against a placeholder, so it fails exactly like a wrong detail.
        customer_id = claimed.customer_id if claimed else ""
        if not self.accounts.verify(customer_id, date_of_birth=date_of_birth, postcode=postcode) or not claimed:
            return self._failed_attempt(language)
        self.summary = self.accounts.summary(claimed.customer_id)
        thanks = prompt_text(Prompt.VERIFIED, language)
        pending, self.pending = self.pending, None
        if pending is None:
            self.asking = Asking.REQUEST
            return [
                self.speaker.text(f"{thanks} {prompt_text(Prompt.WHAT_ELSE, language)}", language, interruptible=True)
            ]
        return self._tell(pending, language, opening=thanks)

    def _failed_attempt(self, language: str) -> list[Action]:
        self.failed_attempts += 1
        self.digits = ""
        if self.failed_attempts >= MAX_VERIFICATION_ATTEMPTS:
            return self._transfer(Prompt.VERIFICATION_TRANSFER, HandoffReason.VERIFICATION_FAILED, language)
        self.asking = Asking.DATE_OF_BIRTH if self.caller else Asking.CUSTOMER_NUMBER
        question = self._repeat_question(language)
        retry = prompt_text(Prompt.DETAILS_DID_NOT_MATCH, language)
        return [self.speaker.text(f"{retry} {question.text}", language, interruptible=True)]

    # -- helpers -------------------------------------------------------------------------------------

    def _transfer(
        self, closing: Prompt, reason: HandoffReason, language: str, topic: Intent | None = None
    ) -> list[Action]:
        self.ended = True
        topic = topic or self.last_topic
        return [
            self.speaker.prompt(closing, language, interruptible=False),
            EndCall(CallOutcome.TRANSFER, reason, topic.value if topic else None),
        ]

    def _turn(
        self, event: CallerSpoke, understood: Understanding | None, reply: Prompt | str, language: str | None = None
    ) -> StoreTurn:
        if isinstance(reply, Prompt):
            assert language is not None, "a prompt is stored in the language it was said in"
            text = prompt_text(reply, language)
        else:
            text = reply
        return StoreTurn(
            transcript=event.text,
            confidence=event.confidence,
            language=understood.language if understood else event.language,
            intent=understood.intent.value if understood else "",
            intent_confidence=understood.confidence if understood else 0.0,
            route=understood.route.value if understood else "",
            reply=text,
        )
