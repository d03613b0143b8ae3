"""`voice-app chat`: a typed conversation recorded exactly as a call is (consent in the ledger noting the text
channel, turns, hand-over), its arguments and output, and the conversation evaluation that runs through it."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.conversation_eval import PARTS, Evaluation, Played, judge, load_conversations
from consent.ledger import latest_events, verify_chain
from tests.support import TEST_SECRETS
from voice_app import calls
from voice_app.accounts.demo_data import WELL_KNOWN_GERMAN, demo_customer, seed_demo
from voice_app.accounts.directory import SqlAccountDirectory
from voice_app.chat import ChatContext, ChatPrinter, ChatSession, run_chat, typed_lines
from voice_app.cli import main
from voice_app.config import DEFAULT_CONFIG_PATH, load_settings
from voice_app.database import open_database
from voice_app.handoff.queries import handoff_of_call
from voice_app.pseudonyms import pseudonymise
from voice_app.services import sync_notice_versions
from voice_app.understanding.intents import IntentClassifier
from voice_app.understanding.text import MAX_TRANSCRIPT_CHARS

SECRET_KEY = TEST_SECRETS["VOICE_APP_SECRET_KEY"]
ANNA = demo_customer(WELL_KNOWN_GERMAN, date.today())


@pytest.fixture(scope="module")
def chat_context(tmp_path_factory, classifier):
    database = tmp_path_factory.mktemp("chat") / "chat.db"
    settings = load_settings(DEFAULT_CONFIG_PATH, {**TEST_SECRETS, "VOICE_APP_DATABASE_URL": f"sqlite:///{database}"})
    engine = open_database(settings.database_url)
    seed_demo(engine, SECRET_KEY, today=date.today())
    yield ChatContext(
        settings=settings,
        engine=engine,
        notices=sync_notice_versions(engine, settings),
        accounts=SqlAccountDirectory(engine, SECRET_KEY),
        classifier=classifier,
        secret_key=SECRET_KEY,
    )
    engine.dispose()


def chat(context: ChatContext, lines: list[str], caller: str | None = ANNA.phones[0], language: str | None = None):
    session = ChatSession(context, caller_number=caller, called_number=None, language=language, today=date.today())
    output, errors = io.BytesIO(), io.BytesIO()
    run_chat(session, iter(lines), ChatPrinter(output, jsonl=True), errors)
    records = [json.loads(line) for line in output.getvalue().decode("utf-8").splitlines()]
    return session, records, errors.getvalue().decode()


def test_a_chat_is_recorded_like_a_call_with_the_text_channel_in_the_ledger(chat_context):
    session, records, _ = chat(chat_context, ["ja", "wie kann ich bezahlen", "nein danke"])

    assert all(set(record) == {"say"} for record in records[:-1]) and len(records) >= 4
    assert records[0]["say"] == chat_context.notices[("disclosure", "de")].text
    assert "IBAN" in " ".join(record["say"] for record in records[:-1])
    assert records[-1] == {"end": "hangup", "reason": "goodbye"}
    call = calls.find_call(chat_context.engine, session.call.call_sid)
    assert call is not None and call.consent_decision == "granted" and call.outcome == "hangup"
    assert call.caller == pseudonymise(ANNA.phones[0], SECRET_KEY) and ANNA.phones[0] not in call.caller
    event = next(event for event in latest_events(chat_context.engine, 50) if event.call_ref == call.call_sid)
    assert (event.decision, event.method, event.recognised_answer) == ("granted", "text", "ja")
    kinds = [event.kind for event in calls.events_of(chat_context.engine, calls.id_of(call))]
    assert kinds.index("disclosure_played") < kinds.index("notice_played") < kinds.index("consent_recorded")
    turns = calls.turns_of(chat_context.engine, calls.id_of(call))
    assert [turn.transcript for turn in turns][:1] == ["wie kann ich bezahlen"]
    assert {turn.transcript_confidence for turn in turns} == {1.0}
    assert verify_chain(chat_context.engine).ok


def test_a_transfer_by_key_leaves_a_handoff_with_its_briefing(chat_context):
    session, records, _ = chat(chat_context, ["press:1", "press:0"], caller=None, language="en")

    assert records[-1] == {"end": "transfer", "reason": "caller_asked"}
    call_id = calls.id_of(session.call)
    handoff = handoff_of_call(chat_context.engine, call_id)
    assert handoff is not None and handoff.reason == "caller_asked" and handoff.summary
    event = next(event for event in latest_events(chat_context.engine, 50) if event.call_ref == session.call.call_sid)
    assert (event.method, event.recognised_answer) == ("text", None)  # keys typed in a chat are typed too
    assert verify_chain(chat_context.engine).ok


def test_zero_at_the_consent_question_of_a_chat_refuses_and_transfers(chat_context):
    """The dialogue stops what plays before the transfer; in a chat nothing is still playing, and nothing fails."""
    session, records, _ = chat(chat_context, ["press:0"], caller=None, language="en")

    assert records[-1] == {"end": "transfer", "reason": "caller_asked"}
    event = next(event for event in latest_events(chat_context.engine, 50) if event.call_ref == session.call.call_sid)
    assert (event.decision, event.method) == ("refused", "text")


def test_an_empty_line_hangs_up_and_bad_keys_are_refused_without_ending_the_chat(chat_context):
    session, records, errors = chat(chat_context, ["yes", "press:12a", "", "how can I pay"], language="en")

    assert "press: takes up to 20 keys" in errors
    assert records[-1] == {"end": "hangup", "reason": "caller_hung_up"}
    assert calls.turns_of(chat_context.engine, calls.id_of(session.call)) == []  # the line after hang-up unread


def test_long_lines_are_cut_and_bytes_that_are_not_utf8_do_not_stop_the_chat(chat_context):
    lines = list(typed_lines(io.BytesIO(b"yes\n" + b"pay " * 5000 + b"\nhow can I \xff\xfe pay\n")))
    assert len(lines) == 3 and "\ufffd" in lines[2]

    session, records, _ = chat(chat_context, lines, language="en")

    transcripts = [turn.transcript for turn in calls.turns_of(chat_context.engine, calls.id_of(session.call))]
    assert transcripts and all(len(transcript) <= MAX_TRANSCRIPT_CHARS for transcript in transcripts)
    assert records[-1]["end"] in ("hangup", "transfer")


@pytest.mark.parametrize(
    "options, message",
    [
        (["--from", "98765"], "--from"),
        (["--from", "+49 not a number"], "--from"),
        (["--to", "anonymous"], "--to"),
        (["--language", "fr"], "--language"),
    ],
)
def test_bad_arguments_are_named_without_repeating_the_number(options, message):
    result = CliRunner().invoke(main, ["chat", "--jsonl", *options], input="yes\n")
    assert result.exit_code == 2, result.output
    assert message in result.output and "98765" not in result.output


def test_the_command_prints_json_lines_and_the_ledger_verifies(tmp_path, classifier, monkeypatch):
    # The classifier this test session already trained, instead of training it again for the command.
    monkeypatch.setattr(IntentClassifier, "load_default", staticmethod(lambda: classifier))
    environ = {**TEST_SECRETS, "VOICE_APP_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    runner = CliRunner()
    assert runner.invoke(main, ["seed-demo"], env=environ).exit_code == 0

    result = runner.invoke(main, ["chat", "--jsonl", "--from", ANNA.phones[0]], input="ja\npress:0\n", env=environ)

    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[-1] == {"end": "transfer", "reason": "caller_asked"}
    assert [set(record) for record in records[:-1]] == [{"say"}] * (len(records) - 1)
    verified = runner.invoke(main, ["consent", "verify"], env=environ)
    assert verified.exit_code == 0 and "ok: 1 consent events" in verified.output


def test_the_evaluation_runs_conversations_through_the_chat(tmp_path, classifier):
    conversations = {conversation.id: conversation for conversation in load_conversations(PARTS)}
    assert len(conversations) >= 80
    assert min(sum(c.language == language for c in conversations.values()) for language in ("de", "en")) >= 40
    evaluation = Evaluation(tmp_path, subprocess_mode=False, classifier=classifier)
    for name in ("de-press0", "en-fee-reminder"):
        conversation = conversations[name]
        assert judge(conversation, evaluation.play(conversation), evaluation.notice_texts) == [], name
    evaluation.engine.dispose()


def test_the_evaluation_reads_contacts_and_figures_as_they_are_spoken():
    conversation = next(c for c in load_conversations(PARTS) if c.id == "de-merchant-zalando")
    spoken = Played(
        ["Dafür ist Zalando zuständig: plus vier neun, drei null, zwei drei eins zwei fünf, eins null eins, "
         "oder zalando punkt de."], "hangup", "goodbye"
    )  # fmt: skip
    assert judge(conversation, spoken, set()) == []
    vague = Played(["Dafür ist der Händler zuständig."], "hangup", "goodbye")
    assert len(judge(conversation, vague, set())) == 2


def test_the_set_files_exist_where_the_readme_says():
    assert all(Path(path).is_file() for path in PARTS.values())
