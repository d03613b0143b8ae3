"""Twilio's webhook forms, both sides: what each request of a call carries and how the app reads it (strictly:
a field that is missing, malformed or outside Twilio's documented values is refused), and the fields the simulator,
playing Twilio, sends.

Only the fields the app acts on are read; Twilio sends many more. The signature over the whole form is checked
before any of this (`telephony.signatures`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
MAX_NUMBER_FIELD_LENGTH = 64

TERMINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
CALL_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress", *TERMINAL_CALL_STATUSES})
# DialCallStatus of the <Dial> action; the first two mean the agent took the call.
DIAL_CONNECTED = frozenset({"completed", "answered"})
DIAL_STATUSES = DIAL_CONNECTED | {"busy", "no-answer", "failed", "canceled"}
# Every QueueResult Twilio documents for the <Enqueue> action; the first three mean an agent took the call.
QUEUE_CONNECTED = frozenset({"bridged", "bridging-in-process", "redirected-from-bridged"})
QUEUE_RESULTS = QUEUE_CONNECTED | {"hangup", "leave", "redirected", "queue-full", "error", "system-error"}
QUEUE_CALLER_HUNG_UP = "hangup"

Form = Mapping[str, str]


class FormError(ValueError):
    """A webhook form that is not what Twilio sends; the message says which field, for a 400 answer."""


@dataclass(frozen=True)
class CallRequest:
    """Any request about a call of ours (a Connect, Gather or Dial action)."""

    call_sid: str
    caller_number: str | None  # the caller ID as sent, None when absent or too long to be a number


@dataclass(frozen=True)
class IncomingCall:
    call_sid: str
    caller_number: str
    called_number: str


@dataclass(frozen=True)
class StatusCallback:
    call_sid: str
    status: str


@dataclass(frozen=True)
class DialResult:
    call: CallRequest
    status: str

    @property
    def connected(self) -> bool:
        return self.status in DIAL_CONNECTED


@dataclass(frozen=True)
class QueueResult:
    call: CallRequest
    result: str

    @property
    def connected(self) -> bool:
        return self.result in QUEUE_CONNECTED

    @property
    def caller_hung_up(self) -> bool:
        return self.result == QUEUE_CALLER_HUNG_UP


@dataclass(frozen=True)
class GatherResult:
    call: CallRequest
    digits: str  # what the caller keyed, possibly nothing


# --- Twilio -> app ---------------------------------------------------------------------------------


def call_sid_of(form: Form) -> str | None:
    """The request's CallSid if it is one, for naming the call in logs before the form is read."""
    call_sid = form.get("CallSid", "")
    return call_sid if CALL_SID.match(call_sid) else None


def parse_incoming_call(form: Form) -> IncomingCall:
    return IncomingCall(_call_sid(form), _field(form, "From"), _field(form, "To"))


def parse_call_request(form: Form) -> CallRequest:
    raw = form.get("From", "")
    return CallRequest(_call_sid(form), raw if 0 < len(raw) <= MAX_NUMBER_FIELD_LENGTH else None)


def parse_status_callback(form: Form) -> StatusCallback:
    call_sid = _call_sid(form)
    return StatusCallback(call_sid, _one_of(form, "CallStatus", CALL_STATUSES))


def parse_dial_result(form: Form) -> DialResult:
    call = parse_call_request(form)
    return DialResult(call, _one_of(form, "DialCallStatus", DIAL_STATUSES))


def parse_queue_result(form: Form) -> QueueResult:
    call = parse_call_request(form)
    return QueueResult(call, _one_of(form, "QueueResult", QUEUE_RESULTS))


def parse_gather_result(form: Form) -> GatherResult:
    """Digits are not validated: whatever the caller keyed is theirs to get wrong, and the app reads it safely."""
    return GatherResult(parse_call_request(form), form.get("Digits", ""))


def _call_sid(form: Form) -> str:
    return _field(form, "CallSid", CALL_SID)


def _field(form: Form, name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = form.get(name, "")
    if not value or len(value) > MAX_NUMBER_FIELD_LENGTH or (pattern and not pattern.match(value)):
        raise FormError(f"missing or malformed field {name}")
    return value


def _one_of(form: Form, name: str, allowed: frozenset[str]) -> str:
    value = _field(form, name)
    if value not in allowed:
        raise FormError(f"unknown {name} {value[:32]!r}")
    return value


# --- app <- Twilio, as the simulator sends it ---------------------------------------------------------


def call_fields(account_sid: str, call_sid: str, caller_number: str, called_number: str) -> dict[str, str]:
    """The fields Twilio sends with every request of an inbound call."""
    return {
        "AccountSid": account_sid,
        "CallSid": call_sid,
        "From": caller_number,
        "To": called_number,
        "Called": called_number,
        "Caller": caller_number,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


def dial_result_fields(status: str, dial_call_sid: str, talked_seconds: int) -> dict[str, str]:
    if status not in DIAL_STATUSES:
        raise ValueError(f"unknown DialCallStatus {status!r}")
    return {
        "CallStatus": "in-progress",
        "DialCallStatus": status,
        "DialCallSid": dial_call_sid,
        "DialCallDuration": str(talked_seconds),
        "DialBridged": "true" if status == "completed" else "false",
    }


def queue_result_fields(result: str, queue_sid: str, waited_seconds: int) -> dict[str, str]:
    if result not in QUEUE_RESULTS:
        raise ValueError(f"unknown QueueResult {result!r}")
    return {
        "QueueResult": result,
        "QueueSid": queue_sid,
        "QueueTime": str(waited_seconds),
        "CallStatus": "completed" if result == QUEUE_CALLER_HUNG_UP else "in-progress",
    }


def gather_result_fields(digits: str) -> dict[str, str]:
    return {"CallStatus": "in-progress", "Digits": digits}


def status_callback_fields(status: str, duration_seconds: int) -> dict[str, str]:
    if status not in CALL_STATUSES:
        raise ValueError(f"unknown CallStatus {status!r}")
    return {"CallStatus": status, "CallDuration": str(duration_seconds)}
