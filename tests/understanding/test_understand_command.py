"""`voice-app understand` through click's test runner: one utterance, a JSON-lines stream, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from voice_app.understanding.command import understand

FIELDS = {"text", "language", "intent", "confidence", "route"}


def _objects(output: bytes) -> list[dict]:
    return [json.loads(line) for line in output.decode("utf-8").splitlines()]


def test_one_utterance_prints_one_json_object() -> None:
    result = CliRunner().invoke(understand, ["wann ist die nächste Rate fällig"])

    assert result.exit_code == 0, result.output
    [record] = _objects(result.stdout_bytes)
    assert set(record) == FIELDS
    assert record["text"] == "wann ist die nächste Rate fällig"
    assert record["language"] == "de"
    assert record["intent"] == "next_due_date"
    assert 0.0 <= record["confidence"] <= 1.0
    assert record["route"] in ("answer", "clarify")


def test_language_option_overrides_detection() -> None:
    result = CliRunner().invoke(understand, ["--language", "de", "my card was stolen"])

    assert result.exit_code == 0, result.output
    [record] = _objects(result.stdout_bytes)
    assert record["language"] == "de"
    assert record["intent"] == "stolen_data"
    assert record["route"] == "human"


def test_jsonl_answers_each_line_in_order_and_reports_bad_lines() -> None:
    lines = [
        b"is my invoice paid",
        b"",
        b"   ",
        b"\xff\xfe not UTF-8",
        b"ich widerrufe meine Einwilligung\r",
        ("x" * 2001).encode(),
        b"what's the weather tomorrow",
    ]

    result = CliRunner().invoke(understand, ["--jsonl"], input=b"\n".join(lines))

    assert result.exit_code == 0, result.output
    records = _objects(result.stdout_bytes)
    assert len(records) == 5
    assert records[0]["intent"] == "payment_status" and records[0]["language"] == "en"
    assert records[1] == {"line": 4, "error": "line is not valid UTF-8"}
    assert records[2]["text"] == "ich widerrufe meine Einwilligung"
    assert records[2]["intent"] == "withdraw_consent" and records[2]["route"] == "human"
    assert records[3]["line"] == 6 and "longer than 2000" in records[3]["error"]
    assert records[4]["intent"] == "out_of_scope" and records[4]["route"] != "answer"
    assert all(set(record) == FIELDS for record in (records[0], records[2], records[4]))


def test_jsonl_skips_an_endless_line_without_holding_it() -> None:
    stream = b"a" * 100_000 + b"\nis my invoice paid\n"

    result = CliRunner().invoke(understand, ["--jsonl"], input=stream)

    assert result.exit_code == 0, result.output
    records = _objects(result.stdout_bytes)
    assert records[0] == {"line": 1, "error": "line longer than 2000 characters"}
    assert records[1]["intent"] == "payment_status"


def test_jsonl_with_language_and_empty_input() -> None:
    result = CliRunner().invoke(understand, ["--jsonl", "--language", "en"], input=b"ja bitte\n")
    empty = CliRunner().invoke(understand, ["--jsonl"], input=b"")

    assert result.exit_code == 0, result.output
    assert _objects(result.stdout_bytes)[0]["language"] == "en"
    assert empty.exit_code == 0 and empty.stdout_bytes == b""


def test_empty_text_is_clarified() -> None:
    result = CliRunner().invoke(understand, [""])

    assert result.exit_code == 0, result.output
    [record] = _objects(result.stdout_bytes)
    assert record["intent"] == "out_of_scope" and record["confidence"] == 0.0 and record["route"] == "clarify"


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["--jsonl", "is my invoice paid"],
        ["--language", "fr", "hallo"],
        ["x" * 2001],
        ["--nope", "x"],
        ["paid \udcff invoice"],
    ],
)
def test_bad_arguments_exit_with_2(arguments: list[str]) -> None:
    result = CliRunner().invoke(understand, arguments)

    assert result.exit_code == 2
    assert result.stdout_bytes == b""


def test_missing_training_data_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_APP_BANKING77_DIR", str(tmp_path))

    result = CliRunner().invoke(understand, ["is my invoice paid"])

    assert result.exit_code == 1
    assert "VOICE_APP_BANKING77_DIR" in result.output
