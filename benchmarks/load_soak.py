"""Load and soak: N simulated callers at once against one `voice-app serve` instance for a bounded time, each
calling again as soon as its call ends; the figures a leak or an overload would show.

    .venv/bin/python benchmarks/load_soak.py --calls 8 --minutes 10              # soak
    .venv/bin/python benchmarks/load_soak.py --calls 8 16 24 --minutes 3         # steps on one server: the largest N
                                                                                  # whose p95 stays under 1.5 s

Each call is a demo customer of the English line, played over the Media Streams websocket in real time: the
disclosure and notice, consent by keypad, a spoken routine question (espeak-ng through 8 kHz mu-law), verification
by keypad (date of birth), the answer, a second spoken question and its answer, then "Thank you, goodbye." and the
app hangs up. The callers of a step start spread over its first seconds, as calls arrive on a real line, and no
call starts after the step's time is up (the calls in progress are played to their end).

Reported per step: calls completed; errors (calls that did not end with the app's goodbye, and why); voice-to-voice
p50/p95 over the spoken turns (the simulator's `turn_latencies`: the caller's last frame of sound to the first frame
of the reply, as Twilio would see it) and how many were cut off or got no reply; and the server's resident memory
(master + workers), threads and open files (/proc/PID/status, /proc/PID/fd) before the step and after it, once its
calls have ended, so that a leak shows as growth. Prints Markdown.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from sqlmodel import Session, col, select

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.served_instance import ProcessStats, ServedInstance, ServerNotReady, served_instance  # noqa: E402
from telephony.caller_voice import caller_says  # noqa: E402
from telephony.simulator import CallResult, Press, ScriptItem, Speak, TwilioSimulator  # noqa: E402
from voice_app.accounts.demo_data import DemoCustomer, demo_customers  # noqa: E402
from voice_app.database import make_engine  # noqa: E402
from voice_app.models import Call  # noqa: E402

ENGLISH_LINE = "+4420555010"
# Phrases Whisper base hears well from espeak-ng's English voice (the whole-call tests use them).
FIRST_QUESTIONS = ("Where is my refund?", "What do I still have to pay?", "Have I paid my invoice?")
SECOND_QUESTIONS = ("When is the next instalment due?", "How can I pay?", "What do I still have to pay?")
GOODBYE = "Thank you, goodbye."
# Callers of a step start spread over this many seconds.
RAMP_SECONDS = 20.0
# Long enough for a call on an overloaded server; a call cut short by it counts as an error.
MAX_CALL_SECONDS = 400
# What p95 must stay under for a step to count as carried.
P95_TARGET_SECONDS = 1.5
# After a step's calls: the server's workers settle (threads of finished calls end) before they are measured.
SETTLE_SECONDS = 5.0


@dataclass
class Step:
    calls_at_once: int
    minutes: float
    results: list[CallResult] = field(default_factory=list)
    before: list[ProcessStats] = field(default_factory=list)
    after: list[ProcessStats] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    # The machine's 1-minute load average at the start and the end: the share of the cores others took.
    load: list[float] = field(default_factory=list)
    handoff_reasons: dict[str, str] = field(default_factory=dict)  # by CallSid, of the calls handed to a person
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: CallResult) -> None:
        with self.lock:
            self.results.append(result)


def scripts(customers: list[DemoCustomer]) -> list[tuple[DemoCustomer, list[ScriptItem]]]:
    """One script per customer, the questions taking turns among them."""
    spoken = {text: caller_says(text, "en") for text in {*FIRST_QUESTIONS, *SECOND_QUESTIONS, GOODBYE}}
    played: list[tuple[DemoCustomer, list[ScriptItem]]] = []
    for index, customer in enumerate(customers):
        first, second = FIRST_QUESTIONS[index % len(FIRST_QUESTIONS)], SECOND_QUESTIONS[index % len(SECOND_QUESTIONS)]
        played.append(
            (
                customer,
                [
                    Press("1"),
                    Speak(spoken[first], first),
                    Press(customer.date_of_birth.strftime("%d%m%Y")),
                    Speak(spoken[second], second),
                    Speak(spoken[GOODBYE], GOODBYE),
                ],
            )
        )
    return played


def call_error(result: CallResult, handoff_reasons: dict[str, str]) -> str | None:
    """Why a call did not end as expected (the app's goodbye, then its hang-up); None when it did."""
    if result.outcome == "transferred":
        return f"transferred ({handoff_reasons.get(result.call_sid, 'reason not stored')})"
    if result.outcome != "hangup":
        return result.outcome + (f": {result.error}" if result.error else "")
    if len(result.turn_latencies) != 3:
        return f"{len(result.turn_latencies)} of 3 spoken turns reached the app"
    return None


def run_step(
    server: ServedInstance, step: Step, played: list[tuple[DemoCustomer, list[ScriptItem]]], out_of_time: float
) -> None:
    turn = itertools.count()
    turn_lock = threading.Lock()

    def caller(start_after: float) -> None:
        time.sleep(start_after)
        while time.monotonic() < out_of_time:
            with turn_lock:
                customer, script = played[next(turn) % len(played)]
            simulator = TwilioSimulator(
                server.url,
                server.auth_token,
                from_number=customer.phones[0],
                to_number=ENGLISH_LINE,
                max_call_seconds=MAX_CALL_SECONDS,
            )
            step.add(simulator.place_call(script))

    step.before = server.process_stats()
    step.load.append(os.getloadavg()[0])
    callers = [
        threading.Thread(target=caller, args=(index * RAMP_SECONDS / step.calls_at_once,), daemon=True)
        for index in range(step.calls_at_once)
    ]
    for thread in callers:
        thread.start()
    while any(thread.is_alive() for thread in callers):
        step.peak_rss_mb = max(step.peak_rss_mb, sum(stats.rss_mb for stats in server.process_stats()))
        time.sleep(1.0)
    step.load.append(os.getloadavg()[0])
    time.sleep(SETTLE_SECONDS)
    step.after = server.process_stats()
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as session:
            sids = [result.call_sid for result in step.results if result.outcome == "transferred"]
            for call in session.exec(select(Call).where(col(Call.call_sid).in_(sids))):
                step.handoff_reasons[call.call_sid] = call.handoff_reason or "none"
    finally:
        engine.dispose()


def voice_to_voice(step: Step) -> list[float]:
    """The timed turns of a step that the app answered without cutting the caller off, in seconds."""
    return [
        turn.seconds
        for result in step.results
        for turn in result.turn_latencies
        if turn.seconds is not None and not turn.cut_off
    ]


def percentile(values: list[float], share: float) -> str:
    return f"{np.percentile(values, share) * 1000:.0f}" if values else "-"


def totals(stats: list[ProcessStats]) -> tuple[float, int, int]:
    return (
        sum(item.rss_mb for item in stats),
        sum(item.threads for item in stats),
        sum(item.open_files for item in stats),
    )


def report(steps: list[Step], workers: int, threads: int) -> str:
    lines = [
        "| calls at once | minutes | calls completed | errors | spoken turns | voice-to-voice p50 ms | p95 ms "
        "| cut off | no reply | RSS MB master+workers, start → end (peak) | threads start → end "
        "| open files start → end | machine load start → end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    problems: Counter[str] = Counter()
    for step in steps:
        errors = [error for result in step.results if (error := call_error(result, step.handoff_reasons)) is not None]
        problems.update(errors)
        turns = [turn for result in step.results for turn in result.turn_latencies]
        seconds = voice_to_voice(step)
        rss_before, threads_before, files_before = totals(step.before)
        rss_after, threads_after, files_after = totals(step.after)
        lines.append(
            f"| {step.calls_at_once} | {step.minutes:g} | {len(step.results) - len(errors)} | {len(errors)} "
            f"| {len(turns)} | {percentile(seconds, 50)} | {percentile(seconds, 95)} "
            f"| {sum(turn.cut_off for turn in turns)} | {sum(turn.seconds is None for turn in turns)} "
            f"| {rss_before:.0f} → {rss_after:.0f} ({step.peak_rss_mb:.0f}) | {threads_before} → {threads_after} "
            f"| {files_before} → {files_after} | {' → '.join(f'{load:.1f}' for load in step.load)} |"
        )
    lines.append(f"\nOne `voice-app serve`, {workers} worker(s) of {threads} threads, shipped settings otherwise.")
    if problems:
        lines.append("\nErrors: " + "; ".join(f"{count} × {problem}" for problem, count in problems.most_common()))
    carried = [
        step.calls_at_once
        for step in steps
        if voice_to_voice(step) and np.percentile(voice_to_voice(step), 95) < P95_TARGET_SECONDS
    ]
    if carried:
        lines.append(
            f"\nLargest step with voice-to-voice p95 under {P95_TARGET_SECONDS:g} s: {max(carried)} calls at once."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[8], help="callers at once, one step each")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long each step places calls")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (the shipped config has 2)")
    parser.add_argument("--threads", type=int, default=16, help="threads per worker (the shipped config has 16)")
    args = parser.parse_args()
    if any(count < 1 for count in args.calls) or min(args.minutes, args.workers, args.threads) <= 0:
        parser.error("--calls, --minutes, --workers and --threads must be positive")
    today = date.today()
    customers = [customer for customer in demo_customers(today) if customer.language == "en" and customer.phones]
    played = scripts(customers)
    steps = []
    try:
        with served_instance(workers=args.workers, threads=args.threads) as server:
            time.sleep(SETTLE_SECONDS)
            for count in args.calls:
                step = Step(count, args.minutes)
                print(f"step: {count} calls at once for {args.minutes:g} min ...", file=sys.stderr, flush=True)
                run_step(server, step, played, time.monotonic() + args.minutes * 60)
                steps.append(step)
                print(report([step], args.workers, args.threads), file=sys.stderr, flush=True)
    except ServerNotReady as error:
        sys.exit(str(error))
    print(report(steps, args.workers, args.threads))


if __name__ == "__main__":
    main()
