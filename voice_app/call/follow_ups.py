"""Carries out the transfer flow (`transfer_flow`) for one of Twilio's follow-up requests: reads the call's facts,
feeds the flow, and carries out its actions on the database until the flow answers. Rendering the answer as
TwiML is the route's."""

from __future__ import annotations

import logging

from voice_app import calls
from voice_app.call.transfer_flow import (
    Answer,
    Brief,
    CallFacts,
    DecideTransfer,
    FinishHandoff,
    FlowAction,
    FlowEvent,
    Log,
    Note,
    OpenCallback,
    ReserveVoicemail,
    VoicemailReserved,
    follow,
)
from voice_app.handoff.briefing import record_transfer
from voice_app.handoff.models import HandoffOutcome
from voice_app.handoff.queries import finish_handoff, handoff_of_call, note_once, request_callback
from voice_app.handoff.voicemails import reserve_voicemail, voicemail_of_call
from voice_app.models import Call, CallOutcome, utcnow
from voice_app.observability import metrics
from voice_app.services import Services

log = logging.getLogger(__name__)

# The longest chain is a lost stream: its decision, the log line, the hand-over. More would be a loop.
MAX_STEPS = 4


def follow_up(
    services: Services, call_sid: str, event: FlowEvent, callback_number: str | None
) -> tuple[Call | None, Answer]:
    """The answer to one follow-up request of the call; `callback_number` is the request's caller ID in E.164
    (personal data: stored on the callback request only, never logged)."""
    call = calls.find_call(services.engine, call_sid)
    for _ in range(MAX_STEPS):
        plan = follow(None if call is None else facts_of(services, call), event)
        reserved: bool | None = None
        for action in plan.actions:
            result = _carry_out(services, call, action, callback_number)
            reserved = reserved if result is None else result
        if plan.answer is not None:
            return call, plan.answer
        if reserved is not None:
            event = VoicemailReserved(reserved)
        elif plan.then is not None:
            event = plan.then
            call = calls.find_call(services.engine, call_sid)
        else:
            break
    raise RuntimeError(f"the transfer flow gave no answer to {event!r}")


def facts_of(services: Services, call: Call) -> CallFacts:
    engine, call_id = services.engine, calls.id_of(call)
    handoff = handoff_of_call(engine, call_id)
    telephony = services.settings.telephony
    return CallFacts(
        outcome=call.outcome,
        handoff_reason=call.handoff_reason,
        handoff_topic=call.handoff_topic,
        briefed=handoff is not None,
        after_hours=handoff is not None and handoff.outcome == HandoffOutcome.AFTER_HOURS,
        voicemail_stored=voicemail_of_call(engine, call_id) is not None,
        business_open=telephony.business_hours.open_at(utcnow()),
        whisper_possible=telephony.agent_target.whisper_possible,
    )


def _carry_out(services: Services, call: Call | None, action: FlowAction, callback_number: str | None) -> bool | None:
    """Carries out one action; for `ReserveVoicemail`, whether the message was reserved."""
    if isinstance(action, Log):
        text = action.text if call is None else f"call {call.id}: {action.text}"
        log.log(logging.WARNING if action.warning else logging.INFO, text)
        return None
    assert call is not None  # the flow acts only on calls we know
    engine, call_id = services.engine, calls.id_of(call)
    match action:
        case DecideTransfer(reason=reason):
            # Counted once, by the request that decided: retries of it find the decision made.
            if calls.decide_outcome(engine, call_id, CallOutcome.TRANSFER, reason) and action.failure:
                metrics.error(reason.value)
        case Brief():
            record_transfer(
                engine,
                call_id,
                reason=action.reason,
                topic=action.topic,
                customer_name=None,
                verified=False,
                dial_target=services.settings.telephony.agent_target.label,
            )
        case OpenCallback():
            request_callback(engine, call_id, callback_number)
        case FinishHandoff():
            finish_handoff(engine, call_id, action.outcome, utcnow())
        case Note():
            # Each note tells of a step taken once per call; a retried request must not tell it again.
            note_once(engine, call_id, action.kind, action.detail)
        case ReserveVoicemail():
            return reserve_voicemail(engine, call_id) is not None
    return None
