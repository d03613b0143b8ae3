"""The agent console in a real browser: Debian's chromium, headless, driven by Playwright, against the real server
on a loopback port. An agent signs in, keeps the list open while a call is handed over, sees it appear without
reloading, opens it and reads its context."""

from __future__ import annotations

import re

import pytest
from console_support import AUTH_TOKEN, PASSWORD, console_app
from playwright.sync_api import expect

from telephony.caller_voice import caller_says
from tests.browser import SCREENSHOTS, WAIT_MS, requires_chromium
from tests.support import settings_with_database
from voice_app import calls, local_server
from voice_app.handoff.queries import record_handoff, request_callback
from voice_app.local_server import LocalServer
from voice_app.users.management import create_user

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory, base_settings, speech):
    settings = settings_with_database(base_settings, tmp_path_factory.mktemp("browser") / "browser.db")
    with pytest.MonkeyPatch.context() as patch:
        # Until create_app registers the consoles itself (see console_app).
        patch.setattr(local_server, "create_app", console_app)
        running = LocalServer(settings, auth_token=AUTH_TOKEN, secret_key="b" * 40, speech=speech)
    with running:
        yield running


def sign_in(page, server, username) -> None:
    create_user(server.services.engine, username, PASSWORD, "agent")
    page.goto(server.url + "/agent/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Transfers and callbacks")).to_be_visible()
    expect(page.locator("#feed-status[data-state=live]")).to_have_count(1, timeout=WAIT_MS)


def hand_over_a_call(engine, call_sid: str) -> int:
    """What the call flow stores when it hands a consenting, verified caller to a person."""
    call = calls.register_call(engine, call_sid, "c" * 64, "+4930555010", "de")
    calls.record_consent_decision(engine, call.id, "granted")
    calls.add_event(engine, call.id, "consent_recorded", "granted seq 1")
    calls.store_turn(
        engine,
        call.id,
        transcript="Meine Kartenzahlung wurde zweimal abgelehnt",
        confidence=0.91,
        language="de",
        intent="payment_status",
        intent_confidence=0.8,
        route="human",
        reply="Ich verbinde Sie mit einem Mitarbeiter.",
    )
    calls.add_event(engine, call.id, "transfer", "out_of_scope")
    handoff = record_handoff(
        engine,
        call.id,
        reason="out_of_scope",
        summary="Erika Mustermann (verified) asks why her card payment was declined twice today. "
        "The assistant cannot answer card declines yet.",
        transcript_excerpt="Meine Kartenzahlung wurde zweimal abgelehnt",
        customer_name="Erika Mustermann",
        verified=True,
        consent_decision="granted",
        language="de",
        dial_target="+4930123456789",
    )
    return handoff.id


def test_an_agent_sees_a_transfer_arrive_and_opens_its_context(server, page):
    sign_in(page, server, "agent.watching")
    expect(page.get_by_text("No transfers yet.")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")

    handoff_id = hand_over_a_call(server.services.engine, "CA" + "b" * 32)

    link = page.get_by_role("link", name=f"#{handoff_id}", exact=True)
    expect(link).to_be_visible(timeout=WAIT_MS)
    assert page.evaluate("window.stillTheSamePage") is True, "the transfer appeared without a reload"
    row = page.locator("tr", has=link)
    expect(row).to_contain_text("Erika Mustermann")
    expect(row).to_contain_text("Verified")
    expect(row).to_contain_text("Waiting for agent")
    expect(page.locator("#feed-status")).to_contain_text("List updated")
    expect(row.locator("time")).not_to_contain_text("UTC")  # shown in the agent's own time zone
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "agent-console.png", full_page=True)

    link.click()
    expect(page).to_have_url(f"{server.url}/agent/handoffs/{handoff_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Transfer #{handoff_id}: Erika Mustermann")
    expect(page.locator("#summary")).to_contain_text("declined twice today")
    facts = page.locator("dl.facts")
    for text in ("Outside what the assistant handles", "Granted", "German", "+4930123456789"):
        expect(facts).to_contain_text(text)
    expect(page.locator("#transcript-excerpt")).to_have_text("Meine Kartenzahlung wurde zweimal abgelehnt")
    expect(page.get_by_role("cell", name="Ich verbinde Sie mit einem Mitarbeiter.")).to_be_visible()
    expect(page.locator("ol.timeline li")).to_have_count(2)
    expect(page.locator("ol.timeline")).to_contain_text("Consent recorded")
    page.screenshot(path=SCREENSHOTS / "agent-console-detail.png", full_page=True)

    assert page.problems == [], "no script errors or blocked resources"


def test_an_agent_closes_a_callback_request_from_the_browser(server, page):
    sign_in(page, server, "agent.callbacks")
    handoff_id = hand_over_a_call(server.services.engine, "CA" + "d" * 32)
    request_callback(server.services.engine, calls.find_call(server.services.engine, "CA" + "d" * 32).id)

    callbacks = page.get_by_role("region", name=re.compile("Open callback requests"))
    link = callbacks.get_by_role("link", name=f"#{handoff_id}", exact=True)
    expect(link).to_be_visible(timeout=WAIT_MS)
    link.click()
    page.get_by_label("Note (optional)").fill("Called back <at 10:15>, card unblocked.")
    page.get_by_role("button", name="Mark callback done").click()
    expect(page.get_by_role("status")).to_contain_text("Callback marked done.")
    expect(page.get_by_text("Called back <at 10:15>, card unblocked.")).to_be_visible()
    expect(page.get_by_role("button", name="Mark callback done")).to_have_count(0)

    page.get_by_role("link", name="All transfers").click()
    expect(callbacks.get_by_role("link", name=f"#{handoff_id}", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")
    page.screenshot(path=SCREENSHOTS / "login.png")
    assert page.problems == [], "no script errors or blocked resources"


def test_a_simulated_call_transferred_by_the_assistant_appears_live(server, page, speech):
    """The whole path: a call through the simulator is handed over by the assistant while the agent watches."""
    import threading

    from telephony.simulator import Press, Speak, TwilioSimulator

    sign_in(page, server, "agent.live")
    page.evaluate("window.stillTheSamePage = true")
    question = "Can you book me a flight to Madrid?"
    script = [Press("1"), Speak(caller_says(question, "en"), label=question)]
    simulator = TwilioSimulator(
        server.url, AUTH_TOKEN, from_number="+4915199887766", to_number="+4420555010", max_call_seconds=120
    )
    results = []
    caller = threading.Thread(target=lambda: results.append(simulator.place_call(script)))
    caller.start()
    try:
        # The other tests of this module hand over verified callers; this caller never proved who they are.
        row = page.locator("tr", has_text="Outside what the assistant handles").filter(has_text="Not verified")
        expect(row).to_be_visible(timeout=120_000)
        assert page.evaluate("window.stillTheSamePage") is True, "the transfer appeared without a reload"
        row.get_by_role("link").first.click()
        expect(page.locator("#summary")).to_contain_text("something outside the hotline's topics")
        expect(page.locator("#transcript-excerpt")).to_contain_text("flight")
    finally:
        caller.join(timeout=150)
    assert results and results[0].outcome == "transferred"
    assert page.problems == []
