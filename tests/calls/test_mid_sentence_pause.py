"""A whole call with the end of turn that listens to the words too: a caller who pauses mid-sentence, after words that
are no request yet, is not cut off, and the question is understood whole. Real espeak-ng audio (the caller's voice),
a pause inserted at a word boundary, the real models, a real websocket."""

from __future__ import annotations

import dataclasses
import secrets

import pytest
from sqlmodel import Session, select

from telephony.caller_voice import caller_says_with_pause
from telephony.simulator import Press, Speak, TwilioSimulator
from tests.support import settings_with_database
from voice_app import calls
from voice_app.local_server import LocalServer
from voice_app.models import Turn

ENGLISH_LINE = "+4420555010"
CALLER = "+4915112345678"
# "I would like to know my" is no request yet. (Not "Where is my | refund ...": Whisper, with the domain words as
# its prompt, heard that fragment as "Where is my refund?" in a whole call, a request, and the turn was cut there.)
QUESTION, WORDS_BEFORE_PAUSE, PAUSE_SECONDS = "I would like to know my open invoices.", 5, 0.6


@pytest.fixture(scope="module")
def call_with_a_pause(tmp_path_factory, base_settings, speech):
    settings = settings_with_database(base_settings, tmp_path_factory.mktemp("pause") / "calls.db")
    settings = dataclasses.replace(
        settings, speech=dataclasses.replace(settings.speech, end_of_turn="smart_turn_and_words")
    )
    auth_token = secrets.token_hex(16)
    with LocalServer(settings, auth_token=auth_token, secret_key="s" * 40, speech=speech) as server:
        simulator = TwilioSimulator(server.url, auth_token, from_number=CALLER, to_number=ENGLISH_LINE)
        result = simulator.place_call(
            [
                Press("1"),
                Speak(
                    caller_says_with_pause(
                        QUESTION, "en", words_before=WORDS_BEFORE_PAUSE, pause_seconds=PAUSE_SECONDS
                    ),
                    label="question",
                ),
            ]
        )
        with Session(server.services.engine) as session:
            call = calls.find_call(server.services.engine, result.call_sid)
            turns = session.exec(select(Turn).where(Turn.call_id == call.id)).all()
        yield result, turns


def test_a_caller_pausing_mid_sentence_is_not_cut_off(call_with_a_pause) -> None:
    result, turns = call_with_a_pause
    (question,) = [turn for turn in result.turn_latencies if turn.label == "question"]
    assert not question.cut_off
    assert question.seconds is not None  # answered once the caller had finished


def test_the_question_is_one_turn_heard_past_the_pause(call_with_a_pause) -> None:
    _, turns = call_with_a_pause
    assert len(turns) == 1
    before, _, after = turns[0].transcript.lower().partition("know my")
    assert before and after.strip(" .?")  # Whisper hears "open invoices" as other words: its text is not checked
