"""The transfer flow with text alone: from the call's stored facts and Twilio's follow-up request to the actions
and the answer."""

from __future__ import annotations

import dataclasses

import pytest

from voice_app.call.transfer_flow import (
    ArrivedWhileDraining,
    Brief,
    CallFacts,
    ConnectVoicemail,
    DecideTransfer,
    DialEnded,
    FinishHandoff,
    HandOver,
    Hangup,
    KeyChosen,
    Log,
    Note,
    OfferChoice,
    OpenCallback,
    PlayThenHangup,
    QueueLeft,
    ReserveVoicemail,
    StreamOver,
    Transfer,
    VoicemailOver,
    VoicemailReserved,
    follow,
)
from voice_app.dialogue.prompts import Prompt
from voice_app.handoff.models import HandoffOutcome
from voice_app.models import HandoffReason

HANDED_OVER = CallFacts(
    outcome="transfer",
    handoff_reason="caller_asked",
    handoff_topic="fraud",
    briefed=True,
    after_hours=False,
    voicemail_stored=False,
    business_open=True,
    whisper_possible=True,
)


def facts(**changes) -> CallFacts:
    return dataclasses.replace(HANDED_OVER, **changes)


def without_logs(actions):
    return [action for action in actions if not isinstance(action, Log)]


def test_a_stream_that_broke_off_is_decided_as_lost_then_handed_over():
    plan = follow(facts(outcome=None, handoff_reason=None, briefed=False), StreamOver())
    assert plan.actions == [DecideTransfer(HandoffReason.STREAM_LOST, failure=True)]
    assert plan.answer is None and plan.then == StreamOver()
    lost = facts(handoff_reason="stream_lost", briefed=False)
    assert follow(lost, StreamOver()).then == HandOver()
    handed_over = follow(lost, HandOver())
    assert handed_over.actions == [Brief(HandoffReason.STREAM_LOST, "fraud")]
    assert handed_over.answer == Transfer(follow_up="dial")


def test_a_goodbye_hangs_up():
    assert follow(facts(outcome="hangup", handoff_reason=None), HandOver()).answer == Hangup()


def test_the_briefing_the_assistant_stored_is_not_recorded_again():
    plan = follow(HANDED_OVER, HandOver())
    assert plan.actions == [] and plan.answer == Transfer(follow_up="dial")


def test_a_queue_cannot_whisper_and_reports_how_the_caller_left_it():
    assert follow(facts(whisper_possible=False), HandOver()).answer == Transfer(follow_up="queue")


def test_outside_business_hours_the_callback_is_opened_and_the_choice_offered():
    plan = follow(facts(business_open=False), HandOver())
    assert without_logs(plan.actions) == [OpenCallback(), FinishHandoff(HandoffOutcome.AFTER_HOURS)]
    assert plan.answer == OfferChoice(after_hours=True)


def test_a_call_arriving_while_draining_goes_straight_to_a_person():
    plan = follow(facts(outcome=None, handoff_reason=None, briefed=False), ArrivedWhileDraining())
    assert without_logs(plan.actions) == [
        DecideTransfer(HandoffReason.SERVER_SHUTDOWN, failure=False),
        Note("handed_over", "server_shutdown"),
    ]
    assert plan.then == HandOver()


@pytest.mark.parametrize(
    "event", [DialEnded("completed", connected=True), QueueLeft("bridged", connected=True, caller_hung_up=False)]
)
def test_an_agent_who_took_the_call_ends_the_flow(event):
    plan = follow(HANDED_OVER, event)
    assert plan.actions == [FinishHandoff(HandoffOutcome.CONNECTED)] and plan.answer == Hangup()


def test_a_dial_nobody_answered_opens_the_callback_and_offers_the_choice():
    plan = follow(HANDED_OVER, DialEnded("no-answer", connected=False))
    assert without_logs(plan.actions) == [
        OpenCallback(),
        FinishHandoff(HandoffOutcome.CALLBACK_REQUESTED),
        Note("agent_not_reached", "no-answer"),
    ]
    assert plan.answer == OfferChoice(after_hours=False)


def test_a_caller_who_hung_up_in_the_queue_keeps_the_callback_and_gets_no_choice():
    plan = follow(HANDED_OVER, QueueLeft("hangup", connected=False, caller_hung_up=True))
    assert Note("agent_not_reached", "queue hangup") in plan.actions and plan.answer == Hangup()
    full = follow(HANDED_OVER, QueueLeft("queue-full", connected=False, caller_hung_up=False))
    assert full.answer == OfferChoice(after_hours=False)


def test_pressing_2_reserves_a_voice_message():
    plan = follow(HANDED_OVER, KeyChosen("2"))
    assert plan.actions == [OpenCallback(), ReserveVoicemail()] and plan.answer is None
    reserved = follow(HANDED_OVER, VoicemailReserved(True))
    assert reserved.actions == [Note("caller_choice", "voicemail")] and reserved.answer == ConnectVoicemail()
    taken = follow(HANDED_OVER, VoicemailReserved(False))
    assert Note("caller_choice", "callback") in taken.actions
    assert taken.answer == PlayThenHangup(Prompt.CALLBACK_PROMISED)


@pytest.mark.parametrize("digits, logged", [("1", False), ("", True), ("0301234567", True)])
def test_any_other_key_keeps_the_callback(digits, logged):
    plan = follow(facts(after_hours=True), KeyChosen(digits))
    assert without_logs(plan.actions) == [OpenCallback(), Note("caller_choice", "callback")]
    assert any(isinstance(action, Log) for action in plan.actions) == logged
    assert all(digits not in action.text for action in plan.actions if isinstance(action, Log) and digits)
    assert plan.answer == PlayThenHangup(Prompt.AFTER_HOURS_CALLBACK_PROMISED)


def test_after_the_voice_message_the_caller_is_thanked_or_promised_the_callback():
    assert follow(facts(voicemail_stored=True), VoicemailOver()).answer == PlayThenHangup(Prompt.VOICEMAIL_THANKS)
    assert follow(HANDED_OVER, VoicemailOver()).answer == PlayThenHangup(Prompt.CALLBACK_PROMISED)


def test_an_unknown_call_still_reaches_a_person_after_its_stream_and_hangs_up_otherwise():
    assert follow(None, StreamOver()).answer == Transfer(follow_up=None)
    for event in (DialEnded("busy", connected=False), KeyChosen("2"), VoicemailOver()):
        plan = follow(None, event)
        assert plan.actions == [] and plan.answer == Hangup()
