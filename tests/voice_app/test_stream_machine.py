"""A call's stream as a state machine, with text and a given clock alone: which prompts play, when silence counts,
what the reader may do, how the call waits for its last prompts and how a broken stream or the drain ends it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support import AT, of
from voice_app.call.inputs import HandOverRequested, SpeechBegan, StreamEnded, StreamFailed, Utterance
from voice_app.call.stream_machine import (
    PLAYBACK_GRACE_SECONDS,
    Finish,
    PlaybackQueued,
    PostGate,
    PromptHeard,
    Recognise,
    RecordFailure,
    RecordHandOver,
    StreamMachine,
    Tick,
)
from voice_app.call.turn_taking import Gate
from voice_app.dialogue.messages import (
    CallerSpoke,
    CallStarted,
    DigitPressed,
    EndCall,
    PromptFinished,
    RecordConsent,
    Say,
    StopPlaying,
)
from voice_app.models import CallOutcome, HandoffReason

SILENCE = 6.0
MAX_UTTERANCE = 15.0


@pytest.fixture
def machine(new_dialogue):
    return StreamMachine(new_dialogue("en"), silence_timeout_seconds=SILENCE, max_utterance_seconds=MAX_UTTERANCE)


def heard_notice(machine, now=0.0):
    """Greeting and notice played to their end: the consent question waits."""
    for say in of(machine.handle(CallStarted(AT), now), Say):
        machine.handle(PromptFinished(say.prompt_id, AT), now)


def consented(machine, now=0.0):
    heard_notice(machine, now)
    machine.handle(DigitPressed("1", AT), now)
    for say in list(machine.outstanding.values()):
        machine.handle(PromptFinished(say.prompt_id, AT), now)


def test_the_notice_plays_without_listening_and_is_reported_heard(machine):
    actions = machine.handle(CallStarted(AT), 0.0)
    says = of(actions, Say)
    assert len(says) == 2 and list(machine.outstanding) == [say.prompt_id for say in says]
    assert PostGate(Gate(listening=False, interruptible=False)) not in actions  # unchanged: not posted
    first = machine.handle(PromptFinished(says[0].prompt_id, AT), 0.0)
    assert first[0] == PromptHeard(says[0], AT)
    last = machine.handle(PromptFinished(says[1].prompt_id, AT), 0.0)
    # The consent question is next: a one-word answer is expected.
    assert PostGate(Gate(listening=True, interruptible=False, short_answer=True)) in last


def test_a_mark_for_no_prompt_of_ours_is_ignored(machine):
    machine.handle(CallStarted(AT), 0.0)
    assert machine.handle(PromptFinished("not-ours", AT), 0.0) == []


def test_silence_counts_from_the_last_prompt_heard(machine):
    heard_notice(machine, now=10.0)
    assert machine.handle(Tick(AT), 10.0 + SILENCE - 0.1) == []
    actions = machine.handle(Tick(AT), 10.0 + SILENCE)
    assert of(actions, Say), "the consent question is asked again"


def test_speech_holds_the_silence_clock_for_the_longest_utterance(machine):
    heard_notice(machine, now=0.0)
    machine.handle(SpeechBegan(), 1.0)
    assert machine.handle(Tick(AT), 1.0 + MAX_UTTERANCE + SILENCE - 0.1) == []
    assert machine.handle(Tick(AT), 1.0 + MAX_UTTERANCE + SILENCE) != []


def test_an_utterance_is_recognised_then_answered(machine):
    consented(machine)
    utterance = Utterance(b"\0\0" * 160, ended_at=3.0)
    assert machine.handle(utterance, 3.0) == [Recognise(utterance, known_language="en", fallback_language="en")]
    actions = machine.handle(CallerSpoke("when is my next payment due", "en", 1.0, 0.9, AT), 4.0)
    say = of(actions, Say)[0]
    assert say.interruptible and PostGate(Gate(listening=True, interruptible=True)) in actions


def test_a_refusal_stops_listening_at_once_and_the_call_waits_for_its_last_prompt(machine):
    heard_notice(machine)
    actions = machine.handle(DigitPressed("2", AT), 5.0)
    consent, end = of(actions, RecordConsent)[0], of(actions, EndCall)[0]
    assert actions.index(consent) < actions.index(PostGate(Gate(listening=False, interruptible=False)))
    assert end.outcome is CallOutcome.TRANSFER and machine.ending
    assert machine.handle(PlaybackQueued(2.0), 5.0) == []
    assert machine.handle(DigitPressed("0", AT), 5.5) == [] and machine.handle(Tick(AT), 6.0) == []
    closing = of(actions, Say)[-1]
    assert machine.handle(PromptFinished(closing.prompt_id, AT), 6.5)[-1] == Finish()


def test_the_wait_for_the_last_prompt_has_a_deadline(machine):
    heard_notice(machine)
    machine.handle(DigitPressed("2", AT), 5.0)
    machine.handle(PlaybackQueued(2.0), 5.0)
    assert machine.handle(Tick(AT), 5.0 + 2.0 + PLAYBACK_GRACE_SECONDS - 0.1) == []
    assert machine.handle(Tick(AT), 5.0 + 2.0 + PLAYBACK_GRACE_SECONDS) == [Finish()]


@pytest.mark.parametrize(
    "event, recorded",
    [
        (StreamFailed(HandoffReason.STREAM_ERROR), [RecordFailure(HandoffReason.STREAM_ERROR)]),
        (HandOverRequested(HandoffReason.SERVER_SHUTDOWN), [RecordHandOver(HandoffReason.SERVER_SHUTDOWN)]),
        (StreamEnded(), []),
    ],
)
def test_a_stop_ends_the_call_once(machine, event, recorded):
    consented(machine)
    assert machine.handle(event, 1.0) == [*recorded, Finish()]
    assert machine.handle(DigitPressed("0", AT), 1.0) == [] and machine.finished


def test_zero_during_the_notice_stops_it_and_only_what_finished_counts_as_heard(machine):
    disclosure, notice = of(machine.handle(CallStarted(AT), 0.0), Say)
    disclosure_ended = AT + timedelta(seconds=12, microseconds=345_000)
    assert PromptHeard(disclosure, disclosure_ended) in machine.handle(
        PromptFinished(disclosure.prompt_id, disclosure_ended), 12.3
    )
    actions = machine.handle(DigitPressed("0", AT + timedelta(seconds=14)), 14.0)
    assert isinstance(actions[0], StopPlaying) and machine.ending
    (transfer_line,) = of(actions, Say)
    assert list(machine.outstanding) == [transfer_line.prompt_id]
    # Twilio echoes the dropped notice's mark on the clear: it was not heard, so it is no evidence.
    assert machine.handle(PromptFinished(notice.prompt_id, AT + timedelta(seconds=14)), 14.0) == []
    machine.handle(PlaybackQueued(2.0), 14.0)
    ended = machine.handle(PromptFinished(transfer_line.prompt_id, AT + timedelta(seconds=16)), 16.0)
    assert PromptHeard(transfer_line, AT + timedelta(seconds=16)) in ended and ended[-1] == Finish()


def test_talking_over_the_assistant_again_and_again_goes_to_a_person(machine):
    consented(machine)
    machine.handle(SpeechBegan(), 1.0)  # speech while nothing was cut short is no barge-in
    for second in (2.0, 3.0):
        assert of(machine.handle(SpeechBegan(talked_over_at=AT), second), EndCall) == []
    ended = of(machine.handle(SpeechBegan(talked_over_at=AT), 4.0), EndCall)
    assert [(end.outcome, end.reason) for end in ended] == [(CallOutcome.TRANSFER, HandoffReason.CALLER_FRUSTRATED)]
