"""The dialogue and the call's stream machine driven by random sequences of what a caller and Twilio can do:
prompts ending (or marks for no prompt), keys, speech in either language, silences, in any order. Invariants: no
exception; consent is recorded at most once (a later withdrawal aside), and only after the consent notice was
heard; nothing the caller says is stored without consent granted and standing; and from wherever the call is,
the caller still reaches a person."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from consent.ledger import Decision
from tests.support import AT, NOTICES
from voice_app.call.stream_machine import StreamMachine, Tick
from voice_app.dialogue.machine import Dialogue
from voice_app.dialogue.messages import (
    CallerSpoke,
    CallStarted,
    DigitPressed,
    EndCall,
    Event,
    PromptFinished,
    RecordConsent,
    Say,
    SilenceElapsed,
    StoreTurn,
)

PHRASES = {
    "en": [
        "Yes, I agree.",
        "yes",
        "No, I don't agree.",
        "I want to speak to an agent.",
        "I withdraw my consent.",
        "Is my last invoice paid?",
        "When is my next payment due?",
        "My date of birth is the 12th of March 1985.",
        "My customer number is 1 2 3 4 5 6.",
        "No thanks, that's all. Goodbye!",
        "Someone stole my card.",
        "",
    ],
    "de": ["Ja.", "Nein.", "Ich möchte einen Mitarbeiter sprechen.", "Ich widerrufe meine Einwilligung.", "Tschüss."],
}
DIGITS = "0123456789*#"
DEMO_CALLER = "+4915112345678"

spoken = st.builds(
    lambda language, text, confidence, probability: ("speak", language, text, confidence, probability),
    st.sampled_from(["en", "de"]),
    st.one_of(st.sampled_from(PHRASES["en"] + PHRASES["de"]), st.text(max_size=60)),
    st.floats(0, 1),
    st.floats(0, 1),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("finish"), st.integers(0, 5)),
        st.tuples(st.just("stray_mark"), st.text(max_size=8).map("stray-{}".format)),
        st.tuples(st.just("press"), st.sampled_from(DIGITS)),
        spoken,
        st.tuples(st.just("silence")),
    ),
    max_size=25,
)


@dataclass
class Watch:
    """What the dialogue did so far, against the invariants."""

    outstanding: list[Say] = field(default_factory=list)
    notice_heard: bool = False
    decisions: list[Decision] = field(default_factory=list)
    ended: bool = False

    def saw(self, actions) -> None:
        for action in actions:
            match action:
                case Say():
                    self.outstanding.append(action)
                case RecordConsent():
                    assert self.notice_heard, "consent recorded before the notice was heard"
                    assert action.answered_at is None or action.notice_played_at <= action.answered_at
                    self.decisions.append(action.decision)
                    first, rest = self.decisions[0], self.decisions[1:]
                    assert rest in ([], [Decision.WITHDRAWN]) and (not rest or first is Decision.GRANTED), (
                        self.decisions
                    )
                case StoreTurn():
                    assert self.decisions in ([Decision.GRANTED],), f"a turn stored with consent {self.decisions}"
                case EndCall():
                    self.ended = True

    def finished(self, say: Say) -> None:
        if say.evidence == "notice":
            self.notice_heard = True


def new_dialogue(classifier, demo_accounts, language: str, known_caller: bool) -> Dialogue:
    return Dialogue(
        language,
        NOTICES,
        min_transcript_confidence=0.12,
        classifier=classifier,
        accounts=demo_accounts,
        caller=demo_accounts.find_by_phone(DEMO_CALLER) if known_caller else None,
        today=date.today(),
    )


def drive(dialogue: Dialogue, script, watch: Watch) -> None:
    at = AT
    watch.saw(dialogue.handle(CallStarted(at)))
    for step in script:
        at += timedelta(seconds=1)
        match step:
            case ("finish", index) if watch.outstanding:
                say = watch.outstanding.pop(index % len(watch.outstanding))
                watch.finished(say)
                actions = dialogue.handle(PromptFinished(say.prompt_id, at))
            case ("finish", _):
                continue
            case ("stray_mark", name):
                actions = dialogue.handle(PromptFinished(name, at))
            case ("press", digit):
                actions = dialogue.handle(DigitPressed(digit, at))
            case ("speak", language, text, confidence, probability):
                actions = dialogue.handle(CallerSpoke(text, language, probability, confidence, at))
            case ("silence",):
                actions = dialogue.handle(SilenceElapsed(at))
        watch.saw(actions)


def person_reached(dialogue: Dialogue, watch: Watch) -> bool:
    """Asks for a person the ways the caller is told of (0, saying so), and lets prompts end and silence pass."""
    at = AT + timedelta(hours=1)
    probes: list[Event] = [
        DigitPressed("0", at),
        CallerSpoke("I want to speak to an agent.", "en", 0.99, 0.9, at),
        *[PromptFinished(say.prompt_id, at) for say in watch.outstanding],
        DigitPressed("0", at),
        DigitPressed("#", at),
        SilenceElapsed(at),
        SilenceElapsed(at),
        DigitPressed("0", at),
    ]
    for probe in probes:
        for action in dialogue.handle(probe):
            if isinstance(action, EndCall):
                return True
    return False


@given(script=steps, language=st.sampled_from(["en", "de"]), known_caller=st.booleans())
def test_random_calls_keep_the_consent_and_storage_invariants_and_a_person_in_reach(
    classifier, demo_accounts, script, language, known_caller
):
    dialogue = new_dialogue(classifier, demo_accounts, language, known_caller)
    watch = Watch()
    drive(dialogue, script, watch)
    if not watch.ended:
        assert person_reached(dialogue, watch), (dialogue.state, watch)


@given(keys=st.text(DIGITS, max_size=40), consent_key=st.sampled_from(["1", "2", "0", "5"]))
def test_any_keys_after_the_notice_are_read_without_error_and_reach_a_person(
    classifier, demo_accounts, keys, consent_key
):
    dialogue = new_dialogue(classifier, demo_accounts, "en", True)
    watch = Watch()
    drive(dialogue, [("finish", 0), ("finish", 0), ("press", consent_key), *[("press", key) for key in keys]], watch)
    if not watch.ended:
        assert person_reached(dialogue, watch), (dialogue.state, watch)


@given(script=steps)
def test_the_stream_machine_takes_any_sequence_and_ends_with_a_person_or_a_goodbye(classifier, demo_accounts, script):
    machine = StreamMachine(
        new_dialogue(classifier, demo_accounts, "en", False), silence_timeout_seconds=6, max_utterance_seconds=15
    )
    watch = Watch()
    now = 0.0
    watch.saw(machine.handle(CallStarted(AT), now))
    for step in script:
        now += 1.5
        at = AT + timedelta(seconds=now)
        match step:
            case ("finish", index) if machine.outstanding:
                prompt_id = list(machine.outstanding)[index % len(machine.outstanding)]
                watch.finished(machine.outstanding[prompt_id])
                actions = machine.handle(PromptFinished(prompt_id, at), now)
            case ("stray_mark", name):
                actions = machine.handle(PromptFinished(name, at), now)
            case ("press", digit):
                actions = machine.handle(DigitPressed(digit, at), now)
            case ("speak", language, text, confidence, probability):
                actions = machine.handle(CallerSpoke(text, language, probability, confidence, at), now)
            case _:
                actions = machine.handle(Tick(at), now + 10)
        watch.saw(actions)
    if machine.ending:
        assert not machine.listening, "nothing the caller says is heard once the call is decided"
