"""Resident memory of `voice-app serve`: the gunicorn master and one worker, idle after start (model loaded,
prompts rendered) and at their peak while the worker serves N simulated calls at once.

    .venv/bin/python benchmarks/server_memory.py [--calls 4 8] [--workers 1]

With one worker (the default) every call lands on it, so its figures are those of a worker carrying N calls.
Each call: consent by keypad, a spoken question (transcribed by Whisper), verification by keypad, an answer,
then the caller asks for a person. RSS is read from /proc/PID/status (VmRSS) every 0.2 s; after the calls
the worker's VmHWM (its peak RSS since it started) is printed as well. Prints Markdown for the README.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.served_instance import ServerNotReady, served_instance  # noqa: E402
from telephony.caller_voice import caller_says  # noqa: E402
from telephony.simulator import Press, Speak, TwilioSimulator  # noqa: E402
from voice_app.accounts.demo_data import WELL_KNOWN_ENGLISH, demo_customer  # noqa: E402


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} of {pid} not found")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    try:
        with served_instance(workers=args.workers, threads=16) as server:
            time.sleep(2)
            master, worker = server.process.pid, server.worker_pids[0]
            print("| state | master RSS MB | worker RSS MB |\n|---|---|---|")
            print(f"| after start (model loaded, prompts rendered) | {rss_mb(master):.0f} | {rss_mb(worker):.0f} |")
            customer = demo_customer(WELL_KNOWN_ENGLISH, date.today())
            question = caller_says("Where is my refund?", "en")
            script = [
                Press("1"),
                Speak(question, label="question"),
                Press(customer.date_of_birth.strftime("%d%m%Y")),
                Press("0"),
            ]
            for count in args.calls:
                peak = {"master": 0.0, "worker": 0.0}
                calls = [
                    threading.Thread(
                        target=TwilioSimulator(
                            server.url,
                            server.auth_token,
                            from_number=customer.phones[0],
                            to_number="+4420555010",
                            max_call_seconds=240,
                        ).place_call,
                        args=(script,),
                    )
                    for _ in range(count)
                ]
                for call in calls:
                    call.start()
                while any(call.is_alive() for call in calls):
                    peak["master"] = max(peak["master"], rss_mb(master))
                    peak["worker"] = max(peak["worker"], rss_mb(worker))
                    time.sleep(0.2)
                print(f"| peak during {count} concurrent calls | {peak['master']:.0f} | {peak['worker']:.0f} |")
            print(f"\nworker VmHWM (peak since start): {rss_mb(worker, 'VmHWM'):.0f} MB")
    except ServerNotReady as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()
