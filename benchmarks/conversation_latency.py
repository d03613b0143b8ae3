"""Conversation speed as Twilio would see it: voice-to-voice time and cut-off turns, old end of turn against new.

    .venv/bin/python benchmarks/conversation_latency.py [--calls 1 16 32] [--rounds 2] [--stagger 4]
    .venv/bin/python benchmarks/conversation_latency.py --short-answers

Starts real servers (`voice-app serve`, one worker each) as their own processes from this checkout's config.toml,
one per setting compared (`--settings`, default all): "old" (speech.end_of_turn = "fixed_silence", 700 ms, and
Whisper's full 30 s encoder window, speech.encoder_window = "full"), "window" (the fixed silence with the window
sized to the utterance), "batched" (as "window", with utterances that wait together transcribed as one batch,
speech.stt_batch_size = 16), "workers" (as "window", with two transcriptions at once of one thread each),
"batched_workers" (both), "new" (smart_turn and the sized window) and "words" (smart_turn_and_words: Smart Turn
believed at once only when the dialogue would act on the words, and the sized window); "old", "window" and
"workers" transcribe one by one, "new" and "words" as config.toml says. Then, for each number of calls at once, it
plays that many simulated callers over the Media Streams websocket to each server in turn, alternating for
`--rounds` rounds, so that all see the same noisy machine. Callers of one batch do not start in lockstep, as real
calls do not: each starts after a random delay of up to `--stagger` seconds (the same delays for every server).
Each caller is the English demo customer and answers the consent question ("Yes, I agree.", a short answer); then,
by turns, a call asks a question with a pause of 0.4 to 1.0 s inserted mid-sentence (espeak-ng) and keys the date
of birth, the next says jfk.flac (real speech; 840 ms and 540 ms pauses inside), and the next asks for an agent
after a hesitation of 0.7 to 1.2 s ("I want to, um, ... speak to an agent"). Voice-to-voice is the simulator's:
from the caller's last frame carrying sound to the first frame of the reply. A turn is cut off when the server
answered (or cleared, or hung up) during one of the turn's pauses; a turn the server split at a pause but answered
only after the caller finished is not seen that way, so the table also gives the answers the server stored per
turn the callers spoke (1.00 when no turn was split; a split turn is answered twice). Per-stage times come from the
answer latencies each server stored. The questions' turns are also reported alone (routine questions, the issue's
figure). The load average is sampled while calls run (other work on the machine shows there). Prints Markdown for
the README.

`--short-answers` needs no server: it ends the turns of 20 consent and yes/no answers (espeak-ng, English and
German, through 8 kHz mu-law) both ways, with the reader's own turn taking, transcribes each with the base model
and counts the transcripts that match the text and those the consent question reads the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from served_instance import ServedInstance, served_instance  # noqa: E402

from telephony.audio import MULAW_SILENCE_FRAME, float_to_phone_mulaw, load_audio_file, split_frames  # noqa: E402
from telephony.caller_voice import caller_says, caller_says_with_pause  # noqa: E402
from telephony.simulator import CallResult, Press, Speak, TwilioSimulator  # noqa: E402
from voice_app.accounts.demo_data import WELL_KNOWN_ENGLISH, demo_customer  # noqa: E402
from voice_app.database import make_engine  # noqa: E402
from voice_app.models import STAGES  # noqa: E402

JFK = PROJECT_ROOT.parent / "shared" / "data" / "audio" / "jfk.flac"
# Questions and where (after which word) the caller pauses in them.
QUESTIONS = [
    ("Where is my refund for the broken chair?", 3),
    ("When is my next payment due?", 2),
    ("What is the balance of my account?", 3),
    ("I would like to know my open invoices.", 4),
]


def transcription(batch_size: int, workers: int, cpu_threads: int) -> dict[tuple[str, str], object]:
    return {
        ("speech", "stt_batch_size"): batch_size,
        ("speech", "stt_workers"): workers,
        ("speech", "cpu_threads"): cpu_threads,
    }


FIXED_SILENCE_SIZED_WINDOW = {("speech", "end_of_turn"): "fixed_silence", ("speech", "encoder_window"): "utterance"}
SETTINGS: dict[str, dict[tuple[str, str], object]] = {
    "old": {("speech", "end_of_turn"): "fixed_silence", ("speech", "encoder_window"): "full", **transcription(1, 1, 0)},
    "window": {**FIXED_SILENCE_SIZED_WINDOW, **transcription(1, 1, 0)},
    "batched": {**FIXED_SILENCE_SIZED_WINDOW, **transcription(16, 1, 0)},
    "workers": {**FIXED_SILENCE_SIZED_WINDOW, **transcription(1, 2, 1)},
    "batched_workers": {**FIXED_SILENCE_SIZED_WINDOW, **transcription(16, 2, 1)},
    "new": {("speech", "end_of_turn"): "smart_turn", ("speech", "encoder_window"): "utterance"},
    "words": {("speech", "end_of_turn"): "smart_turn_and_words", ("speech", "encoder_window"): "utterance"},
}
DESCRIPTIONS = {
    "old": "700 ms silence, full window (old)",
    "window": "700 ms silence, sized window, one by one",
    "batched": "700 ms silence, sized window, batches of up to 16",
    "workers": "700 ms silence, sized window, 2 workers of 1 thread",
    "batched_workers": "700 ms silence, sized window, batches of up to 16, 2 workers of 1 thread",
    "new": "Smart Turn, sized window (new)",
    "words": "Smart Turn and the words, sized window",
}


def phone(samples: np.ndarray, rate: int) -> bytes:
    return float_to_phone_mulaw(samples, rate)


@dataclass
class Material:
    consent: bytes
    questions: list[bytes]
    jfk: bytes
    hesitations: list[bytes]


def make_material(rng: random.Random) -> Material:
    questions = [
        caller_says_with_pause(sentence, "en", words_before=words, pause_seconds=round(rng.uniform(0.4, 1.0), 2))
        for sentence, words in QUESTIONS
        for _ in range(2)
    ]
    hesitations = [
        caller_says_with_pause(
            "I want to, um, speak to an agent.", "en", words_before=4, pause_seconds=round(rng.uniform(0.7, 1.2), 2)
        )
        for _ in range(4)
    ]
    samples, rate = load_audio_file(JFK)
    return Material(caller_says("Yes, I agree.", "en"), questions, phone(samples, rate), hesitations)


def script(material: Material, index: int, date_of_birth: str) -> list[Speak | Press]:
    """Calls take turns among three scripts, each with one turn after the consent, so that a turn the server splits
    (and then fails to understand), or jfk's speech, which is no question the hotline answers and sends the caller to
    a person, does not keep the other kinds of turn from being measured."""
    consent = Speak(material.consent, label="consent")
    kind, number = index % 3, index // 3
    if kind == 0:
        question = material.questions[number % len(material.questions)]
        return [consent, Speak(question, label="question"), Press(date_of_birth)]
    if kind == 1:
        return [consent, Speak(material.jfk, label="jfk")]
    return [consent, Speak(material.hesitations[number % len(material.hesitations)], label="hesitation")]


@dataclass
class Tally:
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    cut_off: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    failed_calls: int = 0
    spoken_turns: int = 0
    answers: int = 0  # answer latencies the server stored: one per utterance it answered
    load: list[float] = field(default_factory=list)  # one-minute load averages sampled while the calls ran


class LoadAverage:
    """Samples the machine's one-minute load average every few seconds while calls run."""

    EVERY_SECONDS = 5.0

    @contextlib.contextmanager
    def sampled(self) -> Iterator[list[float]]:
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while True:
                samples.append(os.getloadavg()[0])
                if stop.wait(self.EVERY_SECONDS):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            yield samples
        finally:
            stop.set()
            sampler.join()


def answers_stored(server: ServedInstance) -> int:
    from sqlalchemy import text

    engine = make_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM answer_latencies")).scalar_one())
    finally:
        engine.dispose()


def play(
    server: ServedInstance, count: int, material: Material, tally: Tally, offset: int, delays: list[float]
) -> None:
    answers_before = answers_stored(server)
    customer = demo_customer(WELL_KNOWN_ENGLISH, date.today())
    results: list[CallResult | None] = [None] * count

    def one(index: int) -> None:
        time.sleep(delays[index])
        simulator = TwilioSimulator(
            server.url, server.auth_token, from_number=customer.phones[0], to_number="+4420555010", max_call_seconds=300
        )
        results[index] = simulator.place_call(
            script(material, offset + index, customer.date_of_birth.strftime("%d%m%Y"))
        )

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if result is None or result.outcome not in ("transferred", "hangup"):
            tally.failed_calls += 1
        for turn in result.turn_latencies if result else []:
            tally.spoken_turns += 1
            tally.cut_off[turn.label].append(turn.cut_off)
            if turn.seconds is not None and not turn.cut_off:
                tally.seconds[turn.label].append(turn.seconds)
    tally.answers += answers_stored(server) - answers_before


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(values, share * 100)) if values else float("nan")


def stage_times(server: ServedInstance) -> dict[str, float]:
    """Median seconds per stage, and of the whole answer latency, over the answer latencies the server stored."""
    from sqlalchemy import inspect, text

    engine = make_engine(server.database_url)
    try:
        columns = {column["name"] for column in inspect(engine).get_columns("answer_latencies")}
        stages = [f"{stage}_ms" for stage in STAGES if f"{stage}_ms" in columns] + ["latency_ms"]
        with engine.connect() as connection:
            rows = connection.execute(text(f"SELECT {', '.join(stages)} FROM answer_latencies")).all()
    finally:
        engine.dispose()
    medians = {}
    for position, stage in enumerate(stages):
        values = [row[position] for row in rows if row[position] is not None]
        if values:
            medians[stage.removesuffix("_ms")] = statistics.median(values) / 1000
    return medians


SHORT_ANSWERS = {
    "en": ["Yes.", "No.", "Yes, I agree.", "No, I don't agree.", "Yeah.", "Sure.", "Yes please.", "No thanks.",
           "Okay.", "I agree."],
    "de": ["Ja.", "Nein.", "Ja, einverstanden.", "Nein, nicht einverstanden.", "Ich stimme zu.", "Genau.",
           "Ja bitte.", "Nein danke.", "Okay.", "Einverstanden."],
}  # fmt: skip


def short_answers() -> None:
    import re

    from voice_app.call.inputs import Utterance
    from voice_app.call.recognition import Recogniser
    from voice_app.call.turn_taking import Gate, SmartTurn, TurnTaking
    from voice_app.config import load_settings
    from voice_app.speech.model_store import install_bundled_model
    from voice_app.speech.stt import Transcriber
    from voice_app.speech.turn_completion import shared_turn_completion
    from voice_app.speech.turns import TurnDetector
    from voice_app.understanding.short_answers import consent_answer

    speech = load_settings(PROJECT_ROOT / "config.toml").speech
    transcriber = Transcriber(str(install_bundled_model("base", speech.model_cache_dir)))
    transcriber.warm_up()
    recogniser = Recogniser(transcriber, timeout_seconds=speech.transcription_timeout_seconds)
    smart_turn = SmartTurn(
        shared_turn_completion(speech.model_cache_dir), speech.turn_complete_threshold, speech.short_answer_fallback_ms
    )

    class NothingPlaying:
        def clear(self) -> list[str]:
            return []

    def words(text: str) -> str:
        return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())

    def turns(frames: list[bytes], smart: bool) -> list[Utterance]:
        heard: list[object] = []
        if smart:
            detector = TurnDetector(end_silence_ms=speech.turn_fallback_ms, pause_ms=speech.turn_pause_ms)
        else:
            detector = TurnDetector(end_silence_ms=speech.end_of_turn_silence_ms)
        taking = TurnTaking(detector, NothingPlaying(), heard.append, smart_turn if smart else None)  # type: ignore[arg-type]
        taking.post(Gate(listening=True, short_answer=True))
        for frame in frames:
            taking.hear(frame)
        return [item for item in heard if isinstance(item, Utterance)]

    print("| end of turn | transcripts exact | consent reading unchanged | turns split | end-of-turn silence ms |")
    print("|---|---|---|---|---|")
    for smart in (False, True):
        exact = same = split = 0
        silences = []
        for language, texts in SHORT_ANSWERS.items():
            for text in texts:
                quiet = MULAW_SILENCE_FRAME * 25  # half a second
                frames = split_frames(quiet + caller_says(text, language) + quiet * 8)
                found = turns(frames, smart)
                said = " ".join(recogniser.recognise(u.pcm16, language, language).transcript.text for u in found)
                exact += words(said) == words(text)
                same += len(found) == 1 and consent_answer(said, language) == consent_answer(text, language)
                split += len(found) > 1
                silences += [(len(u.pcm16) - u.speech_bytes) // 16 for u in found]
        count = sum(len(texts) for texts in SHORT_ANSWERS.values())
        name = "Smart Turn (new)" if smart else f"{speech.end_of_turn_silence_ms} ms silence (old)"
        print(
            f"| {name} | {exact}/{count} | {same}/{count} | {split} "
            f"| median {statistics.median(silences):.0f}, max {max(silences)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-answers", action="store_true", help="only the short answers' transcripts")
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 16, 32])
    parser.add_argument("--rounds", type=int, default=2, help="alternations of old and new per number of calls")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS), help="the servers to compare"
    )
    parser.add_argument(
        "--stagger", type=float, default=4.0, help="callers of one batch start at random within this many seconds"
    )
    args = parser.parse_args()
    if args.short_answers:
        short_answers()
        return
    rng = random.Random(args.seed)
    material = make_material(rng)
    load = LoadAverage()
    with contextlib.ExitStack() as stack:
        # Both servers stay up for the whole run; only one of them has calls at a time.
        servers = {
            name: stack.enter_context(served_instance(config=SETTINGS[name], threads=48)) for name in args.settings
        }
        rows = []
        for count in args.calls:
            tallies = {name: Tally() for name in servers}
            for round_index in range(args.rounds):
                delays = sorted(rng.uniform(0, args.stagger) for _ in range(count)) if count > 1 else [0.0]
                for name, server in servers.items():
                    started = time.monotonic()
                    with load.sampled() as samples:
                        play(server, count, material, tallies[name], round_index * count, delays)
                    tallies[name].load += samples
                    elapsed = time.monotonic() - started
                    print(f"# {count} calls, round {round_index + 1}, {name}: {elapsed:.0f} s", file=sys.stderr)
            for name, tally in tallies.items():
                rows.append((count, name, tally))
        print(f"Callers of a batch started at random within {args.stagger:g} s.\n")
        print_table(rows)
        print("\nMedian per-stage seconds over every answered turn (from the stored answer latencies):")
        for name, server in servers.items():
            print(f"- {name}: " + ", ".join(f"{stage} {value:.3f}" for stage, value in stage_times(server).items()))


def print_table(rows: list[tuple[int, str, Tally]]) -> None:
    labels = ["consent", "question", "jfk", "hesitation"]
    print(
        "| calls | end of turn | voice-to-voice p50 ms | p95 ms | turns timed | cut off: consent "
        "| mid-sentence pause 0.4-1.0 s | jfk (0.84 s) | hesitation 0.7-1.2 s | answers per spoken turn "
        "| calls not finished | load average |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for count, name, tally in rows:
        every = [value for label in labels for value in tally.seconds[label]]

        def share(label: str, tally: Tally = tally) -> str:
            flags = tally.cut_off[label]
            return f"{sum(flags)}/{len(flags)}" if flags else "-"

        mode = DESCRIPTIONS[name]
        print(
            f"| {count} | {mode} | {percentile(every, 0.5) * 1000:.0f} | {percentile(every, 0.95) * 1000:.0f} "
            f"| {len(every)} | {share('consent')} | {share('question')} | {share('jfk')} | {share('hesitation')} "
            f"| {tally.answers / max(1, tally.spoken_turns):.2f} | {tally.failed_calls} "
            f"| {min(tally.load, default=0):.1f}-{max(tally.load, default=0):.1f} |"
        )
    print("\nRoutine questions alone (the question turns, not cut off), voice-to-voice p50 / p95 ms:")
    for count, name, tally in rows:
        questions = tally.seconds["question"]
        print(
            f"- {count} calls, {name}: {percentile(questions, 0.5) * 1000:.0f} / "
            f"{percentile(questions, 0.95) * 1000:.0f} ({len(questions)} timed)"
        )
    print("\nVoice-to-voice p50 / p95 ms per kind of turn:")
    for count, name, tally in rows:
        parts = []
        for label in labels:
            p50, p95 = percentile(tally.seconds[label], 0.5), percentile(tally.seconds[label], 0.95)
            parts.append(f"{label} {p50 * 1000:.0f}/{p95 * 1000:.0f}")
        print(f"- {count} calls, {name}: " + ", ".join(parts))


if __name__ == "__main__":
    main()
