"""Access requests, erasure, retention and consent exports from the command line, on calls made through the
real server."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from compliance_support import CALLS, ENGLISH, GERMAN, SECRET_KEY

from tests.databases import is_postgresql, query_sql, run_sql
from voice_app.cli import main

ENV = {"VOICE_APP_SECRET_KEY": SECRET_KEY}


def run(config_file, *arguments, input=None):
    return CliRunner().invoke(main, ["--config", str(config_file), *arguments], env=ENV, input=input)


def rows(database, query, **parameters):
    return [tuple(row) for row in query_sql(database, query, **parameters)]


def subject_of(database, call_sid):
    return rows(database, "SELECT caller FROM calls WHERE call_sid = :call_sid", call_sid=call_sid)[0][0]


def test_the_calls_went_as_scripted(called_database, database):
    _, results = called_database
    assert results["english_question"].outcome == "hangup"
    for name in ("english_to_a_person", "german_refuses", "unknown_caller_withdraws"):
        assert results[name].dial_status == "no-answer", results[name].events
    turns = rows(
        database,
        "SELECT COUNT(*) FROM turns t JOIN calls c ON c.id = t.call_id WHERE c.call_sid = :call_sid",
        call_sid=results["english_question"].call_sid,
    )[0][0]
    assert turns >= 3


def test_access_export_gives_everything_about_the_caller_and_nothing_about_others(
    called_database, database, config_file, tmp_path
):
    _, results = called_database
    out = tmp_path / "out"
    result = run(config_file, "subject", "export", "--phone", ENGLISH.phones[0], "--out", str(out))
    assert result.exit_code == 0, result.output

    [report_file] = out.glob("subject-*.json")
    report = json.loads(report_file.read_text())
    assert {call["call_sid"] for call in report["calls"]} == {
        results["english_question"].call_sid,
        results["english_to_a_person"].call_sid,
    }
    question = next(c for c in report["calls"] if c["call_sid"] == results["english_question"].call_sid)
    assert any("pay" in turn["transcript"].lower() for turn in question["turns"])
    transfer = next(c for c in report["calls"] if c["call_sid"] == results["english_to_a_person"].call_sid)
    assert transfer["handoff"]["reason"] == "caller_asked"
    # Every time in UTC with its offset, the same from either database.
    assert question["started_at"].endswith("+00:00") and transfer["handoff"]["requested_at"].endswith("+00:00")
    assert report["consent_events"][0]["recorded_at"].endswith("+00:00")
    assert [e["decision"] for e in report["consent_events"]] == ["granted", "granted"]
    assert report["consent_events"][0]["notice_text"].startswith("Before we start")
    assert "answer_salt" not in report["consent_events"][0]
    # The number itself is kept only as the number to call back, and never printed.
    assert report_file.read_text().count(ENGLISH.phones[0]) == 1
    assert transfer["callback_request"]["callback_number"] == ENGLISH.phones[0]
    assert ENGLISH.phones[0].lstrip("+") not in result.output
    assert "Calls: 2." in result.output and "Consent decisions: 2." in result.output
    [summary] = out.glob("subject-*.txt")
    assert summary.read_text() in result.output

    audit = rows(database, "SELECT actor, action, details FROM audit_log")
    assert [(actor.startswith("cli:"), action) for actor, action, _ in audit] == [(True, "subject_export")]
    assert json.loads(audit[0][2])["calls"] == 2


def test_erasure_deletes_the_callers_data_and_keeps_a_verifiable_proof_of_consent(
    called_database, database, config_file
):
    _, results = called_database
    subject = subject_of(database, results["english_question"].call_sid)
    proof_before = rows(
        database,
        "SELECT seq, decision, notice_version_id, answered_at, event_hash FROM consent_event "
        "WHERE subject = :subject ORDER BY seq",
        subject=subject,
    )
    assert (
        rows(
            database,
            "SELECT COUNT(*) FROM consent_event WHERE subject = :subject AND recognised_answer IS NOT NULL",
            subject=subject,
        )[0][0]
        == 1
    )
    german_calls = rows(database, "SELECT COUNT(*) FROM calls WHERE caller != :subject", subject=subject)[0][0]

    result = run(config_file, "subject", "erase", "--phone", ENGLISH.phones[0], "--yes")

    assert result.exit_code == 0, result.output
    assert "calls: 2\n" in result.output and "consent events kept: 2" in result.output
    assert "consent chain: intact" in result.output
    assert rows(database, "SELECT COUNT(*) FROM calls WHERE caller = :subject", subject=subject)[0][0] == 0
    assert rows(database, "SELECT COUNT(*) FROM turns")[0][0] == 0  # only the English call had turns
    assert rows(database, "SELECT COUNT(*) FROM handoffs")[0][0] == german_calls  # the other callers' transfers
    assert rows(database, "SELECT COUNT(*) FROM calls")[0][0] == german_calls
    proof_after = rows(
        database,
        "SELECT seq, decision, notice_version_id, answered_at, event_hash FROM consent_event "
        "WHERE subject = :subject ORDER BY seq",
        subject=subject,
    )
    assert proof_after == proof_before
    assert (
        rows(
            database,
            "SELECT COUNT(*) FROM consent_event WHERE subject = :subject "
            "AND (recognised_answer IS NOT NULL OR answer_salt IS NOT NULL)",
            subject=subject,
        )[0][0]
        == 0
    )
    # the withdrawing caller's "yes" and "I withdraw" are theirs to erase
    assert (
        rows(
            database,
            "SELECT COUNT(*) FROM consent_event WHERE subject != :subject AND recognised_answer IS NOT NULL",
            subject=subject,
        )[0][0]
        == 2
    )
    assert run(config_file, "consent", "verify").exit_code == 0

    again = run(config_file, "subject", "export", "--phone", ENGLISH.phones[0], "--out", str(config_file.parent))
    assert "Calls: 0." in again.output and "Consent decisions: 2." in again.output
    actions = [action for (action,) in rows(database, "SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["subject_erase", "subject_export"]


def test_access_export_includes_the_voice_message_and_erasure_deletes_it(database, config_file, tmp_path):
    out = tmp_path / "out"
    result = run(config_file, "subject", "export", "--phone", GERMAN.phones[0], "--out", str(out))
    assert result.exit_code == 0, result.output
    [audio_file] = out.glob("voice-message-*.wav")
    report = json.loads(next(out.glob("subject-*.json")).read_text())
    [call] = report["calls"]
    assert call["voice_message"]["audio_file"] == audio_file.name and call["consent_decision"] == "refused"
    assert call["callback_request"]["callback_number"] == GERMAN.phones[0]
    assert audio_file.read_bytes()[:4] == b"RIFF" and call["voice_message"]["duration_seconds"] > 1.5
    assert "voice message of" in result.output

    erased = run(config_file, "subject", "erase", "--phone", GERMAN.phones[0], "--yes")
    assert erased.exit_code == 0 and "voicemails: 1\n" in erased.output, erased.output
    assert rows(database, "SELECT COUNT(*) FROM voicemails")[0][0] == 0
    assert (
        rows(
            database, "SELECT COUNT(*) FROM callback_requests WHERE callback_number = :number", number=GERMAN.phones[0]
        )[0][0]
        == 0
    )


def test_erasure_asks_before_it_deletes(database, config_file):
    result = run(config_file, "subject", "erase", "--phone", ENGLISH.phones[0], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert rows(database, "SELECT COUNT(*) FROM calls")[0][0] == len(CALLS)


@pytest.mark.parametrize("phone", ["anonymous", "12", "+49 000", "", "x" * 500])
def test_a_phone_that_is_no_number_is_refused_and_nothing_is_touched(database, config_file, phone):
    for command in (["export"], ["erase", "--yes"]):
        result = run(config_file, "subject", *command, "--phone", phone)
        assert result.exit_code == 2 and "not a valid phone number" in result.output
    assert rows(database, "SELECT COUNT(*) FROM calls")[0][0] == len(CALLS)


def shift_call_data_back(database, days):
    """Age every call, event, turn and handoff as if the calls had been made `days` ago."""
    for table, columns in {
        "calls": ("started_at", "ended_at", "updated_at"),
        "turns": ("at",),
        "call_events": ("at",),
        "handoffs": ("requested_at",),
    }.items():
        for column in columns:
            shifted = (
                f"{column} - INTERVAL '{days} days'"
                if is_postgresql(database)
                else f"datetime({column}, '-{days} days')"
            )
            run_sql(database, f"UPDATE {table} SET {column} = {shifted}")


def test_retention_deletes_what_expired_and_running_it_twice_changes_nothing_more(database, config_file):
    shift_call_data_back(database, 40)  # transcripts (30 days) expired, call records (180 days) not
    turns = rows(database, "SELECT COUNT(*) FROM turns")[0][0]

    first = run(config_file, "retention", "run")
    second = run(config_file, "retention", "run")

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert f"transcripts: turns {turns}," in first.output and ", calls 0" in first.output
    assert "transcripts: turns 0," in second.output
    assert rows(database, "SELECT COUNT(*) FROM turns")[0][0] == 0
    assert rows(database, "SELECT COUNT(*) FROM calls")[0][0] == len(CALLS)
    counts = [json.loads(d)["deleted"] for (d,) in rows(database, "SELECT details FROM audit_log ORDER BY id")]
    assert counts[0]["transcripts"]["turns"] == turns and counts[1]["transcripts"]["turns"] == 0

    shift_call_data_back(database, 200)
    third = run(config_file, "retention", "run")
    assert "call records: " in third.output and f", calls {len(CALLS)}" in third.output
    assert rows(database, "SELECT COUNT(*) FROM calls")[0][0] == 0
    # Consent proof is kept for three years and still verifies.
    assert rows(database, "SELECT COUNT(*) FROM consent_event")[0][0] == 5
    assert run(config_file, "consent", "verify").exit_code == 0


def test_consent_export_from_the_command_line_checks_out_until_the_ledger_is_changed(
    called_database, database, config_file, tmp_path
):
    out = tmp_path / "exports"
    result = run(config_file, "consent", "export", "--format", "json", "--phone", GERMAN.phones[0], "--out", str(out))
    assert result.exit_code == 0, result.output
    export_file = next(p for p in out.glob("consent-events-*.json") if not p.name.endswith(".manifest.json"))
    manifest = json.loads(export_file.with_name(export_file.name + ".manifest.json").read_text())
    assert manifest["row_count"] == 1 and manifest["chain_verified"] is True
    assert "subject" in manifest["filters"] and GERMAN.phones[0] not in json.dumps(manifest)
    assert json.loads(export_file.read_text())["events"][0]["decision"] == "refused"

    assert run(config_file, "consent", "check-export", str(export_file)).exit_code == 0
    run_sql(
        database,
        "UPDATE consent_event SET event_hash = :forged WHERE seq = :seq",
        forged="a" * 64,
        seq=manifest["chain_head"]["seq"],
    )
    changed = run(config_file, "consent", "check-export", str(export_file))
    assert changed.exit_code == 1 and "no longer carries the exported chain head hash" in changed.output


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--from", "yesterday"], "must be a date like"),
        (["--decision", "perhaps"], "decision must be one of"),
        (["--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_bad_export_options_are_refused(config_file, arguments, message):
    result = run(config_file, "consent", "export", *arguments)
    assert result.exit_code == 2 and message in result.output


def test_retention_settings_are_checked(config_file):
    text = config_file.read_text().replace("transcripts_days = 30", "transcripts_days = 400")
    config_file.write_text(text)
    result = run(config_file, "retention", "run")
    assert result.exit_code == 1 and "transcripts_days must not exceed" in result.output


def test_nothing_expires_early(database, config_file):
    assert "transcripts: turns 0," in run(config_file, "retention", "run").output
    assert rows(database, "SELECT COUNT(*) FROM calls")[0][0] == len(CALLS)
