"""Speech failing in the middle of real calls: the recogniser raising, the recogniser slower than its configured
bound (`[speech] transcription_timeout_seconds`), and speech synthesis stopping. Each call runs through the
simulator against the real server; the caller hears the apology kept since start-up (Twilio echoes its mark once
it has played) and is transferred to a person; the consent given before stays recorded once."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from fault_support import (
    ANSWER_DELAY_SECONDS,
    CALLER,
    ENGLISH_LINE,
    FaultyRecogniser,
    gap_before_apology,
    short_notice_dir,
    stored_call,
)

from consent.ledger import events_for_call, verify_chain
from telephony.caller_voice import caller_says
from telephony.simulator import CallResult, Press, SimEvent, Speak, TwilioSimulator
from tests.support import TEST_SECRETS, settings_with_database
from voice_app import calls
from voice_app.call.executor import APOLOGY_PROMPT_ID
from voice_app.config import DEFAULT_CONFIG_PATH, ConfigError, load_settings
from voice_app.dialogue.prompts import APOLOGIES
from voice_app.local_server import LocalServer
from voice_app.services import Speech
from voice_app.speech.tts import SynthesisError, Synthesizer

TIMEOUT_SECONDS = 2.0
# Far longer than the bound: the recogniser does answer, too late for the caller.
SLOW_SECONDS = 20.0
QUESTION = "I have a question about my invoice."


def place_call(server: LocalServer, script, on_event=None) -> CallResult:
    simulator = TwilioSimulator(
        server.url,
        server.auth_token,
        from_number=CALLER,
        to_number=ENGLISH_LINE,
        max_call_seconds=60,
        answer_delay=ANSWER_DELAY_SECONDS,
        on_event=on_event,
    )
    return simulator.place_call(script)


@pytest.fixture(scope="module")
def faulty_calls(tmp_path_factory, base_settings, speech):
    """Three calls at once, each on a server of its own with one fault: consent by keypad, then a question."""
    folder = tmp_path_factory.mktemp("speech-faults")
    settings = dataclasses.replace(
        base_settings,
        speech=dataclasses.replace(base_settings.speech, transcription_timeout_seconds=TIMEOUT_SECONDS),
        notice_dir=short_notice_dir(tmp_path_factory.mktemp("notices")),
    )
    question = caller_says(QUESTION, "en")
    # Its own synthesizer, so that stopping it does not stop the other tests' one.
    breakable = Synthesizer({"en": settings.speech.voice_en, "de": settings.speech.voice_de})
    speeches = {
        "recogniser_raises": dataclasses.replace(speech, transcriber=FaultyRecogniser(speech.transcriber, "raise")),
        "recogniser_too_slow": dataclasses.replace(
            speech, transcriber=FaultyRecogniser(speech.transcriber, "slow", SLOW_SECONDS)
        ),
        "synthesis_stops": Speech(speech.transcriber, breakable, speech.classifier),
    }

    def stop_synthesis_at_consent(event: SimEvent) -> None:
        # The key reaches the server after this: the reply to it is the first text that cannot be synthesized.
        if event.kind == "caller_press":
            breakable.close()

    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(
                LocalServer(
                    settings_with_database(settings, folder / f"{name}.db"),
                    auth_token=secrets.token_hex(16),
                    secret_key="f" * 40,
                    speech=faulty_speech,
                )
            )
            for name, faulty_speech in speeches.items()
        }
        script = [Press("1"), Speak(question, label=QUESTION)]
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            futures = {
                name: pool.submit(
                    place_call, server, script, stop_synthesis_at_consent if name == "synthesis_stops" else None
                )
                for name, server in servers.items()
            }
            results = {name: future.result() for name, future in futures.items()}
        yield servers, results, speeches
    breakable.close()


@pytest.mark.parametrize("fault", ["recogniser_raises", "recogniser_too_slow", "synthesis_stops"])
def test_the_caller_hears_the_apology_and_reaches_a_person(faulty_calls, fault):
    servers, results, _ = faulty_calls
    server, result = servers[fault], results[fault]
    assert APOLOGY_PROMPT_ID in result.marks_echoed, result.events[-12:]
    assert result.outcome == "transferred", result.events[-8:]
    assert result.dial_target == server.settings.telephony.agent_target.address
    call = stored_call(server.services.engine, result.call_sid)
    assert (call.outcome, call.handoff_reason) == ("transfer", "internal_error")
    assert [event.kind for event in calls.events_of(server.services.engine, calls.id_of(call))][-1] == "failure"


@pytest.mark.parametrize("fault", ["recogniser_raises", "recogniser_too_slow", "synthesis_stops"])
def test_the_consent_given_before_the_fault_is_recorded_once(faulty_calls, fault):
    servers, results, _ = faulty_calls
    engine = servers[fault].services.engine
    (event,) = events_for_call(engine, results[fault].call_sid)
    assert (event.decision, event.method) == ("granted", "keypad")
    assert verify_chain(engine).ok and verify_chain(engine).checked == 1


def test_nothing_of_the_question_is_kept_when_it_was_not_understood(faulty_calls):
    servers, results, speeches = faulty_calls
    for fault in ("recogniser_raises", "recogniser_too_slow"):
        engine = servers[fault].services.engine
        assert calls.turns_of(engine, calls.id_of(stored_call(engine, results[fault].call_sid))) == [], fault
        assert speeches[fault].transcriber.calls == 1, "asked once, not again"


def test_a_recogniser_past_its_bound_is_given_up_on_in_time(faulty_calls):
    """The apology starts within the bound (plus the utterance and turn detection), not after the slow answer."""
    _, results, _ = faulty_calls
    gap = gap_before_apology(results["recogniser_too_slow"])
    assert gap < SLOW_SECONDS, gap


@pytest.mark.parametrize("value", ["0", "121", '"slow"', None])
def test_a_bad_or_missing_recognition_bound_stops_start_up_naming_it(tmp_path, value):
    shipped = "transcription_timeout_seconds = 20\n"
    text = DEFAULT_CONFIG_PATH.read_text()
    assert shipped in text
    config = tmp_path / "config.toml"
    config.write_text(text.replace(shipped, "" if value is None else f"transcription_timeout_seconds = {value}\n"))
    with pytest.raises(ConfigError, match=r"speech\.transcription_timeout_seconds"):
        load_settings(config, TEST_SECRETS)


def test_the_kept_apology_outlives_the_cache_and_the_synthesizer():
    synthesizer = Synthesizer(cache_size=1)
    try:
        synthesizer.keep(APOLOGIES["de"], "de")
        kept = synthesizer.kept(APOLOGIES["de"], "de")
        synthesizer.synthesize("Something else.", "en")  # the only cache slot goes to another text
        synthesizer.close()
        with pytest.raises(SynthesisError):
            synthesizer.synthesize(APOLOGIES["de"], "de")
        assert synthesizer.kept(APOLOGIES["de"], "de") == kept and len(kept) > 8000  # over a second of audio
        with pytest.raises(KeyError):
            synthesizer.kept(APOLOGIES["en"], "en")
    finally:
        synthesizer.close()
