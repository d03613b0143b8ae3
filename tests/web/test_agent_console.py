"""The agent console through Flask's test client: the list, one transfer's context, closing a callback, and the
event stream that keeps the list current."""

from __future__ import annotations

import time

import pytest
from console_support import csrf_token_in, new_call, sign_in

from consent import audit
from voice_app import calls
from voice_app.handoff.queries import (
    finish_handoff,
    mark_agent_answered,
    open_callbacks,
    record_handoff,
    request_callback,
)
from voice_app.models import HandoffReason, utcnow
from voice_app.web.agent_console import REASON_LABELS, reason_label


@pytest.fixture(scope="module")
def agent_client_factory():
    """Signing in costs an argon2 verification; tests that only read share one signed-in agent per app."""
    clients = {}

    def signed_in(app, make_user):
        if app not in clients:
            client = app.test_client()
            assert sign_in(client, make_user("agent")).status_code == 302
            clients[app] = client
        return clients[app]

    return signed_in


@pytest.fixture
def agent(app, make_user, agent_client_factory):
    return agent_client_factory(app, make_user)


def transfer(
    engine,
    *,
    consent=None,
    verified=True,
    name="Erika Mustermann",
    summary="Card payment declined twice.",
    excerpt="my card keeps getting declined",
    reason="caller_asked",
):
    call = new_call(engine, consent=consent)
    return call, record_handoff(
        engine,
        call.id,
        reason=reason,
        summary=summary,
        transcript_excerpt=excerpt,
        customer_name=name,
        verified=verified,
        consent_decision=consent,
        language="de",
        dial_target="+4930123456789",
    )


def page(client, path) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


# -- the list ------------------------------------------------------------------------------------------------


def test_the_list_shows_transfers_newest_first_and_open_callbacks(services, agent):
    _, older = transfer(services.engine, summary="Older transfer summary")
    call, newer = transfer(services.engine, summary="Newer transfer summary", verified=False, name="Hidden Person")
    request_callback(services.engine, call.id)
    html = page(agent, "/agent/")
    assert html.index("Newer transfer summary") < html.index("Older transfer summary")
    transfers = html[html.index('id="transfers-heading"') :]
    assert transfers.index(f"#{newer.id}<") < transfers.index(f"#{older.id}<")
    callbacks = html[html.index('id="callbacks-heading"') : html.index('id="transfers-heading"')]
    assert f'href="/agent/handoffs/{newer.id}"' in callbacks
    assert "Hidden Person" not in html and "Unverified caller" in html
    assert "Waiting for agent" in html


def test_caller_text_is_escaped(services, agent):
    _, handoff = transfer(
        services.engine,
        consent="granted",
        summary='<script>alert("x")</script> asked',
        name="<b>Bold</b>",
        excerpt="<img src=x onerror=alert(1)>",
    )
    for path in ("/agent/", f"/agent/handoffs/{handoff.id}"):
        html = page(agent, path)
        assert "<script>alert" not in html and "&lt;script&gt;alert" in html
        assert "<b>Bold</b>" not in html and "&lt;b&gt;Bold&lt;/b&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_every_hand_over_reason_has_a_label_for_agents():
    assert {reason.value for reason in HandoffReason} <= set(REASON_LABELS)
    assert reason_label("renamed_later") == "renamed later"


def test_console_pages_are_not_cached(agent):
    assert agent.get("/agent/").headers["Cache-Control"] == "no-store"


# -- one transfer --------------------------------------------------------------------------------------------


def test_a_transfer_shows_its_whole_context(services, agent):
    call, handoff = transfer(services.engine, consent="granted")
    calls.add_event(services.engine, call.id, "consent_recorded", "granted seq 7")
    calls.store_turn(
        services.engine,
        call.id,
        transcript="Meine Karte wurde abgelehnt",
        confidence=0.87,
        language="de",
        intent="payment_status",
        intent_confidence=0.8,
        route="human",
        reply="Ich verbinde Sie.",
    )
    calls.add_event(services.engine, call.id, "transfer", "caller_asked")
    finish_handoff(services.engine, call.id, "connected", utcnow())
    html = page(agent, f"/agent/handoffs/{handoff.id}")
    for expected in (
        "Transfer #",
        "Erika Mustermann",
        "Card payment declined twice.",
        "Caller asked for a person",
        "Granted",
        "German",
        "Connected",
        "my card keeps getting declined",
        "Meine Karte wurde abgelehnt",
        "87% confidence",
        "payment status",
        "Ich verbinde Sie.",
        "Consent recorded",
        "granted seq 7",
        "+4930123456789",
    ):
        assert expected in html, expected
    assert html.index("Consent recorded") < html.index("caller_asked</span>")
    [viewed] = [
        e
        for e in audit.entries(services.engine, action="view_handoff")
        if e.details_dict() == {"handoff_id": handoff.id}
    ]
    assert viewed.actor.startswith("agent")


def test_without_consent_no_words_are_shown_and_without_verification_no_name(services, agent):
    call, handoff = transfer(services.engine, consent="refused", verified=False, reason="consent_refused")
    calls.store_turn(
        services.engine,
        call.id,
        transcript="should never be stored",
        confidence=0.9,
        language="de",
        intent="payment_status",
        intent_confidence=0.8,
        route="human",
        reply="",
    )
    html = page(agent, f"/agent/handoffs/{handoff.id}")
    assert "Erika Mustermann" not in html and "Name not shown: not verified" in html
    assert "my card keeps getting declined" not in html and "should never be stored" not in html
    assert "consent is refused" in html and "Caller refused consent" in html


@pytest.mark.parametrize(
    "path",
    [
        "/agent/handoffs/999999",
        "/agent/handoffs/0",
        "/agent/handoffs/-1",
        "/agent/handoffs/abc",
        "/agent/handoffs/99999999999999999999",
    ],
)
def test_unknown_or_malformed_transfer_ids_are_not_found(agent, path):
    assert agent.get(path).status_code == 404


# -- callbacks -----------------------------------------------------------------------------------------------


def test_an_agent_marks_a_callback_done_with_a_note(services, agent):
    call, handoff = transfer(services.engine)
    callback = request_callback(services.engine, call.id)
    token = csrf_token_in(page(agent, f"/agent/handoffs/{handoff.id}"))
    response = agent.post(
        f"/agent/callbacks/{callback.id}/done", data={"csrf_token": token, "note": "Called back <ok>"}
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/agent/handoffs/{handoff.id}"
    html = page(agent, f"/agent/handoffs/{handoff.id}")
    assert "Callback marked done." in html and "Called back &lt;ok&gt;" in html and "Done " in html
    assert callback.id not in [item.callback.id for item in open_callbacks(services.engine)]

    again = agent.post(f"/agent/callbacks/{callback.id}/done", data={"csrf_token": token, "note": ""})
    assert again.status_code == 303
    assert "already been marked done" in page(agent, f"/agent/handoffs/{handoff.id}")


def test_marking_a_callback_done_needs_a_csrf_token(services, agent):
    call, _ = transfer(services.engine)
    callback = request_callback(services.engine, call.id)
    assert agent.post(f"/agent/callbacks/{callback.id}/done", data={"note": "x"}).status_code == 400
    assert callback.id in [item.callback.id for item in open_callbacks(services.engine)]


def test_an_overlong_note_is_refused_and_the_callback_stays_open(services, agent):
    call, handoff = transfer(services.engine)
    callback = request_callback(services.engine, call.id)
    token = csrf_token_in(page(agent, f"/agent/handoffs/{handoff.id}"))
    response = agent.post(f"/agent/callbacks/{callback.id}/done", data={"csrf_token": token, "note": "x" * 501})
    assert response.status_code == 400 and "Keep the note to 500 characters." in response.get_data(as_text=True)
    assert callback.id in [item.callback.id for item in open_callbacks(services.engine)]


def test_closing_an_unknown_callback_is_not_found(agent):
    token = csrf_token_in(page(agent, "/agent/"))
    assert agent.post("/agent/callbacks/999999/done", data={"csrf_token": token}).status_code == 404


# -- the event stream ----------------------------------------------------------------------------------------


def read_event(chunks, seconds=5.0) -> dict[str, str]:
    """The next event from a text/event-stream body, as field -> value (data lines joined)."""
    deadline = time.monotonic() + seconds
    buffer = ""
    while time.monotonic() < deadline:
        buffer += next(chunks).decode()
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields: dict[str, str] = {}
            for line in block.splitlines():
                name, _, value = line.partition(": ")
                if name == "data" and "data" in fields:
                    fields["data"] += "\n" + value
                elif name and not name.startswith(":"):
                    fields[name] = value
            if "event" in fields:
                return fields
    raise AssertionError("no event within the time limit")


def test_the_stream_sends_the_list_and_then_each_change(services, agent):
    response = agent.get("/agent/events", buffered=False)
    try:
        assert response.mimetype == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-store"
        chunks = response.iter_encoded()
        first = read_event(chunks)
        assert first["event"] == "feed" and len(first["id"]) == 16 and "Transfers" in first["data"]

        _, handoff = transfer(services.engine, summary="A transfer that arrives while watching")
        second = read_event(chunks)
        assert second["id"] != first["id"]
        assert "A transfer that arrives while watching" in second["data"]
        assert f'href="/agent/handoffs/{handoff.id}"' in second["data"]
    finally:
        response.close()


def current_version(client) -> str:
    response = client.get("/agent/events", buffered=False)
    try:
        return read_event(response.iter_encoded())["id"]
    finally:
        response.close()


def test_a_reconnecting_browser_gets_only_changes_after_the_version_it_has(services, agent):
    current = current_version(agent)
    response = agent.get("/agent/events", buffered=False, headers={"Last-Event-ID": current})
    try:
        chunks = response.iter_encoded()
        call, _ = transfer(services.engine, summary="Changed after reconnecting")
        changed = read_event(chunks)
        assert changed["id"] != current and "Changed after reconnecting" in changed["data"]
        mark_agent_answered(services.engine, call.id, utcnow())
        answered = read_event(chunks)
        assert answered["id"] != changed["id"] and "Agent answered" in answered["data"], "row changes are sent too"
    finally:
        response.close()


# -- the number to call back and the voice message ----------------------------------------------------------


@pytest.fixture
def voice_message(services, speech):
    """A callback request with a number and a voice message of real synthetic speech, stored the way the call
    flow stores it."""
    from voice_app.handoff.voicemails import bind_voicemail_stream, reserve_voicemail, store_voicemail

    call, handoff = transfer(services.engine, summary="Caller left a voice message")
    callback = request_callback(services.engine, call.id, "+4915112345678")
    slot = reserve_voicemail(services.engine, call.id)
    assert bind_voicemail_stream(services.engine, call.id, "MZ" + "a" * 32) == slot
    audio = speech.synthesizer.synthesize("Please call me back about my refund.", "en")
    assert store_voicemail(services.engine, slot, audio, "hash_key")
    return handoff, callback, slot, audio


def test_the_list_and_the_transfer_show_the_number_and_the_voice_message(services, agent, voice_message):
    handoff, callback, slot, audio = voice_message
    listed = page(agent, "/agent/")
    row = listed[listed.index(f'href="/agent/handoffs/{handoff.id}"') :]
    row = row[: row.index("</tr>")]
    seconds = round(len(audio) / 8000)
    assert 'href="tel:+4915112345678"' in row and f"Voice message 0:{seconds:02d}, new" in row
    html = page(agent, f"/agent/handoffs/{handoff.id}")
    assert f'<audio controls preload="none" src="/agent/voicemails/{slot}.wav">' in html
    assert "+4915112345678" in html and "Not played yet" in html


def test_an_agent_plays_the_voice_message_and_is_recorded_as_having_listened(services, agent, voice_message):
    import io
    import wave

    handoff, _, slot, audio = voice_message
    response = agent.get(f"/agent/voicemails/{slot}.wav")
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert response.headers["Cache-Control"] == "no-store"
    with wave.open(io.BytesIO(response.data)) as file:
        assert (file.getframerate(), file.getnchannels(), file.getsampwidth()) == (8000, 1, 2)
        assert file.getnframes() == len(audio), "every sample of the message"
    part = agent.get(f"/agent/voicemails/{slot}.wav", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.data) == 100, "the player can seek"
    agent.get(f"/agent/voicemails/{slot}.wav", headers={"Range": "bytes=100-199"})
    plays = [e.details_dict() for e in audit.entries(services.engine, action="play_voice_message")]
    assert plays.count({"voicemail_id": slot}) == 2, "a playback is audited once, not every seek"
    html = page(agent, f"/agent/handoffs/{handoff.id}")
    assert "Not played yet" not in html and "first played" in html


def test_the_voice_message_is_only_for_signed_in_agents(app, services, make_user, voice_message):
    _, _, slot, _ = voice_message
    anonymous = app.test_client()
    response = anonymous.get(f"/agent/voicemails/{slot}.wav")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert b"RIFF" not in response.data
    compliance = app.test_client()
    assert sign_in(compliance, make_user("compliance")).status_code == 302
    assert compliance.get(f"/agent/voicemails/{slot}.wav").status_code == 403


def test_unknown_voice_messages_are_not_found(agent):
    for path in ("/agent/voicemails/999999.wav", "/agent/voicemails/0.wav", "/agent/voicemails/x.wav"):
        assert agent.get(path).status_code == 404


def test_closing_the_callback_clears_the_number_and_closes_the_message(services, agent, voice_message):
    from sqlmodel import Session

    from voice_app.handoff.models import CallbackRequest, Voicemail

    handoff, callback, slot, _ = voice_message
    token = csrf_token_in(page(agent, f"/agent/handoffs/{handoff.id}"))
    assert agent.post(f"/agent/callbacks/{callback.id}/done", data={"csrf_token": token}).status_code == 303
    with Session(services.engine) as session:
        assert session.get(CallbackRequest, callback.id).callback_number is None
        assert session.get(Voicemail, slot).status == "done"
    assert "+4915112345678" not in page(agent, f"/agent/handoffs/{handoff.id}")
    assert agent.get(f"/agent/voicemails/{slot}.wav").status_code == 200, "still there until retention deletes it"
