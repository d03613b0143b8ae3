"""Whole calls through the real server: the local Twilio simulator posts signed webhooks, streams espeak-ng
speech over a real websocket in real time, and the real model transcribes it. The scenarios run at the same
time against one server, which also shows that calls do not disturb each other."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import Session, select

from consent.ledger import events_for_call, verify_chain
from telephony.caller_voice import caller_says
from telephony.simulator import CallResult, Press, Speak, TwilioSimulator
from tests.support import settings_with_database
from voice_app import calls
from voice_app.cli import main as cli
from voice_app.local_server import LocalServer
from voice_app.models import Call

ENGLISH_LINE = "+4420555010"
GERMAN_LINE = "+4930555010"
CALLER = "+4915112345678"
SILENCE_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Scenario:
    line: str
    script: tuple[tuple[str, str], ...]  # ("say-en", text), ("barge-in-en", text), ("press", digits)


SCENARIOS = {
    "yes_by_voice_then_goodbye": Scenario(
        ENGLISH_LINE, (("say-en", "Yes, I agree."), ("say-en", "No thanks, that's all. Goodbye!"))
    ),
    "yes_by_keypad_then_zero": Scenario(ENGLISH_LINE, (("press", "1"), ("press", "0"))),
    "no_by_voice": Scenario(ENGLISH_LINE, (("say-en", "No, I don't agree."),)),
    "no_by_keypad": Scenario(ENGLISH_LINE, (("press", "2"),)),
    "silence_twice": Scenario(ENGLISH_LINE, ()),
    "agent_at_consent_question": Scenario(ENGLISH_LINE, (("say-en", "I want to speak to an agent."),)),
    # Whisper base hears espeak-ng's German poorly on a phone line; a plain "Ja." it gets right.
    "german_yes_then_zero": Scenario(GERMAN_LINE, (("say-de", "Ja."), ("press", "0"))),
    "out_of_scope_question": Scenario(
        ENGLISH_LINE, (("press", "1"), ("say-en", "Can you book me a flight to Madrid?"))
    ),
    # Talks over the assistant's "How can I help?": the prompt is cut at once.
    "barge_in_after_consent": Scenario(ENGLISH_LINE, (("press", "1"), ("barge-in-en", "I want to speak to an agent."))),
    "english_caller_on_german_line": Scenario(
        GERMAN_LINE, (("say-en", "Sorry, I only speak English."), ("say-en", "Yes."))
    ),
}


def build_script(scenario: Scenario):
    script = []
    for kind, value in scenario.script:
        if kind == "press":
            script.append(Press(value))
        else:
            language = kind.rsplit("-", 1)[-1]
            audio = caller_says(value, language)
            script.append(Speak(audio, label=value, barge_in=kind.startswith("barge-in")))
    return script


@pytest.fixture(scope="module")
def finished_calls(tmp_path_factory, base_settings, speech):
    settings = settings_with_database(
        base_settings, tmp_path_factory.mktemp("calls") / "calls.db", silence_timeout_seconds=SILENCE_TIMEOUT_SECONDS
    )
    auth_token = secrets.token_hex(16)
    with LocalServer(settings, auth_token=auth_token, secret_key="s" * 40, speech=speech) as server:

        def place(name: str) -> CallResult:
            scenario = SCENARIOS[name]
            simulator = TwilioSimulator(
                server.url, auth_token, from_number=CALLER, to_number=scenario.line, max_call_seconds=120
            )
            return simulator.place_call(build_script(scenario))

        with ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
            results = dict(zip(SCENARIOS, pool.map(place, SCENARIOS), strict=True))
        yield server, results


def call_record(server, result: CallResult) -> Call:
    call = calls.find_call(server.services.engine, result.call_sid)
    assert call is not None
    return call


def consent_event(server, result: CallResult):
    events = events_for_call(server.services.engine, result.call_sid)
    assert len(events) == 1, [event.decision for event in events]
    return events[0]


@pytest.mark.parametrize(
    "name, outcome, reason, decision, method, language, prompts",
    [
        ("yes_by_voice_then_goodbye", "hangup", None, "granted", "speech", "en", 1),
        ("yes_by_keypad_then_zero", "transferred", "caller_asked", "granted", "keypad", "en", 1),
        ("no_by_voice", "transferred", "consent_refused", "refused", "speech", "en", 1),
        ("no_by_keypad", "transferred", "consent_refused", "refused", "keypad", "en", 1),
        ("silence_twice", "transferred", "consent_silence", "no_answer", "none", "en", 2),
        ("agent_at_consent_question", "transferred", "caller_asked", "refused", "speech", "en", 1),
        ("german_yes_then_zero", "transferred", "caller_asked", "granted", "speech", "de", 1),
        ("out_of_scope_question", "transferred", "out_of_scope", "granted", "keypad", "en", 1),
        ("barge_in_after_consent", "transferred", "caller_asked", "granted", "keypad", "en", 1),
        # Heard the notice again in English, agreed, then said nothing twice.
        ("english_caller_on_german_line", "transferred", "silence", "granted", "speech", "en", 2),
    ],
)
def test_call_outcome_and_consent_proof(finished_calls, name, outcome, reason, decision, method, language, prompts):
    server, results = finished_calls
    result = results[name]
    call = call_record(server, result)
    event = consent_event(server, result)
    assert result.outcome == outcome, result.events[-5:]
    assert call.handoff_reason == reason
    if outcome == "transferred":
        assert result.dial_target == server.settings.telephony.agent_target.address
    assert (event.decision, event.method) == (decision, method)
    assert call.consent_decision == decision
    assert event.subject == call.caller and CALLER not in event.subject
    assert (event.language, event.prompt_count) == (language, prompts)
    assert event.notice_sha256 == server.services.notices[("consent", language)].sha256
    assert (event.recognised_answer is not None) == (method == "speech")
    assert call.status == "completed", "the status callback was recorded"


def test_the_disclosure_and_notice_are_proven_played_before_the_decision(finished_calls):
    server, results = finished_calls
    for name, result in results.items():
        kinds = [event.kind for event in calls.events_of(server.services.engine, call_record(server, result).id)]
        decided = kinds.index("consent_recorded")
        assert kinds[0] == "disclosure_played" and set(kinds[1:decided]) == {"notice_played"}, (name, kinds)


def test_nothing_the_caller_says_is_kept_without_consent(finished_calls):
    server, results = finished_calls
    for name in ("no_by_voice", "no_by_keypad", "silence_twice", "agent_at_consent_question"):
        assert calls.turns_of(server.services.engine, call_record(server, results[name]).id) == [], name


def test_turns_are_kept_with_consent(finished_calls):
    server, results = finished_calls
    turns = calls.turns_of(server.services.engine, call_record(server, results["out_of_scope_question"]).id)
    assert [(turn.intent, turn.route) for turn in turns] == [("out_of_scope", "human")]
    assert turns[0].transcript and turns[0].transcript_confidence > 0
    goodbye = calls.turns_of(server.services.engine, call_record(server, results["yes_by_voice_then_goodbye"]).id)
    assert [(turn.intent, turn.language) for turn in goodbye] == [("goodbye", "en")]


# From the end of the caller's turn to the first frame of the reply: the wait that ends the turn is not in it, the
# rest of recognition and synthesis are, on two cores shared by all the calls at once. Recognition starts at the
# caller's first pause, so a short answer's transcript can be ready when the turn ends (a few milliseconds).
PLAUSIBLE_LATENCY_MS = range(1, 20_000)


def test_the_reply_to_every_utterance_is_timed_and_a_kept_turn_holds_its_own(finished_calls):
    server, results = finished_calls
    engine = server.services.engine
    timed = {}
    for name in ("yes_by_voice_then_goodbye", "out_of_scope_question", "no_by_voice", "yes_by_keypad_then_zero"):
        call_id = call_record(server, results[name]).id
        timed[name] = [row.latency_ms for row in calls.answer_latencies_of(engine, call_id)]
        turns = calls.turns_of(engine, call_id)
        assert all(turn.answer_latency_ms in timed[name] for turn in turns), (name, timed[name], turns)
        assert all(latency in PLAUSIBLE_LATENCY_MS for latency in timed[name]), (name, timed[name])
    # Speech is timed with consent or without it (the answer to the consent question too); key presses are not.
    assert [len(timed[name]) for name in timed] == [2, 1, 1, 0], timed
    goodbye = calls.turns_of(engine, call_record(server, results["yes_by_voice_then_goodbye"]).id)
    assert goodbye[0].answer_latency_ms == timed["yes_by_voice_then_goodbye"][1]


def test_the_ledger_verifies_and_a_tampered_event_is_detected(finished_calls, tmp_path):
    server, _ = finished_calls
    engine = server.services.engine
    assert verify_chain(engine).ok
    assert verify_chain(engine).checked == len(SCENARIOS)

    config = tmp_path / "config.toml"
    config.write_text(
        server.settings.source.read_text().replace(
            'url = "sqlite:///var/voice_app.db"', f'url = "{server.settings.database_url}"'
        )
    )
    runner = CliRunner()
    ok = runner.invoke(cli, ["--config", str(config), "consent", "verify"])
    assert ok.exit_code == 0 and f"{len(SCENARIOS)} consent events" in ok.output

    with Session(engine) as session:
        session.exec(text("UPDATE consent_event SET decision = 'withdrawn' WHERE seq = 3"))
        session.commit()
    broken = verify_chain(engine)
    assert not broken.ok and broken.first_broken_seq == 3
    result = runner.invoke(cli, ["--config", str(config), "consent", "verify"])
    assert result.exit_code == 1 and "BROKEN at event 3" in result.output
    listing = runner.invoke(cli, ["--config", str(config), "consent", "list", "--limit", "3"])
    assert listing.exit_code == 0 and len(listing.output.strip().splitlines()) == 3


def test_one_call_record_per_call_sid(finished_calls):
    server, results = finished_calls
    with Session(server.services.engine) as session:
        sids = session.exec(select(Call.call_sid)).all()
    assert sorted(sids) == sorted(result.call_sid for result in results.values())


def test_talking_over_the_assistant_cuts_its_prompt(finished_calls):
    _, results = finished_calls
    kinds = [event.kind for event in results["barge_in_after_consent"].events]
    assert "clear" in kinds, kinds
    assert "clear" not in [event.kind for event in results["no_by_keypad"].events], "the notice is never cut"
