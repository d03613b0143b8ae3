"""PostgreSQL stopped in the middle of a real call, after the caller consented, and started again: whatever the
caller says meanwhile, they hear the apology and the Connect action dials a person, and a call arriving while the
database is down goes to a person at once. Once the server is back the ledger holds the consent exactly once and
verifies, and the next call is served as usual. One PostgreSQL server of this module's own, since it is stopped."""

from __future__ import annotations

import secrets
import threading

import pytest
from click.testing import CliRunner
from fault_support import (
    CALLER,
    ENGLISH_LINE,
    call_event_count,
    consent_event_count,
    stored_call,
    twilio_post,
    wait_for,
)

from consent.ledger import events_for_call, verify_chain
from telephony.simulator import CallResult, Press, Speak, TwilioSimulator
from telephony.twiml import ConnectStream, Dial, parse_twiml
from tests.postgres import start_throwaway_postgres
from tests.support import settings_with_database
from voice_app import calls
from voice_app.call.executor import APOLOGY_PROMPT_ID
from voice_app.cli import main as cli
from voice_app.local_server import LocalServer

QUESTION = "What is the balance of my account?"


@pytest.fixture(scope="module")
def outage(tmp_path_factory, base_settings, speech):
    """One call: consent by keypad, the database stopped, then a question. While it is still down, a new call
    arrives. Then the database starts again and a third call's webhook is answered."""
    postgres = start_throwaway_postgres()
    try:
        settings = settings_with_database(base_settings, postgres.create_database())
        auth_token = secrets.token_hex(16)
        with LocalServer(settings, auth_token=auth_token, secret_key="d" * 40, speech=speech) as server:
            engine = server.services.engine
            simulator = TwilioSimulator(
                server.url, auth_token, from_number=CALLER, to_number=ENGLISH_LINE, max_call_seconds=60
            )
            question = speech.synthesizer.synthesize(QUESTION, "en")
            results: list[CallResult] = []
            call = threading.Thread(
                target=lambda: results.append(simulator.place_call([Press("1"), Speak(question, label=QUESTION)]))
            )
            call.start()
            # The last write of the consent: the caller has consented, and hears "how can I help?".
            wait_for(lambda: call_event_count(engine, "consent_recorded") == 1, 60, "consent")
            postgres.stop()
            call.join(90)
            arriving = twilio_post(
                server.url, auth_token, "/twilio/voice", "CA" + secrets.token_hex(16), CallStatus="ringing"
            )
            postgres.start()
            after_restart = twilio_post(
                server.url, auth_token, "/twilio/voice", "CA" + secrets.token_hex(16), CallStatus="ringing"
            )
            yield server, results[0], arriving, after_restart
    finally:
        postgres.close()


def test_the_caller_hears_the_apology_and_the_connect_action_dials_a_person(outage):
    server, result, _, _ = outage
    assert APOLOGY_PROMPT_ID in result.marks_echoed, result.events[-12:]
    assert result.outcome == "transferred", result.events[-8:]
    (connect_answer,) = parse_twiml(result.twiml[-1])
    assert isinstance(connect_answer, Dial)
    assert connect_answer.target == server.settings.telephony.agent_target.address
    assert connect_answer.action_url is None, "nothing can follow the transfer without the database"


def test_a_call_arriving_while_the_database_is_down_goes_to_a_person(outage):
    server, _, arriving, _ = outage
    assert arriving.status_code == 200, arriving.text
    (verb,) = parse_twiml(arriving.text)
    assert isinstance(verb, Dial) and verb.target == server.settings.telephony.agent_target.address


def test_once_the_database_is_back_the_consent_is_recorded_once_and_the_ledger_verifies(outage, tmp_path):
    server, result, _, _ = outage
    engine = server.services.engine
    (event,) = events_for_call(engine, result.call_sid)
    assert (event.decision, event.method) == ("granted", "keypad")
    assert consent_event_count(engine) == 1
    assert verify_chain(engine).ok
    config = tmp_path / "config.toml"
    config.write_text(
        server.settings.source.read_text().replace(
            'url = "sqlite:///var/voice_app.db"', f'url = "{server.settings.database_url}"'
        )
    )
    verified = CliRunner().invoke(cli, ["--config", str(config), "consent", "verify"])
    assert verified.exit_code == 0 and "1 consent events" in verified.output, verified.output


def test_what_the_caller_said_during_the_outage_is_not_stored_and_the_call_is_not_decided(outage):
    server, result, _, _ = outage
    engine = server.services.engine
    call = stored_call(engine, result.call_sid)
    assert calls.turns_of(engine, calls.id_of(call)) == []
    # Neither the failure nor a decision could be written: the Connect action decided, without the database.
    assert call.outcome is None


def test_the_next_call_after_the_restart_is_served(outage):
    _, _, _, after_restart = outage
    assert after_restart.status_code == 200
    (verb,) = parse_twiml(after_restart.text)
    assert isinstance(verb, ConnectStream)
