"""Logs hold no personal data. A demo customer's whole call through the real server, with everything it logs
kept at the most verbose level: they agree by voice, ask a routine question, key in their date of birth, hear
the answer, ask for a person by key, and when nobody answers choose a callback, which stores their number.
Nothing logged may hold their number in any format, their date of birth, postcode or name, or what they said."""

from __future__ import annotations

import re
import secrets
from datetime import date
from urllib.parse import unquote

from telephony.caller_voice import caller_says
from telephony.simulator import Press, Speak, TwilioSimulator
from tests.databases import query_sql
from tests.log_capture import everything_logged
from tests.personal_data import date_of_birth_pattern, phone_number_pattern
from tests.support import settings_with_database
from voice_app.accounts.demo_data import WELL_KNOWN_ENGLISH, demo_customer, seed_demo
from voice_app.local_server import LocalServer

SECRET_KEY = "log-privacy-secret-" + "9" * 32
CUSTOMER = demo_customer(WELL_KNOWN_ENGLISH, date.today())
SAID = ("Yes, I agree.", "What do I still have to pay?")


def word_runs(text: str, length: int = 3) -> set[str]:
    """Every run of `length` words of `text`: a transcript, or a line quoting part of it, holds one of them,
    while single words ("pay", "I") may stand in any log line."""
    words = re.findall(r"[a-z0-9']+", text.lower())
    if len(words) <= length:
        return {" ".join(words)}
    return {" ".join(words[start : start + length]) for start in range(len(words) - length + 1)}


def test_a_whole_call_leaves_no_personal_data_in_any_log_line(database_url, base_settings, speech):
    number = CUSTOMER.phones[0]
    settings = settings_with_database(base_settings, database_url)
    auth_token = secrets.token_hex(16)
    with (
        everything_logged() as log_lines,
        LocalServer(settings, auth_token=auth_token, secret_key=SECRET_KEY, speech=speech) as server,
    ):
        seed_demo(server.services.engine, SECRET_KEY, today=date.today())
        script = [
            Speak(caller_says(SAID[0], "en"), label=SAID[0]),
            Speak(caller_says(SAID[1], "en"), label=SAID[1]),
            Press(CUSTOMER.date_of_birth.strftime("%d%m%Y")),
            Press("0"),  # a person, please; nobody answers, and the caller keeps the callback
            Press("1"),
        ]
        simulator = TwilioSimulator(
            server.url,
            auth_token,
            from_number=number,
            to_number="+4420555010",
            dial_outcome="no-answer",
            ring_seconds=1.0,
            max_call_seconds=240,
        )
        result = simulator.place_call(script)

    # The call went the whole way: the answer came after the keyed-in birth date, and the callback is stored.
    assert result.dial_status == "no-answer", result.events
    [(callbacks,)] = query_sql(
        database_url, "SELECT COUNT(*) FROM callback_requests WHERE callback_number = :n", n=number
    )
    assert callbacks == 1
    transcripts = [row[0] for row in query_sql(database_url, "SELECT transcript FROM turns ORDER BY at")]
    assert any("pay" in transcript.lower() for transcript in transcripts), transcripts

    found = {
        "phone number": phone_number_pattern(number),
        "date of birth": date_of_birth_pattern(CUSTOMER.date_of_birth),
        "postcode": re.compile(r"\s*".join(map(re.escape, CUSTOMER.postcode.replace(" ", ""))), re.IGNORECASE),
        "name": re.compile(f"{re.escape(CUSTOMER.first_name)}|{re.escape(CUSTOMER.last_name)}", re.IGNORECASE),
        "what was said": re.compile(
            "|".join(re.escape(run) for text in (*SAID, *transcripts) for run in word_runs(text)), re.IGNORECASE
        ),
    }
    # What was kept is the server's log: the access log's request lines, and the app's own lines about the call.
    assert any('"POST /twilio/voice HTTP/1.1" 200' in line for line in log_lines)
    assert any(f"[call {result.call_sid}]" in line for line in log_lines)
    leaks = [
        f"{what}: {line}"
        for line in log_lines
        for what, pattern in found.items()
        if pattern.search(line) or pattern.search(unquote(line))
    ]
    assert leaks == []
