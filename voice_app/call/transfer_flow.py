"""What follows a call's stream: the hand-over to a person, told by Twilio's follow-up requests.

A pure state machine like the dialogue, testable with text alone. Each follow-up request is an event; the call's
stored facts are the state (the next request may reach another instance, so the state lives in the database);
the result is a plan: the actions to carry out, then Twilio's answer, or the event to handle next once the
actions are carried out and the facts read again.

A call the assistant ended with goodbye hangs up. Any other goes to a person: outside business hours at once to the
choice (callback or voice message), else to the agents (a dial that whispers the briefing, or the queue). A dial
or queue nobody answered opens the callback request and offers the same choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voice_app.dialogue.prompts import Prompt
from voice_app.handoff.models import HandoffOutcome
from voice_app.models import CallOutcome, HandoffReason

CALLBACK_KEY, VOICEMAIL_KEY = "1", "2"
_REASONS = {reason.value for reason in HandoffReason}


@dataclass(frozen=True)
class CallFacts:
    """What is stored about the call, and what holds now for this instance."""

    outcome: str | None
    handoff_reason: str | None
    handoff_topic: str | None
    briefed: bool  # the hand-over record (with the briefing) exists
    after_hours: bool  # the hand-over ended outside business hours
    voicemail_stored: bool
    business_open: bool
    whisper_possible: bool  # the agent target rings someone who can hear the briefing (not a queue)

    @property
    def reason(self) -> HandoffReason:
        """Why the call went to a person; a stream that broke off left none."""
        reason = self.handoff_reason
        return HandoffReason(reason) if reason in _REASONS else HandoffReason.STREAM_LOST


# Events: Twilio's follow-up requests --------------------------------------------------------------------


@dataclass(frozen=True)
class StreamOver:
    """The Connect action: our server closed the stream."""


@dataclass(frozen=True)
class ArrivedWhileDraining:
    """The voice webhook of a new call while this instance shuts down."""


@dataclass(frozen=True)
class HandOver:
    """The assistant is done with the caller (follows one of the above)."""


@dataclass(frozen=True)
class DialEnded:
    status: str
    connected: bool


@dataclass(frozen=True)
class QueueLeft:
    result: str
    connected: bool
    caller_hung_up: bool


@dataclass(frozen=True)
class KeyChosen:
    digits: str


@dataclass(frozen=True)
class VoicemailReserved:
    reserved: bool  # False when the call has a voice message already


@dataclass(frozen=True)
class VoicemailOver:
    """The voice message stream closed."""


FlowEvent = (
    StreamOver | ArrivedWhileDraining | HandOver | DialEnded | QueueLeft | KeyChosen | VoicemailReserved | VoicemailOver
)


# Actions -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecideTransfer:
    reason: HandoffReason
    failure: bool  # counted as an error


@dataclass(frozen=True)
class Brief:
    """The hand-over record, for a call whose stream broke off before the assistant stored one."""

    reason: HandoffReason
    topic: str | None


@dataclass(frozen=True)
class OpenCallback:
    """Opens the callback request, or gives the open one the number this request calls from."""


@dataclass(frozen=True)
class FinishHandoff:
    outcome: HandoffOutcome


@dataclass(frozen=True)
class Note:
    kind: str
    detail: str = ""


@dataclass(frozen=True)
class ReserveVoicemail:
    """Reserves the call's one voice message; the answer comes back as `VoicemailReserved`."""


@dataclass(frozen=True)
class Log:
    text: str  # never personal data
    warning: bool = False


FlowAction = DecideTransfer | Brief | OpenCallback | FinishHandoff | Note | ReserveVoicemail | Log


# Answers for Twilio ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Transfer:
    """To the agent target; `follow_up` says which request Twilio makes when it is over (none: Twilio hangs up)."""

    follow_up: str | None  # "dial" (with the whisper of the briefing), "queue", or None


@dataclass(frozen=True)
class OfferChoice:
    after_hours: bool


@dataclass(frozen=True)
class PlayThenHangup:
    prompt: Prompt


@dataclass(frozen=True)
class ConnectVoicemail:
    pass


Answer = Hangup | Transfer | OfferChoice | PlayThenHangup | ConnectVoicemail


@dataclass(frozen=True)
class Plan:
    actions: list[FlowAction] = field(default_factory=list)
    answer: Answer | None = None
    then: FlowEvent | None = None  # handled next, on facts read again after the actions


def follow(facts: CallFacts | None, event: FlowEvent) -> Plan:
    """The plan for one event; `facts` is None for a call we do not know."""
    if facts is None:
        return _unknown_call(event)
    match event:
        case StreamOver():
            return _stream_over(facts)
        case ArrivedWhileDraining():
            return Plan(
                [
                    DecideTransfer(HandoffReason.SERVER_SHUTDOWN, failure=False),
                    Note("handed_over", HandoffReason.SERVER_SHUTDOWN.value),
                    Log("incoming while the server drains, straight to a person"),
                ],
                then=HandOver(),
            )
        case HandOver():
            return _hand_over(facts)
        case DialEnded(connected=True) | QueueLeft(connected=True):
            return Plan([FinishHandoff(HandoffOutcome.CONNECTED)], Hangup())
        case DialEnded():
            return _agent_not_reached(facts, event.status)
        case QueueLeft():
            plan = _agent_not_reached(facts, f"queue {event.result}")
            # A caller who hung up in the queue is gone; the callback request is what is left.
            return Plan(plan.actions, Hangup()) if event.caller_hung_up else plan
        case KeyChosen():
            return _key_chosen(facts, event.digits)
        case VoicemailReserved(reserved=True):
            return Plan([Note("caller_choice", "voicemail")], ConnectVoicemail())
        case VoicemailReserved():
            return _callback_stands(facts, [Log("a voice message was already recorded; the callback stands")])
        case VoicemailOver():
            return Plan(
                answer=PlayThenHangup(Prompt.VOICEMAIL_THANKS) if facts.voicemail_stored else _callback_promise(facts)
            )
    raise TypeError(f"unknown event {event!r}")


def _unknown_call(event: FlowEvent) -> Plan:
    if isinstance(event, StreamOver):
        return Plan(
            [Log("Connect action for an unknown call; sending the caller to a person", warning=True)],
            Transfer(follow_up=None),
        )
    return Plan(answer=Hangup())


def _stream_over(facts: CallFacts) -> Plan:
    if facts.outcome is None:
        # The stream ended without the assistant deciding (the connection broke): the caller goes to a person.
        return Plan([DecideTransfer(HandoffReason.STREAM_LOST, failure=True)], then=StreamOver())
    return Plan([Log(f"after stream: {facts.outcome} ({facts.handoff_reason or '-'})")], then=HandOver())


def _hand_over(facts: CallFacts) -> Plan:
    if facts.outcome == CallOutcome.HANGUP:
        return Plan(answer=Hangup())
    actions = _briefed(facts)
    if not facts.business_open:
        actions += [
            OpenCallback(),
            FinishHandoff(HandoffOutcome.AFTER_HOURS),
            Log("outside business hours, callback requested, caller offered a voice message"),
        ]
        return Plan(actions, OfferChoice(after_hours=True))
    return Plan(actions, Transfer(follow_up="dial" if facts.whisper_possible else "queue"))


def _agent_not_reached(facts: CallFacts, how: str) -> Plan:
    actions = [
        *_briefed(facts),
        OpenCallback(),
        FinishHandoff(HandoffOutcome.CALLBACK_REQUESTED),
        Note("agent_not_reached", how),
        Log(f"agent not reached ({how}), callback requested, caller offered a voice message"),
    ]
    return Plan(actions, OfferChoice(after_hours=False))


def _key_chosen(facts: CallFacts, digits: str) -> Plan:
    """2 records a voice message; 1, anything else, or nothing keeps the callback request (already stored), the
    safe default."""
    actions = [*_briefed(facts), OpenCallback()]
    if digits == VOICEMAIL_KEY:
        return Plan([*actions, ReserveVoicemail()])
    if digits != CALLBACK_KEY:
        # Not logged as typed: a caller may key in anything, a phone number too.
        actions.append(Log(f"choice not understood ({len(digits)} keys), the callback stands"))
    return _callback_stands(facts, actions)


def _callback_stands(facts: CallFacts, actions: list[FlowAction]) -> Plan:
    return Plan([*actions, Note("caller_choice", "callback")], _callback_promise(facts))


def _callback_promise(facts: CallFacts) -> PlayThenHangup:
    return PlayThenHangup(Prompt.AFTER_HOURS_CALLBACK_PROMISED if facts.after_hours else Prompt.CALLBACK_PROMISED)


def _briefed(facts: CallFacts) -> list[FlowAction]:
    """Records the hand-over once: the assistant stored the full briefing already, unless the stream broke off."""
    return [] if facts.briefed else [Brief(facts.reason, facts.handoff_topic)]
