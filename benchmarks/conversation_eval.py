"""Task success of whole conversations: the evaluation set in benchmarks/conversations/ run through `voice-app chat`.

    .venv/bin/python benchmarks/conversation_eval.py              # in this process, the classifier trained once
    .venv/bin/python benchmarks/conversation_eval.py --subprocess  # one `voice-app chat --jsonl` process each

Each run makes a temporary SQLite database with its own secret key, seeds the demo customers into it (dates
relative to today, as `voice-app seed-demo` does) and plays every conversation: its turns as the lines of a chat
from the conversation's caller number in its language, the assistant's JSON lines read back. By default the
conversations go through the same code path as the command (`voice_app.chat.ChatSession` and `run_chat`, which
`voice-app chat` calls) in this process, so the intent classifier is trained once instead of once a
conversation (about 5 s each); `--subprocess` runs the command itself, a process per conversation.

A conversation succeeds when its expected outcome is met (see benchmarks/conversations/README.md): answered with
the right figure or contact and not handed over, ended by the assistant, or handed over with an accepted reason.
Prints task success per language for the development and the held-out part, then every failure with what the
caller typed and what the assistant said.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voice_app.accounts.demo_data import seed_demo  # noqa: E402
from voice_app.accounts.directory import SqlAccountDirectory  # noqa: E402
from voice_app.answers.transcript_numbers import amounts_named, read_lexemes  # noqa: E402
from voice_app.chat import ChatContext, ChatPrinter, ChatSession, run_chat  # noqa: E402
from voice_app.config import PROJECT_ROOT, load_settings  # noqa: E402
from voice_app.database import open_database  # noqa: E402
from voice_app.services import sync_notice_versions  # noqa: E402
from voice_app.understanding.intents import IntentClassifier  # noqa: E402
from voice_app.understanding.text import fold_for_matching  # noqa: E402

SET_DIR = Path(__file__).resolve().parent / "conversations"
PARTS = {"development": SET_DIR / "development.jsonl", "held-out": SET_DIR / "heldout.jsonl"}
OUTCOMES = ("answered", "hangup", "transfer")
SUBPROCESS_TIMEOUT_SECONDS = 180

_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9",
    "null": "0", "eins": "1", "zwei": "2", "zwo": "2", "drei": "3", "vier": "4", "funf": "5", "fuenf": "5",
    "sechs": "6", "sieben": "7", "acht": "8", "neun": "9",
}  # fmt: skip
_WORD_OR_NUMBER = re.compile(r"[0-9]+|[a-z]+")


@dataclass(frozen=True)
class Conversation:
    id: str
    part: str
    language: str
    caller: str
    goal: str
    turns: tuple[str, ...]
    outcome: str
    reasons: tuple[str, ...] = ()
    say: tuple[tuple[str, ...], ...] = ()  # each phrase given as its accepted alternatives
    amounts: tuple[int, ...] = ()  # in cents
    digits: tuple[str, ...] = ()


@dataclass
class Played:
    says: list[str]
    end: str
    reason: str


@dataclass
class Result:
    conversation: Conversation
    played: Played
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def load_conversations(parts: Mapping[str, Path]) -> list[Conversation]:
    conversations: list[Conversation] = []
    for part, path in parts.items():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            expect = record["expect"]
            if expect.get("outcome") not in OUTCOMES:
                raise ValueError(f"{path}:{number}: expect.outcome must be one of {OUTCOMES}")
            conversations.append(
                Conversation(
                    id=record["id"],
                    part=part,
                    language=record["language"],
                    caller=record["caller"],
                    goal=record["goal"],
                    turns=tuple(record["turns"]),
                    outcome=expect["outcome"],
                    reasons=tuple(expect.get("reasons", ())),
                    say=tuple(tuple(alternatives) for alternatives in expect.get("say", ())),
                    amounts=tuple(expect.get("amounts", ())),
                    digits=tuple(expect.get("digits", ())),
                )
            )
    ids = [conversation.id for conversation in conversations]
    if len(ids) != len(set(ids)):
        raise ValueError("conversation ids must be unique")
    return conversations


# -- judging -------------------------------------------------------------------------------------------------


def normalised(text: str) -> str:
    """Lower case, umlauts folded, punctuation gone, a spoken or written dot in a web address kept as '.'."""
    folded = fold_for_matching(text)
    folded = re.sub(r"\s+(?:dot|punkt)\s+", ".", folded)
    folded = re.sub(r"(?<=\w)\.(?=\w)", "\x00", folded)  # the dots inside addresses survive the next step
    folded = re.sub(r"[^\w\x00]+", " ", folded).replace("\x00", ".")
    return " ".join(folded.split())


def digit_runs(text: str) -> list[str]:
    """The digit sequences said: digits and digit words in a row (the punctuation between groups ignored)."""
    runs, current = [], ""
    for token in _WORD_OR_NUMBER.findall(fold_for_matching(text)):
        digits = token if token.isdigit() else _DIGIT_WORDS.get(token)
        if digits is None:
            if current:
                runs.append(current)
            current = ""
        else:
            current += digits
    if current:
        runs.append(current)
    return runs


def judge(conversation: Conversation, played: Played, notice_texts: set[str]) -> list[str]:
    failures: list[str] = []
    outcome = conversation.outcome
    if outcome == "transfer":
        if played.end != "transfer" or played.reason not in conversation.reasons:
            wanted = " or ".join(conversation.reasons)
            failures.append(f"expected a transfer ({wanted}), got {played.end} ({played.reason})")
        return failures
    if played.end == "transfer":
        failures.append(f"handed over ({played.reason}) instead of answered")
    elif outcome == "hangup" and played.reason != "goodbye":
        failures.append(f"expected the assistant to end the chat, got {played.end} ({played.reason})")
    replies = " ".join(say for say in played.says if say not in notice_texts)
    text = normalised(replies)
    for alternatives in conversation.say:
        if not any(normalised(phrase) in text for phrase in alternatives):
            failures.append(f"not said: {' | '.join(alternatives)}")
    # "einen Euro fünfundneunzig": the transcript reader counts "ein" as a number word, not "einen".
    spoken = re.sub(r"\beine[nm]?\b", "ein", replies.lower())
    named = amounts_named(read_lexemes(spoken))
    for cents in conversation.amounts:
        if not any(amount.matches(cents) for amount in named):
            failures.append(f"amount not named: {cents / 100:.2f}")
    runs = digit_runs(replies)
    for digits in conversation.digits:
        if not any(digits in run for run in runs):
            failures.append(f"number not said: {digits}")
    return failures


def parse_output(lines: Iterable[str]) -> Played:
    says: list[str] = []
    end, reason = "none", "no end line"
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        if "say" in record:
            says.append(record["say"])
        elif "end" in record:
            end, reason = record["end"], record["reason"]
    return Played(says, end, reason)


# -- playing ---------------------------------------------------------------------------------------------------


class Evaluation:
    def __init__(self, workdir: Path, *, subprocess_mode: bool, classifier: IntentClassifier | None = None) -> None:
        self.subprocess_mode = subprocess_mode
        self.classifier = classifier
        self.environ = {
            **os.environ,
            "VOICE_APP_DATABASE_URL": f"sqlite:///{workdir / 'conversations.db'}",
            "VOICE_APP_SECRET_KEY": secrets.token_hex(32),
        }
        self.settings = load_settings(environ=self.environ)
        self.secret_key = self.environ["VOICE_APP_SECRET_KEY"]
        self.engine = open_database(self.settings.database_url, self.settings.database_url_setting)
        seed_demo(self.engine, self.secret_key, today=date.today())
        self.notices = sync_notice_versions(self.engine, self.settings)
        # Every conversation starts from the seeded accounts: a return paused in one must not change the next.
        self.database_file = workdir / "conversations.db"
        self.seeded_file = workdir / "seeded.db"
        self.engine.dispose()
        shutil.copyfile(self.database_file, self.seeded_file)
        self.notice_texts = {notice.text for notice in self.notices.values()}
        self.context: ChatContext | None = None

    def play(self, conversation: Conversation) -> Played:
        self.engine.dispose()
        shutil.copyfile(self.seeded_file, self.database_file)
        if self.subprocess_mode:
            return self._play_command(conversation)
        return self._play_in_process(conversation)

    def _play_in_process(self, conversation: Conversation) -> Played:
        if self.context is None:
            self.context = ChatContext(
                settings=self.settings,
                engine=self.engine,
                notices=self.notices,
                accounts=SqlAccountDirectory(self.engine, self.secret_key),
                classifier=self.classifier or IntentClassifier.load_default(),
                secret_key=self.secret_key,
            )
        session = ChatSession(
            self.context,
            caller_number=conversation.caller,
            called_number=None,
            language=conversation.language,
            today=date.today(),
        )
        output = io.BytesIO()
        run_chat(session, iter(conversation.turns), ChatPrinter(output, jsonl=True), io.BytesIO())
        return parse_output(output.getvalue().decode("utf-8").splitlines())

    def _play_command(self, conversation: Conversation) -> Played:
        command = [sys.executable, "-m", "voice_app", "chat", "--jsonl"]
        command += ["--from", conversation.caller, "--language", conversation.language]
        finished = subprocess.run(
            command,
            input="\n".join(conversation.turns) + "\n",
            capture_output=True,
            text=True,
            encoding="utf-8",
            env={**self.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            cwd=PROJECT_ROOT,
            timeout=SUBPROCESS_TIMEOUT_SECONDS,
            check=False,
        )
        played = parse_output(finished.stdout.splitlines())
        if finished.returncode != 0 and played.end == "none":
            played.reason = f"exit code {finished.returncode}: {finished.stderr.strip()[-300:]}"
        return played


# -- report ----------------------------------------------------------------------------------------------------


def _rate(results: list[Result]) -> str:
    if not results:
        return "–"
    passed = sum(result.ok for result in results)
    return f"{100 * passed / len(results):.1f} % ({passed}/{len(results)})"


def report(results: list[Result], seconds: float, mode: str) -> str:
    lines = [
        f"Conversations: {len(results)}, run through `voice-app chat` ({mode}) in {seconds:.0f} s.",
        "",
        "| language | development | held-out | all |",
        "| --- | --- | --- | --- |",
    ]
    for language in ("de", "en"):
        mine = [result for result in results if result.conversation.language == language]
        development = [result for result in mine if result.conversation.part == "development"]
        held_out = [result for result in mine if result.conversation.part == "held-out"]
        lines.append(f"| {language} | {_rate(development)} | {_rate(held_out)} | {_rate(mine)} |")
    development = [result for result in results if result.conversation.part == "development"]
    held_out = [result for result in results if result.conversation.part == "held-out"]
    lines.append(f"| both | {_rate(development)} | {_rate(held_out)} | {_rate(results)} |")
    failed = [result for result in results if not result.ok]
    if failed:
        lines += ["", f"Failures ({len(failed)}):"]
    for result in failed:
        conversation, played = result.conversation, result.played
        lines += ["", f"- {conversation.id} ({conversation.part}): {conversation.goal}"]
        lines += [f"    ✗ {failure}" for failure in result.failures]
        lines += [f"    caller: {turn}" for turn in conversation.turns]
        lines += [f"    assistant: {_short(say)}" for say in played.says[2:]]
        lines.append(f"    end: {played.end} ({played.reason})")
    return "\n".join(lines)


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subprocess", action="store_true", help="run `voice-app chat --jsonl` once a conversation")
    parser.add_argument("--only", nargs="+", metavar="ID", help="only these conversations")
    parser.add_argument(
        "--set", nargs="+", type=Path, metavar="FILE", help="other conversation files (part: development)"
    )
    args = parser.parse_args(argv)
    parts = {"development": args.set[0]} if args.set and len(args.set) == 1 else PARTS
    if args.set and len(args.set) > 1:
        parser.error("give one --set file")
    conversations = load_conversations(parts)
    if args.only:
        unknown = set(args.only) - {conversation.id for conversation in conversations}
        if unknown:
            parser.error(f"no such conversation: {', '.join(sorted(unknown))}")
        conversations = [conversation for conversation in conversations if conversation.id in args.only]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="conversation-eval-") as workdir:
        evaluation = Evaluation(Path(workdir), subprocess_mode=args.subprocess)
        results = []
        for conversation in conversations:
            played = evaluation.play(conversation)
            results.append(Result(conversation, played, judge(conversation, played, evaluation.notice_texts)))
        evaluation.engine.dispose()
    mode = "a process per conversation" if args.subprocess else "in one process, the classifier trained once"
    print(report(results, time.perf_counter() - started, mode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
