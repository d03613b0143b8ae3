"""A text channel: the call's dialogue, accounts, consent ledger and hand-over, with typed turns instead of speech.

For operators trying the assistant and for scripted evaluation (`voice-app chat`). A chat is stored as a call:
a Call row under a generated call id with the caller's number only as its pseudonym, the notice evidence, the
consent decision in the ledger (method "text" for every answer typed, keys included, so that the ledger tells a
chat from a phone call), the turns with confidence 1.0, and a briefing when it goes to a person. The storage is
the call executor's own (`voice_app.call.records`). What a call's executor does with audio (recognition,
synthesis, playback timing, silence) has no counterpart here: a prompt counts as heard once it is printed, and
an empty line is the caller hanging up.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import BinaryIO

from sqlalchemy.engine import Engine

from consent.ledger import Method
from consent.models import NoticeVersion
from voice_app import calls
from voice_app.accounts.directory import AccountDirectory, CustomerRef
from voice_app.call import records
from voice_app.config import SUPPORTED_LANGUAGES, Settings
from voice_app.dialogue.machine import Dialogue, NoticeTexts
from voice_app.dialogue.messages import (
    Action,
    CallerSpoke,
    CallStarted,
    DigitPressed,
    EndCall,
    Event,
    PauseInvoice,
    PromptFinished,
    RecordConsent,
    Say,
    StopPlaying,
    StoreTurn,
)
from voice_app.models import Call, CallOutcome, HandoffReason
from voice_app.pseudonyms import UNKNOWN_CALLER, normalise_phone_number, pseudonymise
from voice_app.understanding.intents import IntentClassifier
from voice_app.understanding.text import MAX_TRANSCRIPT_CHARS

log = logging.getLogger(__name__)

KEYS = re.compile(r"^press:\s*(?P<digits>[0-9*#]{1,20})\s*$", re.IGNORECASE)
# UTF-8 takes at most four bytes a character: a line is read up to this many bytes and the rest of it skipped,
# so that an endless line is never held in memory.
MAX_LINE_BYTES = 4 * MAX_TRANSCRIPT_CHARS
TYPED_CONFIDENCE = 1.0
CALLER_HUNG_UP = "caller_hung_up"
ASSISTANT_ENDED = "goodbye"
CHAT_CALLED_NUMBER = "text"  # stored as the number called when none is given: the chat has no line of its own


class ChatInputError(ValueError):
    """A typed turn that cannot be taken: `press:` without valid keys."""


@dataclass(frozen=True)
class ChatEnd:
    outcome: str  # "hangup" or "transfer", as a call's outcome
    reason: str  # the hand-over reason; "goodbye" when the assistant ended the chat; "caller_hung_up"


@dataclass(frozen=True)
class ChatContext:
    """What a chat needs of the running assistant: no speech models."""

    settings: Settings
    engine: Engine
    notices: dict[tuple[str, str], NoticeVersion]
    accounts: AccountDirectory
    classifier: IntentClassifier
    secret_key: str

    def notice_texts(self) -> dict[str, NoticeTexts]:
        return {
            language: NoticeTexts(
                disclosure=self.notices[("disclosure", language)].text,
                consent=self.notices[("consent", language)].text,
            )
            for language in SUPPORTED_LANGUAGES
        }


def now() -> datetime:
    return datetime.now(UTC)


def chat_call_sid() -> str:
    """A generated call id in Twilio's form, so that the compliance tools find a chat like any call."""
    return "CA" + secrets.token_hex(16)


class ChatSession:
    """One typed conversation. `start` greets; `turn` takes one typed line; `hang_up` ends it from the caller's
    side. Each returns what the assistant said, in order; `ended` tells how the chat ended, once it has."""

    def __init__(
        self,
        context: ChatContext,
        *,
        caller_number: str | None,
        called_number: str | None,
        language: str | None,
        today: date,
    ) -> None:
        self.context = context
        settings = context.settings
        customer = context.accounts.find_by_phone(caller_number) if caller_number else None
        called = (normalise_phone_number(called_number) if called_number else None) or CHAT_CALLED_NUMBER
        language = language or (customer.preferred_language if customer else settings.telephony.language_for(called))
        self.call: Call = calls.register_call(
            context.engine,
            chat_call_sid(),
            caller=pseudonymise(caller_number, context.secret_key) if caller_number else UNKNOWN_CALLER,
            called_number=called,
            language=language,
            customer_ref=customer.customer_id if customer else None,
        )
        self.call_id = calls.id_of(self.call)
        calls.update_status(context.engine, self.call.call_sid, "in-progress")
        calls.add_event(context.engine, self.call_id, "channel", "text")
        self.dialogue = Dialogue(
            language,
            context.notice_texts(),
            min_transcript_confidence=settings.dialogue.min_transcript_confidence,
            classifier=context.classifier,
            accounts=context.accounts,
            caller=CustomerRef(customer.customer_id, language) if customer else None,
            today=today,
            caller_number=caller_number,
            return_pause_days=settings.returns.pause_days,
        )
        self.ended: ChatEnd | None = None

    def start(self) -> list[str]:
        return self._feed(CallStarted(now()))

    def turn(self, line: str) -> list[str]:
        """One typed line: words, or `press:DIGITS` for keys. Words longer than a transcript may be are cut."""
        if self.ended is not None:
            return []
        keys = KEYS.match(line.strip())
        if keys:
            said: list[str] = []
            for digit in keys["digits"]:
                said += self._feed(DigitPressed(digit, now()))
            return said
        if line.strip().lower().startswith("press:"):
            raise ChatInputError("press: takes up to 20 keys of 0-9, * and #, e.g. press:1")
        text = " ".join(line.split())[:MAX_TRANSCRIPT_CHARS]
        # Typed text is known exactly, in the chat's language: nothing to recognise, no language to detect.
        spoke = CallerSpoke(
            text=text,
            language=self.dialogue.language,
            language_probability=1.0,
            confidence=TYPED_CONFIDENCE,
            at=now(),
        )
        return self._feed(spoke)

    def hang_up(self) -> ChatEnd:
        """How the chat ended; the caller leaving (an empty line, the end of the input) if nothing ended it before."""
        if self.ended is None:
            calls.add_event(self.context.engine, self.call_id, CALLER_HUNG_UP)
            return self._close(ChatEnd(CallOutcome.HANGUP.value, CALLER_HUNG_UP))
        return self.ended

    def fail(self) -> ChatEnd:
        """Something broke: the caller goes to a person, as after a failure in a call."""
        if self.ended is None:
            reason = HandoffReason.INTERNAL_ERROR
            calls.decide_outcome(self.context.engine, self.call_id, CallOutcome.TRANSFER, reason)
            calls.add_event(self.context.engine, self.call_id, "failure", reason.value)
            return self._close(ChatEnd(CallOutcome.TRANSFER.value, reason.value))
        return self.ended

    # -- the dialogue's actions ---------------------------------------------------------------------------

    def _feed(self, event: Event) -> list[str]:
        said: list[str] = []
        for action in self.dialogue.handle(event):
            said += self._carry_out(action)
        return said

    def _carry_out(self, action: Action) -> list[str]:
        engine, notices = self.context.engine, self.context.notices
        match action:
            case Say():
                # Printed is heard: the notice evidence is stored and the dialogue told, as after a call's mark.
                records.record_notice_played(engine, notices, self.call, action)
                return [action.text, *self._feed(PromptFinished(action.prompt_id, now()))]
            case RecordConsent():
                records.record_consent(engine, notices, self.call, _typed(action))
            case StoreTurn():
                records.store_turn(engine, self.call, action)
            case PauseInvoice():
                records.pause_invoice(engine, self.context.accounts, self.call, action)
            case StopPlaying():
                pass  # printed text was read as it came: nothing is still playing to stop
            case EndCall():
                records.record_end(
                    engine,
                    self.call,
                    action,
                    self.dialogue.assistance.summary,
                    dial_target=self.context.settings.telephony.agent_target.label,
                )
                reason = action.reason.value if action.reason else ASSISTANT_ENDED
                self._close(ChatEnd(action.outcome.value, reason))
            case _:
                raise TypeError(f"unknown action {action!r}")
        return []

    def _close(self, end: ChatEnd) -> ChatEnd:
        self.ended = end
        calls.update_status(self.context.engine, self.call.call_sid, "completed")
        return end


def _typed(record: RecordConsent) -> RecordConsent:
    """The ledger notes the channel: every answer in a chat was typed, words or keys."""
    if record.method is Method.NONE:
        return record
    return dataclasses.replace(record, method=Method.TEXT)


# -- the command's loop ----------------------------------------------------------------------------------------


def typed_lines(stream: BinaryIO) -> Iterator[str]:
    """Each line as text, cut at MAX_LINE_BYTES (the rest of a longer line is skipped); bytes that are not UTF-8
    become replacement characters rather than stopping the chat."""
    while line := stream.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            rest = line
            while rest and not rest.endswith(b"\n"):
                rest = stream.readline(MAX_LINE_BYTES + 1)
            line = line[:MAX_LINE_BYTES]
        yield line.rstrip(b"\r\n").decode("utf-8", errors="replace")


class ChatPrinter:
    """What the assistant says, as plain lines for a person or as JSON lines for a script."""

    def __init__(self, stream: BinaryIO, *, jsonl: bool) -> None:
        self.stream = stream
        self.jsonl = jsonl

    def said(self, texts: list[str]) -> None:
        for text in texts:
            self._write({"say": text} if self.jsonl else f"assistant: {text}")

    def ended(self, end: ChatEnd) -> None:
        if self.jsonl:
            self._write({"end": end.outcome, "reason": end.reason})
        elif end.outcome == CallOutcome.TRANSFER.value:
            self._write(f"chat ended: handed to a person ({end.reason})")
        else:
            self._write(f"chat ended: {end.reason.replace('_', ' ')}")

    def _write(self, record: dict[str, str] | str) -> None:
        # Bytes: UTF-8 whatever the locale, flushed so that a script reading line by line gets each at once.
        line = json.dumps(record, ensure_ascii=False) if isinstance(record, dict) else record
        self.stream.write((line + "\n").encode("utf-8"))
        self.stream.flush()


def run_chat(session: ChatSession, lines: Iterator[str], printer: ChatPrinter, errors: BinaryIO) -> ChatEnd:
    """Greets, then takes one line a turn until the chat ends or the caller hangs up (an empty line, the end)."""
    try:
        printer.said(session.start())
        for line in lines:
            if session.ended is not None:
                break
            if not line.strip():
                break
            try:
                printer.said(session.turn(line))
            except ChatInputError as error:
                errors.write(f"ignored: {error}\n".encode())
                errors.flush()
        end = session.hang_up()
    except KeyboardInterrupt:  # an operator leaving an interactive chat hangs up like a caller
        end = session.hang_up()
    except Exception:
        log.exception("chat %s: dialogue failed", session.call_id)
        end = session.fail()
    printer.ended(end)
    return end
