"""The consent part of the conversation as a state machine, driven by text events alone."""

from datetime import timedelta

import pytest

from consent.ledger import Decision, Method
from tests.support import AT, of
from voice_app.dialogue.machine import State
from voice_app.dialogue.messages import (
    CallerSpoke,
    CallStarted,
    DigitPressed,
    EndCall,
    PromptFinished,
    RecordConsent,
    Say,
    SilenceElapsed,
    StopPlaying,
    StoreTurn,
)
from voice_app.dialogue.prompts import Prompt, prompt_text
from voice_app.models import CallOutcome, HandoffReason


def spoke(text, language="en", confidence=0.9, language_probability=0.95):
    return CallerSpoke(text, language, language_probability, confidence, AT)


def at_consent_question(new_dialogue, language="en"):
    dialogue = new_dialogue(language)
    actions = dialogue.handle(CallStarted(AT))
    for say in of(actions, Say):
        dialogue.handle(PromptFinished(say.prompt_id, AT))
    assert dialogue.state == State.AWAITING_CONSENT
    return dialogue


def in_conversation(new_dialogue):
    dialogue = at_consent_question(new_dialogue)
    dialogue.handle(DigitPressed("1", AT))
    return dialogue


def test_greeting_discloses_ai_then_plays_the_notice_uninterruptibly(new_dialogue):
    dialogue = new_dialogue("de")
    says = of(dialogue.handle(CallStarted(AT)), Say)
    assert [say.text for say in says] == ["DE Offenlegung", "DE Einwilligung"]
    assert [say.evidence for say in says] == ["disclosure", "notice"]
    assert not any(say.interruptible for say in says)
    assert not dialogue.listening


def test_nothing_is_heard_before_the_notice_has_played(new_dialogue):
    dialogue = new_dialogue("en")
    dialogue.handle(CallStarted(AT))
    assert dialogue.handle(spoke("yes")) == []
    assert dialogue.handle(DigitPressed("1", AT)) == []
    assert dialogue.state == State.NOTICE_PLAYING


@pytest.mark.parametrize(
    "event, decision, method",
    [
        (DigitPressed("1", AT), Decision.GRANTED, Method.KEYPAD),
        (spoke("Yes, I agree."), Decision.GRANTED, Method.SPEECH),
        (spoke("ja, einverstanden", "de"), Decision.GRANTED, Method.SPEECH),
    ],
)
def test_consent_granted(new_dialogue, event, decision, method):
    language = "de" if event.__class__ is CallerSpoke and event.language == "de" else "en"
    dialogue = at_consent_question(new_dialogue, language)
    actions = dialogue.handle(event)
    record = of(actions, RecordConsent)[0]
    assert (record.decision, record.method) == (decision, method)
    assert actions.index(record) < actions.index(of(actions, Say)[0]), "consent is recorded before the call goes on"
    assert dialogue.consent_granted and dialogue.listening
    assert not of(actions, EndCall)


@pytest.mark.parametrize(
    "event, reason",
    [
        (DigitPressed("2", AT), HandoffReason.CONSENT_REFUSED),
        (spoke("No."), HandoffReason.CONSENT_REFUSED),
        (spoke("I do not agree"), HandoffReason.CONSENT_REFUSED),
        (spoke("yes... no, I don't agree"), HandoffReason.CONSENT_REFUSED),
        (spoke("I want to talk to an agent"), HandoffReason.CALLER_ASKED),
        (DigitPressed("0", AT), HandoffReason.CALLER_ASKED),
    ],
)
def test_anything_but_a_clear_yes_goes_to_a_person_and_records_refusal(new_dialogue, event, reason):
    dialogue = at_consent_question(new_dialogue)
    actions = dialogue.handle(event)
    record = of(actions, RecordConsent)[0]
    assert record.decision is Decision.REFUSED
    assert of(actions, EndCall) == [EndCall(CallOutcome.TRANSFER, reason)]
    assert not dialogue.listening and not dialogue.consent_granted
    assert dialogue.handle(spoke("yes")) == []


@pytest.mark.parametrize("heard_before", [0, 1], ids=["during the disclosure", "during the consent notice"])
def test_zero_before_the_consent_question_stops_the_notice_and_transfers_without_a_consent_record(
    new_dialogue, heard_before
):
    dialogue = new_dialogue("en")
    says = of(dialogue.handle(CallStarted(AT)), Say)
    for say in says[:heard_before]:
        dialogue.handle(PromptFinished(say.prompt_id, AT))
    actions = dialogue.handle(DigitPressed("0", AT))
    # Stop what plays, one short line, then a person: no question was put, so no consent is recorded.
    assert [type(action) for action in actions] == [StopPlaying, Say, EndCall]
    assert of(actions, Say)[0].text == prompt_text(Prompt.TRANSFER, "en")
    assert of(actions, EndCall) == [EndCall(CallOutcome.TRANSFER, HandoffReason.CALLER_ASKED)]
    assert not dialogue.listening
    assert dialogue.handle(PromptFinished(says[-1].prompt_id, AT)) == []
    assert dialogue.handle(DigitPressed("1", AT)) == []


def test_zero_at_the_consent_question_records_when_the_notice_ended_not_when_the_key_came(new_dialogue):
    dialogue = new_dialogue("en")
    says = of(dialogue.handle(CallStarted(AT)), Say)
    notice_ended = AT + timedelta(seconds=31, microseconds=417_000)
    dialogue.handle(PromptFinished(says[0].prompt_id, AT + timedelta(seconds=12)))
    dialogue.handle(PromptFinished(says[1].prompt_id, notice_ended))
    pressed = notice_ended + timedelta(seconds=2, microseconds=5_000)
    actions = dialogue.handle(DigitPressed("0", pressed))
    assert isinstance(actions[0], StopPlaying)
    record = of(actions, RecordConsent)[0]
    assert (record.decision, record.method) == (Decision.REFUSED, Method.KEYPAD)
    assert record.notice_played_at == notice_ended and record.answered_at == pressed


def test_two_unclear_answers_record_no_answer_and_transfer(new_dialogue):
    dialogue = at_consent_question(new_dialogue)
    first = dialogue.handle(spoke("what is the weather like"))
    assert of(first, Say) and not of(first, RecordConsent)
    second = dialogue.handle(spoke("hm", confidence=0.1))
    record = of(second, RecordConsent)[0]
    assert record.decision is Decision.NO_ANSWER and record.prompt_count == 2
    assert record.recognised_answer == "hm"
    assert of(second, EndCall)[0].reason is HandoffReason.CONSENT_UNCLEAR


def test_silence_twice_records_no_answer_without_method(new_dialogue):
    dialogue = at_consent_question(new_dialogue)
    assert of(dialogue.handle(SilenceElapsed(AT)), Say)
    actions = dialogue.handle(SilenceElapsed(AT))
    record = of(actions, RecordConsent)[0]
    assert (record.decision, record.method, record.answered_at) == (Decision.NO_ANSWER, Method.NONE, None)
    assert of(actions, EndCall)[0].reason is HandoffReason.CONSENT_SILENCE


def test_caller_speaking_the_other_language_hears_the_notice_again_in_it(new_dialogue):
    dialogue = at_consent_question(new_dialogue, "de")
    actions = dialogue.handle(spoke("yes I agree", "en"))
    assert not of(actions, RecordConsent)
    assert [say.text for say in of(actions, Say)] == ["EN consent notice"]
    assert dialogue.language == "en" and not dialogue.listening
    dialogue.handle(PromptFinished(of(actions, Say)[0].prompt_id, AT))
    record = of(dialogue.handle(spoke("yes")), RecordConsent)[0]
    assert (record.language, record.decision, record.prompt_count) == ("en", Decision.GRANTED, 2)


def test_an_unsure_language_detection_does_not_switch(new_dialogue):
    dialogue = at_consent_question(new_dialogue, "de")
    actions = dialogue.handle(spoke("ja", "nl", language_probability=0.5))
    assert dialogue.language == "de"
    assert of(actions, RecordConsent)[0].decision is Decision.GRANTED


def test_agent_by_voice_or_zero_after_consent(new_dialogue):
    by_voice = of(in_conversation(new_dialogue).handle(spoke("can I talk to a real person please")), EndCall)
    assert by_voice[0].reason is HandoffReason.CALLER_ASKED
    by_key = of(in_conversation(new_dialogue).handle(DigitPressed("0", AT)), EndCall)
    assert by_key[0].reason is HandoffReason.CALLER_ASKED


def test_no_turn_is_stored_before_or_without_consent(new_dialogue):
    dialogue = at_consent_question(new_dialogue)
    actions = dialogue.handle(spoke("no"))
    assert not of(actions, StoreTurn)
