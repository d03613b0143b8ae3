"""The database failing in the middle of a real call, after the caller consented, and coming back: PostgreSQL
stopped and started again, and a SQLite file whose write lock another process holds. Whatever the caller says
meanwhile, they hear the apology and the Connect action dials a person; a call arriving meanwhile goes to a person
at once. Once the database is back the ledger holds the consent exactly once and verifies, and the next call is
served as usual. The PostgreSQL server is this module's own, since it is stopped; both outages run at once."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests
from click.testing import CliRunner
from fault_support import (
    ANSWER_DELAY_SECONDS,
    CALLER,
    ENGLISH_LINE,
    call_event_count,
    consent_event_count,
    short_notice_dir,
    stored_call,
    twilio_post,
    wait_for,
)

from consent.ledger import events_for_call, verify_chain
from telephony.caller_voice import caller_says
from telephony.simulator import CallResult, Press, Speak, TwilioSimulator
from telephony.twiml import ConnectStream, Dial, parse_twiml
from tests.log_capture import everything_logged
from tests.postgres import start_throwaway_postgres
from tests.support import settings_with_database
from voice_app import calls, database
from voice_app.call.executor import APOLOGY_PROMPT_ID
from voice_app.cli import main as cli
from voice_app.local_server import LocalServer

QUESTION = "What is the balance of my account?"
BACKENDS = ("postgresql", "sqlite")
# SQLite waits this long for a lock before "database is locked" (30 s in production; see the README's table).
SQLITE_LOCK_WAIT_SECONDS = 2


@dataclass
class Outage:
    server: LocalServer
    result: CallResult  # the call during which the database went away
    arriving: requests.Response  # the voice webhook of a call arriving while it was away
    after_return: requests.Response  # the voice webhook of a call arriving once it was back
    logged: list[str]  # everything logged meanwhile, by every process of the test


def live_through_an_outage(server: LocalServer, question: bytes, fail: Callable[[], None], recover: Callable[[], None]):
    """One call: consent by keypad, then (once the consent is stored) `fail`, then the caller's question. While
    the database is still away a new call arrives; then `recover`, and a third call arrives."""
    engine, token = server.services.engine, server.auth_token
    simulator = TwilioSimulator(
        server.url,
        token,
        from_number=CALLER,
        to_number=ENGLISH_LINE,
        max_call_seconds=60,
        answer_delay=ANSWER_DELAY_SECONDS,
    )
    results: list[CallResult] = []
    call = threading.Thread(
        target=lambda: results.append(simulator.place_call([Press("1"), Speak(question, label=QUESTION)]))
    )
    call.start()
    # The last write of the consent: the caller has consented, and hears "how can I help?".
    wait_for(lambda: call_event_count(engine, "consent_recorded") == 1, 90, "consent")
    fail()
    call.join(90)
    arriving = twilio_post(server.url, token, "/twilio/voice", "CA" + secrets.token_hex(16), CallStatus="ringing")
    recover()
    after_return = twilio_post(server.url, token, "/twilio/voice", "CA" + secrets.token_hex(16), CallStatus="ringing")
    return Outage(server, results[0], arriving, after_return, logged=[])


class SqliteWriteLock:
    """The file's write lock, held from a connection of its own as another process would hold it. Readers still
    read: the file is in WAL mode."""

    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def take(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.connection.execute("ROLLBACK")

    def close(self) -> None:
        self.connection.close()


@pytest.fixture(scope="module")
def outages(tmp_path_factory, base_settings, speech):
    question = caller_says(QUESTION, "en")
    sqlite_path = tmp_path_factory.mktemp("sqlite-lock") / "locked.db"
    notices = short_notice_dir(tmp_path_factory.mktemp("notices"))
    postgres = start_throwaway_postgres()
    with contextlib.ExitStack() as stack, pytest.MonkeyPatch.context() as patch:
        stack.callback(postgres.close)
        patch.setattr(database, "SQLITE_BUSY_TIMEOUT_SECONDS", SQLITE_LOCK_WAIT_SECONDS)
        servers = {
            backend: stack.enter_context(
                LocalServer(
                    dataclasses.replace(settings_with_database(base_settings, url), notice_dir=notices),
                    auth_token=secrets.token_hex(16),
                    secret_key="d" * 40,
                    speech=speech,
                )
            )
            for backend, url in (("postgresql", postgres.create_database()), ("sqlite", f"sqlite:///{sqlite_path}"))
        }
        lock = SqliteWriteLock(str(sqlite_path))
        stack.callback(lock.close)
        logged = stack.enter_context(everything_logged())
        with ThreadPoolExecutor(max_workers=2) as pool:
            stopped = pool.submit(
                live_through_an_outage, servers["postgresql"], question, postgres.stop, postgres.start
            )
            locked = pool.submit(live_through_an_outage, servers["sqlite"], question, lock.take, lock.release)
            results = {"postgresql": stopped.result(), "sqlite": locked.result()}
        for outage in results.values():
            outage.logged = logged
        yield results


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_caller_hears_the_apology_and_the_connect_action_dials_a_person(outages, backend):
    outage = outages[backend]
    result = outage.result
    assert APOLOGY_PROMPT_ID in result.marks_echoed, result.events[-12:]
    assert result.outcome == "transferred", result.events[-8:]
    (connect_answer,) = parse_twiml(result.twiml[-1])
    assert isinstance(connect_answer, Dial)
    assert connect_answer.target == outage.server.settings.telephony.agent_target.address
    assert connect_answer.action_url is None, "nothing can follow the transfer without the database"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_call_arriving_while_the_database_is_away_goes_to_a_person(outages, backend):
    outage = outages[backend]
    assert outage.arriving.status_code == 200, outage.arriving.text
    (verb,) = parse_twiml(outage.arriving.text)
    assert isinstance(verb, Dial) and verb.target == outage.server.settings.telephony.agent_target.address


@pytest.mark.parametrize("backend", BACKENDS)
def test_once_the_database_is_back_the_consent_is_recorded_once_and_the_ledger_verifies(outages, backend, tmp_path):
    outage = outages[backend]
    engine, settings = outage.server.services.engine, outage.server.settings
    (event,) = events_for_call(engine, outage.result.call_sid)
    assert (event.decision, event.method) == ("granted", "keypad")
    assert consent_event_count(engine) == 1
    assert verify_chain(engine).ok
    config = tmp_path / "config.toml"
    config.write_text(
        settings.source.read_text().replace('url = "sqlite:///var/voice_app.db"', f'url = "{settings.database_url}"')
    )
    verified = CliRunner().invoke(cli, ["--config", str(config), "consent", "verify"])
    assert verified.exit_code == 0 and "1 consent events" in verified.output, verified.output


@pytest.mark.parametrize("backend", BACKENDS)
def test_what_the_caller_said_meanwhile_is_not_stored_and_the_call_stays_undecided(outages, backend):
    outage = outages[backend]
    engine = outage.server.services.engine
    call = stored_call(engine, outage.result.call_sid)
    assert calls.turns_of(engine, calls.id_of(call)) == []
    # Neither the failure nor a decision could be written: the Connect action decided, without the database.
    assert call.outcome is None
    assert stored_call(engine, outage.result.call_sid).consent_decision == "granted"


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_next_call_once_the_database_is_back_is_served(outages, backend):
    after_return = outages[backend].after_return
    assert after_return.status_code == 200
    (verb,) = parse_twiml(after_return.text)
    assert isinstance(verb, ConnectStream)


def test_the_failed_writes_log_no_word_of_what_the_caller_said(outages):
    """A failed INSERT's error message would carry its parameters, the transcript among them."""
    logged = "\n".join(outages["postgresql"].logged).lower()
    assert "database unavailable" in logged and "dialogue failed" in logged, "the failures were logged"
    for word in ("balance", "account?"):
        assert word not in logged, word
