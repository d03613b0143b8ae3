"""One call split across two `voice-app serve` processes on one PostgreSQL database, as a load balancer may split it:
the voice webhook, the Connect action, the dial status and the status callback go to instance A; the media stream,
the caller's choice and the prompts Twilio fetches go to instance B. Both have the same public URL, which every
request is signed for; it names a host that does not exist, so only the simulator's routing reaches them. An agent
signed in on A watches the live list while the transfer is decided on B."""

from __future__ import annotations

import time

import pytest
from sqlmodel import Session, select

from consent.ledger import events_for_call, verify_chain
from telephony.caller_voice import caller_says
from telephony.simulator import Press, SimEvent, Speak, TwilioSimulator, route_by_path
from tests.agent_feed import AgentFeed
from tests.instances import SECRETS, running_instances
from voice_app import calls
from voice_app.database import make_engine
from voice_app.handoff.models import CallbackRequest, Handoff
from voice_app.users.management import create_user

PUBLIC_URL = "http://hotline.test"
CALLER = "+4915112345699"
LINE = "+4420555010"
AGENT, PASSWORD = "split-agent", "correct horse battery staple"
# The console looks at the database once a second; a transfer shows within a few.
LIVE_WITHIN_SECONDS = 5


@pytest.fixture(scope="module")
def split_call(postgres_server, tmp_path_factory):
    database_url = postgres_server.create_database("split")
    folder = tmp_path_factory.mktemp("split")
    engine = make_engine(database_url)
    try:
        with running_instances(["a", "b"], folder, database_url, PUBLIC_URL) as (a, b):
            create_user(engine, AGENT, PASSWORD, "agent")
            moments: dict[str, float] = {}

            def note(event: SimEvent) -> None:
                moments.setdefault(event.kind, time.monotonic())

            route = route_by_path(
                PUBLIC_URL, {"/": a.url, "/twilio/media": b.url, "/twilio/choice": b.url, "/prompt-audio/": b.url}
            )
            simulator = TwilioSimulator(
                PUBLIC_URL,
                SECRETS["TWILIO_AUTH_TOKEN"],
                from_number=CALLER,
                to_number=LINE,
                dial_outcome="no-answer",
                ring_seconds=1.0,
                max_call_seconds=150,
                route=route,
                on_event=note,
            )
            script = [
                Speak(caller_says("Yes, I agree.", "en"), label="Yes, I agree."),
                Press("0"),
                Press("1"),
            ]
            with AgentFeed(a.url, AGENT, PASSWORD) as feed:
                result = simulator.place_call(script)
                # Long enough for the list's last change (the callback after the dial status) to be sent too.
                time.sleep(LIVE_WITHIN_SECONDS)
            yield a, b, engine, result, feed, moments
    finally:
        engine.dispose()


def detail_of(result, kind: str) -> str:
    return next(event.detail for event in result.events if event.kind == kind)


def test_each_request_reached_the_instance_a_balancer_sent_it_to(split_call):
    a, b, _, result, _, _ = split_call
    assert result.outcome == "hangup", result.events
    assert f"sent to {a.url}/twilio/voice" in detail_of(result, "webhook")
    assert f"sent to {b.url.replace('http', 'ws')}/twilio/media" in detail_of(result, "stream_open")
    assert f"sent to {a.url}/twilio/after-stream" in detail_of(result, "action")
    assert f"sent to {a.url}/twilio/dial-status" in detail_of(result, "dial_action")
    assert f"sent to {b.url}/twilio/choice" in detail_of(result, "gather")
    assert f"sent to {a.url}/twilio/status" in detail_of(result, "status_callback")


def test_consent_given_by_voice_on_b_is_in_the_ledger(split_call):
    _, _, engine, result, _, _ = split_call
    (event,) = events_for_call(engine, result.call_sid)
    assert (event.decision, event.method) == ("granted", "speech")
    assert calls.find_call(engine, result.call_sid).consent_decision == "granted"
    assert verify_chain(engine).ok


def test_the_transfer_decided_on_b_is_dialled_by_a_and_the_unanswered_dial_becomes_a_callback(split_call):
    _, _, engine, result, _, _ = split_call
    assert (result.dial_kind, result.dial_status, result.gathered) == ("number", "no-answer", ["1"])
    call = calls.find_call(engine, result.call_sid)
    with Session(engine) as session:
        handoff = session.exec(select(Handoff).where(Handoff.call_id == call.id)).one()
        callback = session.exec(select(CallbackRequest).where(CallbackRequest.call_id == call.id)).one()
    assert (call.outcome, call.handoff_reason) == ("transfer", "caller_asked")
    assert handoff.outcome == "callback_requested"
    assert (callback.status, callback.callback_number) == ("open", CALLER)
    kinds = [(event.kind, event.detail) for event in calls.events_of(engine, call.id)]
    assert ("agent_not_reached", "no-answer") in kinds and ("caller_choice", "callback") in kinds
    assert call.status == "completed", "the status callback reached A"


def test_the_console_on_a_shows_live_what_b_decided(split_call):
    _, _, engine, result, feed, moments = split_call
    assert not feed.errors, feed.errors
    call = calls.find_call(engine, result.call_sid)
    with Session(engine) as session:
        handoff = session.exec(select(Handoff).where(Handoff.call_id == call.id)).one()
    link = f"/agent/handoffs/{handoff.id}"
    assert link not in feed.events[0].data, "the list before the call was sent first"
    shown_at = feed.first_arrival(link)
    assert shown_at is not None, [event.data[:200] for event in feed.events]
    assert shown_at <= moments["stream_closed"] + LIVE_WITHIN_SECONDS, "while the caller was still on the line"
    callback_shown_at = feed.first_arrival(f"tel:{CALLER}")
    assert callback_shown_at is not None and callback_shown_at >= moments["dial_ended"]
