"""Twilio's follow-up requests when the database fails under them (here its tables are gone, so every query raises):
never a 500, which would end the call with Twilio's "application error". A status report is dropped, an agent's
whisper is skipped (the agent is connected without the briefing), a transfer that reached someone ends, and
anything else sends the caller to a person."""

from __future__ import annotations

import secrets

import pytest
from sqlmodel import SQLModel

from telephony.twiml import Dial, Hangup, parse_twiml
from telephony.webhooks import call_fields
from tests.support import settings_with_database, signed_post
from voice_app.local_server import LocalServer

CALL_SID = "CA" + "5" * 32
FIELDS = call_fields("AC" + "0" * 32, CALL_SID, "+447911123456", "+4420555010")


@pytest.fixture(scope="module")
def server_without_tables(tmp_path_factory, base_settings, speech):
    url = f"sqlite:///{tmp_path_factory.mktemp('lost-tables') / 'calls.db'}"
    with LocalServer(
        settings_with_database(base_settings, url), auth_token=secrets.token_hex(16), secret_key="e" * 40, speech=speech
    ) as server:
        SQLModel.metadata.drop_all(server.services.engine)
        yield server


def verbs(response):
    assert response.status_code == 200, response.text
    return parse_twiml(response.text)


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/twilio/dial-status", {"DialCallStatus": "no-answer"}),
        ("/twilio/queue-status", {"QueueResult": "hangup"}),
        ("/twilio/choice", {"Digits": "2"}),
        ("/twilio/after-voicemail", {}),
    ],
)
def test_a_caller_not_yet_with_a_person_is_sent_to_one(server_without_tables, path, fields):
    answer = verbs(signed_post(server_without_tables, path, {**FIELDS, **fields}))
    assert any(isinstance(verb, Dial) for verb in answer), answer


@pytest.mark.parametrize(
    ("path", "fields"),
    [("/twilio/dial-status", {"DialCallStatus": "completed"}), ("/twilio/queue-status", {"QueueResult": "bridged"})],
)
def test_a_transfer_that_reached_someone_ends(server_without_tables, path, fields):
    assert [type(verb) for verb in verbs(signed_post(server_without_tables, path, {**FIELDS, **fields}))] == [Hangup]


def test_a_whisper_is_skipped_so_the_agent_is_connected(server_without_tables):
    assert verbs(signed_post(server_without_tables, "/twilio/whisper/" + "t" * 32, FIELDS)) == []


def test_a_status_report_is_dropped_quietly(server_without_tables):
    response = signed_post(server_without_tables, "/twilio/status", {**FIELDS, "CallStatus": "completed"})
    assert response.status_code == 204
