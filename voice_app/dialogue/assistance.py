"""The conversation after consent: understand the request, check who calls when the answer needs the account,
answer from the account data, or hand over to a person.

Verification: a caller recognised by caller ID proves who they are with their date of birth (keypad DDMMYYYY)
or postcode (spoken); an unknown caller first types their customer number. Three failed attempts go to a
person. No account detail is said before verification, and a failure never says which detail was wrong.
While digits are being typed, 0 is a digit; saying "agent" still reaches a person.

Conversation glue (a greeting, "thanks", "one more thing", "a question about my invoice") is answered with a
question back and never ends or transfers the call; a goodbye ends it only when it is clearly one. Two
questions in one turn are both answered. A withdrawal of consent is confirmed before it is recorded. A caller
who is frustrated (insults, "this is useless", a person asked for after the assistant struggled, two unclear
turns after an answer, the same question again, talking over the assistant again and again) goes to a person at
once, and so does a request that may be about someone misusing the account, even half understood.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
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
from voice_app.dialogue.keypad import AGENT_DIGIT, CONSENT_DIGITS, END_OF_ENTRY, RESTART_ENTRY
from voice_app.dialogue.messages import Action, CallerSpoke, DigitPressed, EndCall, PauseInvoice, Say, StoreTurn
from voice_app.dialogue.prompts import Prompt, prompt_text
from voice_app.dialogue.speaker import Speaker
from voice_app.models import CallOutcome, HandoffReason
from voice_app.understanding.clauses import clause_pairs
from voice_app.understanding.intents import MIN_ANSWER_THRESHOLD, IntentClassifier, Route, Understanding
from voice_app.understanding.short_answers import ShortAnswer, consent_answer
from voice_app.understanding.text import MAX_TRANSCRIPT_CHARS, lowercase_words
from voice_app.understanding.vocabulary import (
    CONVERSATION_INTENTS,
    GLUE_INTENTS,
    ROUTINE_INTENTS,
    SECURITY_INTENTS,
    SENSITIVE_INTENTS,
    TERMS_AND_MERCHANT_INTENTS,
    Intent,
)

MAX_VERIFICATION_ATTEMPTS = 3
DEFAULT_RETURN_PAUSE_DAYS = 21  # config.toml [returns] pause_days
MAX_CUSTOMER_NUMBER_DIGITS = 12
WITHHELD = "[verification details withheld]"
# A goodbye ends the call only this sure (the calibrated probability of the text); below it, but still answered,
# the caller is asked whether there is anything else, as ending a call by mistake costs a call back.
CLEAR_GOODBYE_CONFIDENCE = 0.8
# A half-understood request (asked again otherwise) goes to a person at once when one of the likeliest intents is
# misuse of the account or its data with at least this probability: "could you say that again" is the wrong
# answer to "block my account".
SECURITY_CANDIDATE_PROBABILITY = 0.2
# Talking over the assistant this often in one call is taken as impatience: a person takes over.
MAX_INTERRUPTIONS = 3
# The same question again right after its answer: the same intent with at least this share of the words in
# common (Jaccard), so "and the one from March?" is a new question, "is my invoice paid" twice is not.
SAME_QUESTION_WORD_OVERLAP = 0.6


class Asking(StrEnum):
    """What the assistant's last question was, so that "yes", "no" and key presses mean the right thing."""

    REQUEST = "request"  # how can I help / what else
    ANYTHING_ELSE = "anything_else"
    MORE_ITEMS = "more_items"  # "shall I read out the other N?"
    CUSTOMER_NUMBER = "customer_number"
    DATE_OF_BIRTH = "date_of_birth"
    PAUSE_CONFIRMATION = "pause_confirmation"  # "shall I pause the invoice from X for 21 days?"
    WITHDRAWAL = "withdrawal"  # "do you want to withdraw your consent?"


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
        self.pending: list[PendingRequest] = []
        self.offer: PendingRequest | None = None
        self.customer_number = ""
        self.digits = ""
        self.failed_attempts = 0
        self.unclear_in_a_row = 0
        self.silences_in_a_row = 0
        self.stray_keys = False  # keys pressed while none were asked for, since the caller last heard a reply
        self.last_topic: Intent | None = None  # what the caller last asked about, for the agent's briefing
        self.ended = False
        # Only its country code is used (the currency and merchant number to quote); it is never stored.
        self.caller_number = caller_number
        self.return_pause_days = return_pause_days
        self.pause_offered: PauseOffer | None = None
        # For noticing frustration: whether the caller got an answer yet, whether the assistant had to ask again,
        # the last question answered, and how often the caller talked over the assistant.
        self.answered = False
        self.struggled = False
        self.last_question: PendingRequest | None = None
        self.interruptions = 0
        # A withdrawal of consent waiting for the caller's confirmation, and how many unclear answers it got.
        self.withdrawal: CallerSpoke | None = None
        self.unclear_confirmations = 0

    @property
    def verified(self) -> bool:
        return self.summary is not None

    @property
    def collecting_digits(self) -> bool:
        return self.asking in (Asking.CUSTOMER_NUMBER, Asking.DATE_OF_BIRTH)

    # -- events --------------------------------------------------------------------------------------

    def spoke(self, event: CallerSpoke, language: str) -> list[Action]:
        self.silences_in_a_row = 0
        self.stray_keys = False
        if self.asking is Asking.WITHDRAWAL:
            return self._withdrawal_answer(
                event, consent_answer(event.text, language) if event.text else None, language
            )
        understood = self._classify(event.text, language, event.confidence)
        if (
            understood.route is not Route.CLARIFY
            and understood.intent not in CONVERSATION_INTENTS
            and understood.intent is not Intent.FRUSTRATED
        ):
            self.last_topic = understood.intent
        if self.collecting_digits:
            return self._verification_speech(event, understood, language)
        if understood.route is Route.HUMAN:
            return self._hand_over(event, understood, language)
        if event.text:
            questions = self._two_questions(event, understood, language)
            if questions:
                self.unclear_in_a_row = 0
                return self._answer_all(event, questions, language)
        if understood.route is Route.CLARIFY or not event.text:
            suspected = self._security_suspected(understood) if event.text else None
            if suspected is not None:
                self.last_topic = suspected
                return self._hand_over(event, understood, language, suspected)
            plainly_glue = understood.intent in GLUE_INTENTS | {Intent.GOODBYE}
            if event.text and plainly_glue and understood.confidence >= MIN_ANSWER_THRESHOLD:
                # The words are plainly glue, only the transcript or the threshold is unsure: a question back is
                # harmless, and a greeting must never count towards a hand-over.
                return self._glue(event, understood, language)
            return self._unclear(event, understood, language)
        self.unclear_in_a_row = 0
        return self._answer(event, understood, language)

    def pressed(self, event: DigitPressed, language: str) -> list[Action]:
        self.silences_in_a_row = 0
        if self.asking is Asking.WITHDRAWAL and event.digit != AGENT_DIGIT:
            return self._withdrawal_answer(None, CONSENT_DIGITS.get(event.digit), language, event.at)
        if not self.collecting_digits:
            if event.digit == AGENT_DIGIT:
                return self._transfer(Prompt.TRANSFER, HandoffReason.CALLER_ASKED, language)
            # Keys nobody asked for (a date of birth typed ahead, say) are one unclear turn, not one per key.
            if self.stray_keys:
                return []
            self.stray_keys = True
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
        if self.asking is Asking.WITHDRAWAL:
            return self._withdrawal_answer(None, None, language)
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

    def reply_heard(self) -> None:
        """The assistant's last reply played to its end: a key pressed after it answers that reply, so it is a
        turn of its own (keys typed ahead while the reply plays stay one turn)."""
        self.stray_keys = False

    def interrupted(self, language: str) -> list[Action]:
        """The caller started talking over the assistant."""
        self.interruptions += 1
        if self.interruptions >= MAX_INTERRUPTIONS and not self.collecting_digits:
            return self._frustrated(language)
        return []

    # -- understanding -------------------------------------------------------------------------------

    def _classify(self, text: str, language: str, transcript_confidence: float) -> Understanding:
        return self.classifier.classify(
            text[:MAX_TRANSCRIPT_CHARS], language, transcript_confidence=transcript_confidence
        )

    def _security_suspected(self, understood: Understanding) -> Intent | None:
        return next(
            (
                intent
                for intent, probability in understood.candidates
                if intent in SECURITY_INTENTS and probability >= SECURITY_CANDIDATE_PROBABILITY
            ),
            None,
        )

    def _two_questions(self, event: CallerSpoke, understood: Understanding, language: str) -> list[Understanding]:
        """Two different routine questions in one turn, each understood confidently; else none."""
        if understood.route is Route.ANSWER and understood.intent not in ROUTINE_INTENTS:
            return []
        for first, second in clause_pairs(event.text[:MAX_TRANSCRIPT_CHARS], language):
            parts = [self._classify(clause, language, event.confidence) for clause in (first, second)]
            if all(part.route is Route.ANSWER and part.intent in ROUTINE_INTENTS for part in parts) and (
                parts[0].intent is not parts[1].intent
            ):
                return parts
        return []

    def _hand_over(
        self, event: CallerSpoke, understood: Understanding, language: str, intent: Intent | None = None
    ) -> list[Action]:
        intent = intent or understood.intent
        if intent is Intent.WITHDRAW_CONSENT:
            # Nothing of this utterance is kept, whatever the answer: the caller may be taking their consent back.
            return self._confirm_withdrawal(event, language)
        if intent is Intent.FRUSTRATED or (intent is Intent.HUMAN and self.struggled):
            return [
                self._turn(event, understood, Prompt.FRUSTRATED_TRANSFER, language),
                *self._frustrated(language),
            ]
        if intent is Intent.HUMAN:
            closing, reason = Prompt.TRANSFER, HandoffReason.CALLER_ASKED
        elif intent in SECURITY_INTENTS:
            closing, reason = Prompt.SECURITY_TRANSFER, HandoffReason.SENSITIVE_TOPIC
        elif intent in SENSITIVE_INTENTS:
            closing, reason = Prompt.SENSITIVE_TRANSFER, HandoffReason.SENSITIVE_TOPIC
        else:
            closing, reason = Prompt.CANNOT_HELP, HandoffReason.OUT_OF_SCOPE
        return [self._turn(event, understood, closing, language), *self._transfer(closing, reason, language, intent)]

    def _frustrated(self, language: str) -> list[Action]:
        topic = self.last_topic or Intent.FRUSTRATED
        return self._transfer(Prompt.FRUSTRATED_TRANSFER, HandoffReason.CALLER_FRUSTRATED, language, topic)

    def _unclear(self, event: CallerSpoke | None, understood: Understanding | None, language: str) -> list[Action]:
        self.unclear_in_a_row += 1
        self.struggled = True
        stored = [self._turn(event, understood, Prompt.NOT_UNDERSTOOD, language)] if event and event.text else []
        if self.unclear_in_a_row >= 2:
            if self.answered:
                # Asked again twice after an answer that did not help: the caller has waited long enough.
                return [*stored, *self._frustrated(language)]
            topic = understood.intent if understood else None
            return [*stored, *self._transfer(Prompt.TRANSFER, HandoffReason.UNCLEAR_TWICE, language, topic)]
        return [*stored, self.speaker.prompt(Prompt.NOT_UNDERSTOOD, language, interruptible=True)]

    def _glue(self, event: CallerSpoke, understood: Understanding, language: str) -> list[Action]:
        """Greetings, thanks, "one more thing", a topic without a question, an unsure goodbye: a question back."""
        prompt, self.asking = {
            Intent.GREETING: (Prompt.GREETING_BACK, Asking.REQUEST),
            Intent.THANKS: (Prompt.YOU_ARE_WELCOME, Asking.ANYTHING_ELSE),
            Intent.ONE_MORE_THING: (Prompt.GO_AHEAD, Asking.REQUEST),
            Intent.VAGUE_QUESTION: (Prompt.ASK_ABOUT_TOPIC, Asking.REQUEST),
        }.get(understood.intent, (Prompt.ANYTHING_ELSE, Asking.ANYTHING_ELSE))
        self.offer = None
        say = self.speaker.prompt(prompt, language, interruptible=True)
        return [self._turn(event, understood, say.text), say]

    def _answer(self, event: CallerSpoke, understood: Understanding, language: str) -> list[Action]:
        intent = understood.intent
        clear_goodbye = intent is Intent.GOODBYE and understood.confidence >= CLEAR_GOODBYE_CONFIDENCE
        if clear_goodbye or (intent is Intent.DENY and self.asking is Asking.ANYTHING_ELSE):
            self.ended = True
            say = self.speaker.prompt(Prompt.GOODBYE, language, interruptible=False)
            return [self._turn(event, understood, say.text), say, EndCall(CallOutcome.HANGUP, None)]
        if intent in GLUE_INTENTS or intent is Intent.GOODBYE:
            return self._glue(event, understood, language)
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
        if intent in TERMS_AND_MERCHANT_INTENTS:
            return self._terms_or_merchant(event, understood, PendingRequest(intent, event.text), language)
        return self._answer_all(event, [understood], language)

    def _answer_all(self, event: CallerSpoke, questions: list[Understanding], language: str) -> list[Action]:
        """One routine question, or several from one turn: verified once, answered in the order asked."""
        requests = [PendingRequest(question.intent, question.text) for question in questions]
        if len(requests) == 1 and self._asked_again(requests[0]):
            self.struggled = True
            return [self._turn(event, questions[0], Prompt.FRUSTRATED_TRANSFER, language), *self._frustrated(language)]
        self.last_question = requests[-1]
        first = questions[0]
        if any(requires_verification(request.intent) for request in requests) and not self.verified:
            self.pending = requests
            return [self._turn(event, first, "(verification)"), *self._start_verification(language)]
        actions = self._tell_all(requests, language)
        return [self._turn(event, first, " ".join(a.text for a in actions if isinstance(a, Say))), *actions]

    def _asked_again(self, request: PendingRequest) -> bool:
        """The caller asks the question just answered once more, in mostly the same words."""
        before = self.last_question
        if before is None or before.intent is not request.intent or self.asking is Asking.MORE_ITEMS:
            return False
        old, new = set(lowercase_words(before.transcript).split()), set(lowercase_words(request.transcript).split())
        return bool(old | new) and len(old & new) / len(old | new) >= SAME_QUESTION_WORD_OVERLAP

    def _tell_all(self, requests: list[PendingRequest], language: str, opening: str = "") -> list[Action]:
        if len(requests) == 1:
            return self._tell(requests[0], language, opening)
        # Each answer but the last is said whole; an offer to read more belongs to the last one only.
        earlier = [
            answer(request.intent, self.summary, request.transcript, language, self.today).text
            for request in requests[:-1]
        ]
        return self._tell(requests[-1], language, " ".join(part for part in (opening, *earlier) if part))

    def _tell(self, request: PendingRequest, language: str, opening: str = "") -> list[Action]:
        if request.intent in TERMS_AND_MERCHANT_INTENTS:
            return self._tell_terms_or_merchant(request, language, opening)
        spoken = answer(
            request.intent, self.summary, request.transcript, language, self.today, skip_items=request.items_said
        )
        self.answered = True
        told = request.items_said + spoken.items_said
        parts = [opening, spoken.text]
        if spoken.items_total > told:
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
            self.pending = [request]
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

    # -- withdrawal of consent -----------------------------------------------------------------------

    def _confirm_withdrawal(self, event: CallerSpoke, language: str) -> list[Action]:
        """Recording a withdrawal cannot be undone within the call, and a misheard phrase once was recorded as
        one: the caller confirms it first."""
        self.withdrawal, self.unclear_confirmations = event, 0
        self.asking, self.pending, self.offer, self.digits = Asking.WITHDRAWAL, [], None, ""
        return [self.speaker.prompt(Prompt.CONFIRM_WITHDRAWAL, language, interruptible=True)]

    def _withdrawal_answer(
        self, event: CallerSpoke | None, reply: ShortAnswer | None, language: str, at: datetime | None = None
    ) -> list[Action]:
        """`event`: the spoken answer, if it was spoken; `at`: when a key gave it."""
        request = self.withdrawal
        assert request is not None, "only asked after a request to withdraw"
        if reply is ShortAnswer.YES:
            self.ended = True
            # The ledger keeps both the request and its confirmation, at the time of the confirmation.
            heard = f"{request.text} / {event.text}" if event else request.text
            confidence = event.confidence if event else request.confidence
            confirmed_at = event.at if event else at or request.at
            return [
                self.withdraw_consent(
                    CallerSpoke(heard, request.language, request.language_probability, confidence, confirmed_at)
                ),
                self.speaker.prompt(Prompt.WITHDRAWN_TRANSFER, language, interruptible=False),
                EndCall(CallOutcome.TRANSFER, HandoffReason.CONSENT_WITHDRAWN, Intent.WITHDRAW_CONSENT.value),
            ]
        if reply is not ShortAnswer.NO:
            self.unclear_confirmations += 1
            if self.unclear_confirmations < 2:
                return [self.speaker.prompt(Prompt.CONFIRM_WITHDRAWAL_AGAIN, language, interruptible=True)]
        # A "no", or no clear answer twice: consent stays as it was, and so does the call.
        self.withdrawal, self.asking = None, Asking.REQUEST
        return [self.speaker.prompt(Prompt.CONSENT_KEPT, language, interruptible=True)]

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
        if understood.intent in (Intent.HUMAN, Intent.WITHDRAW_CONSENT, Intent.FRUSTRATED) and (
            understood.route is Route.HUMAN
        ):
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
        pending, self.pending = self.pending, []
        if not pending:
            self.asking = Asking.REQUEST
            return [
                self.speaker.text(f"{thanks} {prompt_text(Prompt.WHAT_ELSE, language)}", language, interruptible=True)
            ]
        return self._tell_all(pending, language, opening=thanks)

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
