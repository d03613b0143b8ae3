"""When nobody takes the transfer (no answer, busy, failed, a queue that fails) or it is outside business hours,
the caller chooses: a callback (press 1, or nothing at all) or a voice message (press 2), recorded on our own
server from a media stream. Whole calls through the simulator against the real server, with espeak-ng speech
as the caller's message; the agent side is scripted in the simulator. Also: each transfer target's TwiML, the
whisper through SIP and a client, bad input to the choice."""

from __future__ import annotations

import dataclasses
import secrets
import time as clock
from concurrent.futures import ThreadPoolExecutor
from datetime import time
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import requests
from sqlmodel import Session, select

from telephony.audio import PHONE_RATE, mulaw_to_pcm16, pcm16_to_float32, read_mulaw_wav, resample
from telephony.caller_voice import caller_says
from telephony.simulator import CallResult, HangUp, Press, Speak, TwilioSimulator
from telephony.twiml import ConnectStream, Dial, Enqueue, Gather, Hangup, Play, parse_dial_target, parse_twiml
from tests.support import handoff_of, settings_with_database, signed_post
from voice_app import calls
from voice_app.config import VoicemailSettings
from voice_app.handoff.business_hours import BusinessHours
from voice_app.handoff.models import CallbackRequest, Voicemail
from voice_app.handoff.queries import open_callbacks
from voice_app.local_server import LocalServer

AUTH_TOKEN = secrets.token_hex(16)
SECRET_KEY = "choice-secret-" + "5" * 32
ACCOUNT = "AC" + "0" * 32
LINE = "+4420555010"
# Short limits so that the calls stay short; the shipped defaults are 120 s, 4 s and 10 s.
VOICEMAIL = VoicemailSettings(max_seconds=10, end_silence_seconds=3, no_message_seconds=5)
MESSAGE = "Hello, this is Anna Schmidt. Please call me back about the refund for my blue winter jacket."
LONG_MESSAGE = (
    MESSAGE + " I have been waiting for it since the beginning of last month, and nobody has told me "
    "why it takes so long. My customer number is on the invoice from the shop."
)
# How much longer a stored message may be than what the caller said: the kept margins around the speech (about
# half a second before the first word, 0.3 s after the last) and the moment before a key or hang-up arrives.
MESSAGE_SLACK_SECONDS = 1.2


def server_settings(base_settings, path, **telephony_changes):
    settings = settings_with_database(base_settings, path)
    return dataclasses.replace(
        settings, voicemail=VOICEMAIL, telephony=dataclasses.replace(settings.telephony, **telephony_changes)
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory, base_settings, speech):
    settings = server_settings(base_settings, tmp_path_factory.mktemp("choice") / "choice.db")
    with LocalServer(settings, auth_token=AUTH_TOKEN, secret_key=SECRET_KEY, speech=speech) as running:
        yield running


@dataclasses.dataclass(frozen=True)
class Scenario:
    caller: str
    dial_outcome: str
    after_transfer: tuple  # what the caller does once the transfer failed
    message: str | None = None  # spoken into the voice message


def scenarios(speech) -> dict[str, Scenario]:
    message = Speak(caller_says(MESSAGE, "en"), label=MESSAGE)
    long_message = Speak(caller_says(LONG_MESSAGE, "en"), label=LONG_MESSAGE)
    return {
        "callback_by_key": Scenario("+4915112345601", "no-answer", (Press("1"),)),
        "callback_by_waiting": Scenario("+4915112345602", "busy", ()),
        "voicemail_ended_by_hash": Scenario(
            "+4915112345603", "no-answer", (Press("2"), message, Press("#", immediately=True)), MESSAGE
        ),
        "voicemail_ended_by_silence": Scenario("+4915112345604", "failed", (Press("2"), message), MESSAGE),
        "voicemail_ended_by_max_length": Scenario(
            "+4915112345605", "no-answer", (Press("2"), long_message), LONG_MESSAGE
        ),
        "voicemail_then_hang_up": Scenario(
            "+4915112345606", "busy", (Press("2"), message, HangUp(immediately=True)), MESSAGE
        ),
        "voicemail_without_a_word": Scenario("+4915112345607", "no-answer", (Press("2"),)),
    }


@pytest.fixture(scope="module")
def finished(server, speech):
    """Every scenario as one whole call, all at the same time: the caller presses 0 for a person at once."""
    cases = scenarios(speech)

    def place(name: str) -> CallResult:
        case = cases[name]
        simulator = TwilioSimulator(
            server.url,
            AUTH_TOKEN,
            from_number=case.caller,
            to_number=LINE,
            dial_outcome=case.dial_outcome,
            ring_seconds=1.0,
            max_call_seconds=150,
        )
        return simulator.place_call([Press("0", barge_in=True), *case.after_transfer])

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        results = dict(zip(cases, pool.map(place, cases), strict=True))
    return cases, results


def call_of(server, result: CallResult):
    return calls.find_call(server.services.engine, result.call_sid)


def callback_of(server, result: CallResult) -> CallbackRequest:
    with Session(server.services.engine) as session:
        return session.exec(select(CallbackRequest).where(CallbackRequest.call_id == call_of(server, result).id)).one()


def voicemail_of(server, result: CallResult, wait_seconds: float = 5.0) -> Voicemail | None:
    """The call's stored message; waits a moment, as a caller who hung up does not wait for the server to store."""
    deadline = clock.monotonic() + wait_seconds
    while True:
        with Session(server.services.engine) as session:
            row = session.exec(select(Voicemail).where(Voicemail.call_id == call_of(server, result).id)).first()
        if (row is not None and row.status != "recording") or clock.monotonic() > deadline:
            return row
        clock.sleep(0.2)


def spoken_seconds(speech, text: str) -> float:
    return len(caller_says(text, "en")) / PHONE_RATE


def last_play(result: CallResult) -> str:
    verbs = parse_twiml(result.twiml[-1])
    assert isinstance(verbs[-1], Hangup)
    return next(verb.url for verb in verbs if isinstance(verb, Play))


# -- the callback ----------------------------------------------------------------------------------------------


def test_every_failed_dial_in_a_call_leads_to_the_choice(finished):
    cases, results = finished
    for name, result in results.items():
        assert result.dial_status == cases[name].dial_outcome, (name, result.events)
        gather = parse_twiml(result.twiml[2])[0]  # voice, after-stream, dial-status
        assert isinstance(gather, Gather) and "/agent_unreached_choice-" in gather.nested[0].url, name
        assert len(result.gathered) == 1, name


def test_pressing_1_keeps_the_callback_request_with_the_calls_context_and_number(server, finished):
    _, results = finished
    result = results["callback_by_key"]
    assert result.outcome == "hangup" and result.gathered == ["1"], result.events
    assert "/callback_promised-" in last_play(result)
    callback = callback_of(server, result)
    assert callback.status == "open" and callback.callback_number == "+4915112345601"
    handoff = handoff_of(server, result.call_sid)
    assert handoff.reason == "caller_asked" and "person" in handoff.summary
    assert handoff.outcome == "callback_requested"
    assert voicemail_of(server, result, wait_seconds=0) is None
    kinds = [(event.kind, event.detail) for event in calls.events_of(server.services.engine, callback.call_id)]
    assert ("agent_not_reached", "no-answer") in kinds and ("caller_choice", "callback") in kinds


def test_pressing_nothing_is_a_callback_too_and_twilio_asks_nothing_more(server, finished):
    _, results = finished
    result = results["callback_by_waiting"]
    assert result.outcome == "hangup" and result.gathered == [None], result.events
    assert len(result.twiml) == 3, "no request after the Gather: the promise played from the same document"
    assert "/callback_promised-" in next(verb.url for verb in parse_twiml(result.twiml[-1]) if isinstance(verb, Play))
    assert callback_of(server, result).callback_number == "+4915112345602"
    assert handoff_of(server, result.call_sid).outcome == "callback_requested"


# -- the voice message -----------------------------------------------------------------------------------------


def transcript(speech, voicemail: Voicemail) -> str:
    audio = pcm16_to_float32(mulaw_to_pcm16(read_mulaw_wav(voicemail.audio_wav)))
    return speech.transcriber.transcribe(resample(audio, PHONE_RATE, 16000), "en").text.lower()


def test_a_voice_message_ended_by_the_hash_key_holds_what_the_caller_said(server, speech, finished):
    _, results = finished
    result = results["voicemail_ended_by_hash"]
    assert result.outcome == "hangup" and result.gathered == ["2"], result.events
    assert len(result.stream_sids) == 2, "the conversation's stream, then the message's own"
    assert "/voicemail_thanks-" in last_play(result)
    voicemail = voicemail_of(server, result)
    said = spoken_seconds(speech, MESSAGE)
    assert voicemail.ended_by == "hash_key" and voicemail.status == "new"
    assert said <= voicemail.duration_seconds <= said + MESSAGE_SLACK_SECONDS, (voicemail.duration_seconds, said)
    assert len(read_mulaw_wav(voicemail.audio_wav)) == round(voicemail.duration_seconds * PHONE_RATE)
    heard = transcript(speech, voicemail)
    assert "refund" in heard and "jacket" in heard, heard
    assert voicemail.callback_id == callback_of(server, result).id
    assert handoff_of(server, result.call_sid).outcome == "voicemail"


def test_silence_after_the_message_ends_it(server, speech, finished):
    _, results = finished
    result = results["voicemail_ended_by_silence"]
    assert result.outcome == "hangup", result.events
    voicemail = voicemail_of(server, result)
    said = spoken_seconds(speech, MESSAGE)
    assert voicemail.ended_by == "silence"
    assert said <= voicemail.duration_seconds <= said + MESSAGE_SLACK_SECONDS, (voicemail.duration_seconds, said)
    assert "/voicemail_thanks-" in last_play(result)


def test_the_longest_message_is_cut_at_the_configured_length(server, speech, finished):
    _, results = finished
    result = results["voicemail_ended_by_max_length"]
    assert spoken_seconds(speech, LONG_MESSAGE) > VOICEMAIL.max_seconds + 2, "the caller talks for longer"
    assert result.outcome == "hangup", result.events
    voicemail = voicemail_of(server, result)
    assert voicemail.ended_by == "max_length"
    # Counted from the tone; the silence before the first word beyond the kept margin is not stored.
    assert VOICEMAIL.max_seconds - 1 <= voicemail.duration_seconds <= VOICEMAIL.max_seconds
    assert "/voicemail_thanks-" in last_play(result)


def test_a_caller_who_hangs_up_keeps_the_message_said_so_far(server, speech, finished):
    _, results = finished
    result = results["voicemail_then_hang_up"]
    assert result.outcome == "caller_hung_up", result.events
    voicemail = voicemail_of(server, result)
    said = spoken_seconds(speech, MESSAGE)
    assert voicemail is not None and voicemail.ended_by == "hang_up"
    assert said <= voicemail.duration_seconds <= said + MESSAGE_SLACK_SECONDS, (voicemail.duration_seconds, said)


def test_saying_nothing_leaves_no_message_and_the_callback_stands(server, finished):
    _, results = finished
    result = results["voicemail_without_a_word"]
    assert result.outcome == "hangup", result.events
    assert voicemail_of(server, result, wait_seconds=0) is None
    assert "/callback_promised-" in last_play(result)
    callback = callback_of(server, result)
    assert callback.status == "open" and callback.callback_number == "+4915112345607"
    assert handoff_of(server, result.call_sid).outcome == "callback_requested"
    assert "voicemail_empty" in [event.kind for event in calls.events_of(server.services.engine, callback.call_id)]


def test_the_voice_message_never_reaches_twilio_as_a_recording(finished):
    _, results = finished
    for result in results.values():
        assert all("<Record" not in document for document in result.twiml)


# -- the choice, request by request ------------------------------------------------------------------------------


def unanswered_call(server, caller: str = "+4915112345699") -> dict[str, str]:
    params = {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": ACCOUNT, "From": caller, "To": LINE}
    assert signed_post(server, "/twilio/voice", params).status_code == 200
    assert isinstance(parse_twiml(signed_post(server, "/twilio/after-stream", params).text)[0], Dial)
    assert isinstance(
        parse_twiml(signed_post(server, "/twilio/dial-status", {**params, "DialCallStatus": "no-answer"}).text)[0],
        Gather,
    )
    return params


@pytest.mark.parametrize("digits", [None, "", "1", "9", "0", "*", "#", "12", "21", "abc", "2" * 100, "١"])
def test_any_other_key_or_none_keeps_the_callback(server, digits):
    params = unanswered_call(server)
    response = signed_post(server, "/twilio/choice", params if digits is None else {**params, "Digits": digits})
    assert response.status_code == 200
    play, hangup = parse_twiml(response.text)
    assert isinstance(play, Play) and "/callback_promised-" in play.url and isinstance(hangup, Hangup)
    assert requests.get(play.url, timeout=10).status_code == 200
    callback = [
        item.callback
        for item in open_callbacks(server.services.engine)
        if item.callback.call_id == calls.find_call(server.services.engine, params["CallSid"]).id
    ]
    assert len(callback) == 1 and callback[0].callback_number == params["From"]


def test_pressing_2_opens_a_stream_for_the_message_once(server):
    params = unanswered_call(server)
    (connect,) = parse_twiml(signed_post(server, "/twilio/choice", {**params, "Digits": "2"}).text)
    assert isinstance(connect, ConnectStream)
    assert connect.stream_url == server.url.replace("http://", "ws://") + "/twilio/voicemail"
    assert connect.action_url == server.url + "/twilio/after-voicemail"
    assert set(connect.parameters) == {"stream_token"}
    # Twilio may retry; the slot is reserved only once, and a second stream for it is refused (test_twilio_edges).
    (again,) = parse_twiml(signed_post(server, "/twilio/choice", {**params, "Digits": "2"}).text)
    assert isinstance(again, ConnectStream) and again.parameters == connect.parameters


def test_choice_requests_that_cannot_be_read_are_refused_or_end_safely(server):
    assert signed_post(server, "/twilio/choice", {"Digits": "1"}).status_code == 400
    assert signed_post(server, "/twilio/choice", {"CallSid": "not-a-call-sid"}).status_code == 400
    unknown = signed_post(server, "/twilio/choice", {"CallSid": "CA" + secrets.token_hex(16), "Digits": "2"})
    assert unknown.status_code == 200 and parse_twiml(unknown.text) == [Hangup()]
    assert requests.post(server.url + "/twilio/choice", data={"Digits": "2"}, timeout=10).status_code == 403
    for path in ("/twilio/after-voicemail", "/twilio/queue-status"):
        assert (
            signed_post(server, path, {"CallSid": "CA" + secrets.token_hex(16), "QueueResult": "bridged"}).status_code
            == 200
        )
    assert (
        signed_post(
            server, "/twilio/queue-status", {"CallSid": "CA" + "0" * 32, "QueueResult": "teleported"}
        ).status_code
        == 400
    )


def test_a_withheld_number_leaves_no_number_to_call_back(server):
    params = unanswered_call(server, caller="anonymous")
    signed_post(server, "/twilio/choice", {**params, "Digits": "1"})
    call = calls.find_call(server.services.engine, params["CallSid"])
    (callback,) = [item.callback for item in open_callbacks(server.services.engine) if item.callback.call_id == call.id]
    assert callback.callback_number is None


def test_prompt_audio_is_served_only_for_the_current_text_of_a_played_prompt(server):
    params = unanswered_call(server)
    gather = parse_twiml(signed_post(server, "/twilio/dial-status", {**params, "DialCallStatus": "busy"}).text)[0]
    url = gather.nested[0].url
    assert requests.get(url, timeout=10).headers["Content-Type"] == "audio/wav"
    for broken in (
        url.replace("-", "-0", 1)[:-4] + ".wav",
        url.replace("/en/", "/fr/"),
        url.replace("agent_unreached_choice", "goodbye"),
        server.url + "/prompt-audio/en/nothing.wav",
    ):
        assert requests.get(broken, timeout=10).status_code == 404, broken


# -- outside business hours --------------------------------------------------------------------------------------


def test_outside_business_hours_a_whole_call_gets_the_choice_and_a_callback(tmp_path, base_settings, speech):
    never_open = BusinessHours(ZoneInfo("Europe/Berlin"), frozenset(), time.min, time.max)
    settings = dataclasses.replace(
        server_settings(base_settings, tmp_path / "closed.db"),
        telephony=dataclasses.replace(base_settings.telephony, business_hours=never_open),
    )
    with LocalServer(settings, auth_token=AUTH_TOKEN, secret_key=SECRET_KEY, speech=speech) as closed:
        result = TwilioSimulator(
            closed.url,
            AUTH_TOKEN,
            from_number="+4915112345610",
            to_number=LINE,
            dial_outcome="no-answer",
            max_call_seconds=90,
        ).place_call([Press("0", barge_in=True)])
        assert result.outcome == "hangup" and result.dial_target is None, "nobody was dialled"
        assert result.gathered == [None]
        gather, promise, _ = parse_twiml(result.twiml[1])  # voice, after-stream
        assert "/after_hours_choice-" in gather.nested[0].url
        assert "/after_hours_callback_promised-" in promise.url
        assert handoff_of(closed, result.call_sid).outcome == "after_hours"
        (callback,) = open_callbacks(closed.services.engine)
        assert callback.callback.callback_number == "+4915112345610"
        # A key pressed later in the same call keeps the after-hours promise.
        chose = signed_post(
            closed, "/twilio/choice", {"CallSid": result.call_sid, "AccountSid": ACCOUNT, "Digits": "1"}
        )
        assert "/after_hours_callback_promised-" in parse_twiml(chose.text)[0].url


# -- transfer targets --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["sip:agents@pbx.example.com", "client:agents"])
def test_sip_and_client_targets_ring_with_the_whisper_for_whoever_answers(tmp_path, base_settings, speech, target):
    settings = server_settings(base_settings, tmp_path / "target.db", agent_target=parse_dial_target(target))
    with LocalServer(settings, auth_token=AUTH_TOKEN, secret_key=SECRET_KEY, speech=speech) as running:
        result = TwilioSimulator(
            running.url,
            AUTH_TOKEN,
            from_number="+4915112345620",
            to_number=LINE,
            dial_outcome="completed",
            max_call_seconds=90,
        ).place_call([Press("0", barge_in=True)])
        assert result.outcome == "hangup", result.events
        dial = parse_twiml(result.twiml[1])[0]
        assert isinstance(dial, Dial) and (dial.kind, dial.target) == (
            parse_dial_target(target).kind,
            parse_dial_target(target).address,
        )
        assert dial.whisper_url.startswith(running.url + "/twilio/whisper/")
        (play,) = parse_twiml(result.whisper_twiml)
        assert "/handoff-audio/" in play.url and "whisper_play" in [event.kind for event in result.events]
        handoff = handoff_of(running, result.call_sid)
        assert (handoff.outcome, handoff.dial_target) == ("connected", parse_dial_target(target).label)
        assert handoff.agent_answered_at is not None
        assert not open_callbacks(running.services.engine)


def test_a_queue_target_enqueues_without_a_whisper_and_a_failed_queue_leads_to_the_choice(
    tmp_path, base_settings, speech
):
    settings = server_settings(base_settings, tmp_path / "queue.db", agent_target=parse_dial_target("queue:hotline"))
    with LocalServer(settings, auth_token=AUTH_TOKEN, secret_key=SECRET_KEY, speech=speech) as running:
        full = TwilioSimulator(
            running.url,
            AUTH_TOKEN,
            from_number="+4915112345630",
            to_number=LINE,
            queue_result="queue-full",
            ring_seconds=0.5,
            max_call_seconds=90,
        ).place_call([Press("0", barge_in=True), Press("1")])
        assert full.outcome == "hangup" and full.gathered == ["1"], full.events
        (enqueue,) = parse_twiml(full.twiml[1])
        assert enqueue == Enqueue(queue="hotline", action_url=running.url + "/twilio/queue-status")
        handoff = handoff_of(running, full.call_sid)
        assert (handoff.dial_target, handoff.outcome, handoff.whisper_token) == (
            "queue:hotline",
            "callback_requested",
            None,
        )
        assert open_callbacks(running.services.engine)[0].callback.callback_number == "+4915112345630"

        for result, outcome, callbacks in (("bridged", "connected", 1), ("hangup", "callback_requested", 2)):
            params = {
                "CallSid": "CA" + secrets.token_hex(16),
                "AccountSid": ACCOUNT,
                "From": "+4915112345631",
                "To": LINE,
            }
            signed_post(running, "/twilio/voice", params)
            signed_post(running, "/twilio/after-stream", params)
            left = signed_post(running, "/twilio/queue-status", {**params, "QueueResult": result, "QueueTime": "12"})
            assert parse_twiml(left.text) == [Hangup()], "connected, or the caller is gone: nothing more to say"
            assert handoff_of(running, params["CallSid"]).outcome == outcome
            assert len(open_callbacks(running.services.engine)) == callbacks


def test_recorded_audio_is_the_callers_not_the_instructions(server, finished):
    """The message starts after the tone: none of the instructions or the tone is in it."""
    _, results = finished
    voicemail = voicemail_of(server, results["voicemail_ended_by_hash"])
    samples = pcm16_to_float32(mulaw_to_pcm16(read_mulaw_wav(voicemail.audio_wav)))
    spectrum = np.abs(np.fft.rfft(samples))
    frequencies = np.fft.rfftfreq(len(samples), 1 / PHONE_RATE)
    tone_band = spectrum[(frequencies > 990) & (frequencies < 1010)].mean()
    assert tone_band < 5 * spectrum[(frequencies > 300) & (frequencies < 3400)].mean(), "no 1 kHz tone in it"
