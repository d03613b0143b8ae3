"""The reader's turn taking and the answer-latency observer, with stand-ins for the detector, player and records."""

from __future__ import annotations

from types import SimpleNamespace

from voice_app.call import observers as call_observers
from voice_app.call.executor import split_first_sentence
from voice_app.call.inputs import PromptStarted, SpeechBegan, Utterance
from voice_app.call.observers import (
    AnswerLatency,
    Said,
    TurnStored,
    Understood,
    UtteranceAnswered,
    UtteranceTaken,
)
from voice_app.call.turn_taking import Gate, TurnTaking
from voice_app.dialogue.messages import PromptFinished, Say
from voice_app.models import Call
from voice_app.speech.turns import SpeechStarted, UtteranceEnded

FRAME = b"\xff" * 160


class ScriptedDetector:
    def __init__(self, turns):
        self.turns = list(turns)
        self.resets = 0

    def push(self, _pcm16):
        return self.turns.pop(0) if self.turns else None

    def reset(self):
        self.resets += 1


class Player:
    def __init__(self, playing):
        self.playing = list(playing)

    def clear(self):
        cleared, self.playing = self.playing, []
        return cleared


def turn_taking(turns, playing=()):
    heard = []
    detector = ScriptedDetector(turns)
    return TurnTaking(detector, Player(playing), heard.append), detector, heard


def test_nothing_is_heard_until_the_executor_lets_the_reader_listen():
    taking, detector, heard = turn_taking([SpeechStarted()])
    taking.hear(FRAME)
    assert heard == [] and detector.turns, "the frame never reached the detector"
    taking.post(Gate(listening=True))
    taking.hear(FRAME)
    assert heard == [SpeechBegan()] and detector.resets == 1


def test_speech_over_an_interruptible_prompt_cuts_it():
    taking, _, heard = turn_taking([SpeechStarted()], playing=["p1", "p2"])
    taking.post(Gate(listening=True, interruptible=True))
    taking.hear(FRAME)
    cut = [item for item in heard if isinstance(item, PromptFinished)]
    assert [item.prompt_id for item in cut] == ["p1", "p2"]
    # The dialogue is told the caller talked over it, at the moment the prompts were cut.
    assert heard[-1] == SpeechBegan(talked_over_at=cut[0].at)


def test_speech_over_a_prompt_that_may_not_be_cut_lets_it_play():
    taking, _, heard = turn_taking(
        [SpeechStarted(), UtteranceEnded(b"\0\0" * 160, 20, truncated=False)], playing=["notice"]
    )
    taking.post(Gate(listening=True, interruptible=False))
    taking.hear(FRAME)
    taking.hear(FRAME)
    assert heard[0] == SpeechBegan() and isinstance(heard[1], Utterance)


def say(prompt_id):
    return Say(prompt_id, "text", "en", interruptible=True)


def test_the_first_prompt_of_a_reply_is_timed_from_the_callers_last_word(monkeypatch):
    stored = []
    monkeypatch.setattr(
        call_observers.calls,
        "record_answer_latency",
        lambda _engine, call_id, latency_ms, turn_id, stages: stored.append((call_id, latency_ms, turn_id, stages)),
    )
    monkeypatch.setattr(call_observers.metrics, "answered", lambda _seconds: None)
    monkeypatch.setattr(call_observers.metrics, "turn_stages", lambda _stages: None)
    call = Call(id=7, call_sid="CA" + "0" * 32, caller="x", called_number="y", language="en")
    latency = AnswerLatency(services=SimpleNamespace(engine=None), call=call)
    latency.observe(UtteranceTaken(ended_at=10.0, end_of_turn_seconds=0.25))
    latency.observe(Understood(seconds=0.05, account_lookup_seconds=0.01))
    latency.observe(TurnStored(turn_id=3))
    latency.observe(Said(say("reply"), at=None, synthesis_seconds=0.2, queued_at=10.6))
    latency.observe(Said(say("more"), at=None, synthesis_seconds=0.3, queued_at=10.9))
    latency.observe(UtteranceAnswered())
    latency.observe(Said(say("later"), at=None))
    for prompt_id, sent_at in (("more", 10.9), ("reply", 10.75), ("later", 20.0)):
        latency.observe(PromptStarted(prompt_id, sent_at))
    stages = {"end_of_turn": 250, "understanding": 50, "account_lookup": 10, "synthesis": 200, "first_frame": 150}
    assert stored == [(7, 750, 3, stages)]


def test_a_composed_answer_is_split_after_its_first_sentence():
    assert split_first_sentence("Your balance is 12.50 euros. Anything else?") == (
        "Your balance is 12.50 euros.",
        "Anything else?",
    )
    assert split_first_sentence("Wirklich? Ja! Gut.") == ("Wirklich?", "Ja! Gut.")
    assert split_first_sentence("Only one sentence.") == ("Only one sentence.", "")
