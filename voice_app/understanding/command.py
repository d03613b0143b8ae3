"""`voice-app understand`: what the assistant makes of an utterance, as JSON, for people and scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import BinaryIO

import click

from voice_app.understanding.intents import IntentClassifier, Understanding
from voice_app.understanding.text import MAX_TRANSCRIPT_CHARS
from voice_app.understanding.training_data import LANGUAGES

# UTF-8 takes at most four bytes a character; a longer line cannot be within MAX_TRANSCRIPT_CHARS, so reading
# stops there instead of holding an endless line in memory.
MAX_LINE_BYTES = 4 * MAX_TRANSCRIPT_CHARS + 2


def _as_json(understanding: Understanding) -> dict[str, object]:
    return {
        "text": understanding.text,
        "language": understanding.language,
        "intent": understanding.intent.value,
        "confidence": round(understanding.confidence, 4),
        "route": understanding.route.value,
    }


def _write(stream: BinaryIO, record: dict[str, object]) -> None:
    # Bytes, not click.echo: the output is UTF-8 JSON whatever the locale, and flushed so that a script
    # reading our stdout line by line gets each answer as soon as it is ready.
    stream.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    stream.flush()


def _lines(stream: BinaryIO) -> Iterator[bytes | None]:
    """Each line without its line break, or None for a line longer than MAX_LINE_BYTES (skipped whole)."""
    while line := stream.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(MAX_LINE_BYTES + 1)
            yield None
        else:
            yield line.rstrip(b"\r\n")


def _load() -> IntentClassifier:
    try:
        return IntentClassifier.load_default()
    except (OSError, ValueError) as error:
        raise click.ClickException(f"cannot train the intent classifier: {error}") from None


@click.command()
@click.argument("text", required=False)
@click.option("--jsonl", is_flag=True, help="Read one utterance per line on stdin, write one JSON object per line.")
@click.option("--language", type=click.Choice(LANGUAGES), help="Language of the text; detected when omitted.")
def understand(text: str | None, jsonl: bool, language: str | None) -> None:
    """Print the intent, its confidence and the route for TEXT as JSON: {text, language, intent, confidence, route}."""
    if jsonl == (text is not None):
        raise click.UsageError("give either TEXT or --jsonl")
    stdout = sys.stdout.buffer
    if text is not None:
        if len(text) > MAX_TRANSCRIPT_CHARS:
            raise click.BadParameter(f"longer than {MAX_TRANSCRIPT_CHARS} characters", param_hint="TEXT")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # bytes the shell passed that are not UTF-8 arrive as lone surrogates
            raise click.BadParameter("not valid UTF-8", param_hint="TEXT") from None
        _write(stdout, _as_json(_load().classify(text, language)))
        return
    classifier = _load()
    for number, line in enumerate(_lines(sys.stdin.buffer), start=1):
        if line is None:
            _write(stdout, {"line": number, "error": f"line longer than {MAX_TRANSCRIPT_CHARS} characters"})
            continue
        try:
            utterance = line.decode("utf-8")
        except UnicodeDecodeError:
            _write(stdout, {"line": number, "error": "line is not valid UTF-8"})
            continue
        if not utterance.strip():
            continue
        if len(utterance) > MAX_TRANSCRIPT_CHARS:
            _write(stdout, {"line": number, "error": f"line longer than {MAX_TRANSCRIPT_CHARS} characters"})
            continue
        _write(stdout, _as_json(classifier.classify(utterance, language)))
