"""The Twilio simulator against a throwaway Flask + flask-sock app on a real local websocket.

The app here knows only the telephony package: it checks signatures, answers with TwiML, reads the
stream with parse_inbound and talks back (paced by OutboundPlayer, or unpaced where a test needs it).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from flask import Flask, abort, request
from flask_sock import Sock
from werkzeug.serving import make_server

from telephony import media_protocol as mp
from telephony import twiml
from telephony.audio import (
    MULAW_SILENCE_FRAME,
    float_to_phone_mulaw,
    load_audio_file,
    mulaw_wav,
    split_frames,
    tone_mulaw,
)
from telephony.caller_voice import caller_says
from telephony.outbound import OutboundPlayer
from telephony.signatures import SIGNATURE_HEADER, SignatureChecker, public_url, websocket_url
from telephony.simulator import (
    HangUp,
    Press,
    Silence,
    Speak,
    TwilioSimulator,
    insert_pauses,
    join_with_pauses,
    route_by_path,
)

AUTH_TOKEN = "simulator-test-token-0123456789ab"
CALLER = "+4915112345678"
LINE = "+4930555010"
AGENT = "+4930123456789"


@pytest.fixture(scope="module")
def spoken_one() -> bytes:
    samples, rate = load_audio_file(Path("/work/shared/data/audio/one_two_three.wav"))
    mulaw = float_to_phone_mulaw(samples, rate)
    # "one": frames 2-38 of the recording, none of them digital silence, so the app can tell it apart.
    spoken = mulaw[2 * 160 : 39 * 160]
    assert MULAW_SILENCE_FRAME not in split_frames(spoken)
    return spoken


@dataclass
class Seen:
    """What the throwaway app observed, with monotonic timestamps."""

    webhook: dict[str, str] = field(default_factory=dict)
    handshake_signature_valid: bool | None = None
    messages: list[tuple[float, mp.InboundEvent]] = field(default_factory=list)
    sequence_numbers: list[int] = field(default_factory=list)
    prompt_started_at: dict[str, float] = field(default_factory=dict)
    action: dict[str, str] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    # The follow-up requests of a transfer, in arrival order: (path, form, monotonic time).
    follow_ups: list[tuple[str, dict[str, str], float]] = field(default_factory=list)
    dropped_marks: list[str] = field(default_factory=list)

    def of(self, kind: type) -> list[tuple[float, mp.InboundEvent]]:
        return [(at, message) for at, message in self.messages if isinstance(message, kind)]


class ThrowawayHotline:
    """Just enough of an app to drive the simulator; `stream_behaviour(ws, session)` plays the bot."""

    def __init__(self) -> None:
        self.checker = SignatureChecker(AUTH_TOKEN)
        self.seen = Seen()
        self.stream_behaviour: Callable[[object, StreamSession], None] = lambda ws, session: None
        self.refuse_handshake = False
        self.after_stream_twiml = twiml.dial(AGENT)
        # What each follow-up of a transfer answers (dial-status, whisper, choice, queue-status).
        self.follow_up_twiml: dict[str, str] = {}
        app = Flask(__name__)
        sock = Sock(app)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"

        @app.before_request
        def check_handshake() -> None:
            if request.path != "/twilio/media":
                return
            signature = request.headers.get(SIGNATURE_HEADER)
            self.seen.handshake_signature_valid = self.checker.is_valid(
                websocket_url(self.base, "/twilio/media"), {}, signature
            )
            if self.refuse_handshake or not self.seen.handshake_signature_valid:
                abort(403)

        @app.post("/twilio/voice")
        def voice():
            self._require_signature("/twilio/voice")
            self.seen.webhook = request.form.to_dict()
            return twiml.connect_stream(
                public_url(self.base, "/twilio/after-stream"),
                websocket_url(self.base, "/twilio/media"),
                {"call": request.form["CallSid"]},
            ), {"Content-Type": "text/xml"}

        @app.post("/twilio/after-stream")
        def after_stream():
            self._require_signature("/twilio/after-stream")
            self.seen.action = request.form.to_dict()
            return self.after_stream_twiml, {"Content-Type": "text/xml"}

        @app.post("/twilio/<any('dial-status', whisper, choice, 'queue-status'):step>")
        def follow_up(step: str):
            self._require_signature(f"/twilio/{step}")
            self.seen.follow_ups.append((step, request.form.to_dict(), time.monotonic()))
            return self.follow_up_twiml.get(step, twiml.hangup()), {"Content-Type": "text/xml"}

        @app.get("/audio/<float:seconds>.wav")
        def audio(seconds: float):
            return mulaw_wav(tone_mulaw(440, seconds)), {"Content-Type": "audio/wav"}

        @app.post("/twilio/status")
        def status():
            self._require_signature("/twilio/status")
            self.seen.status = request.form.to_dict()
            return "", 204

        @sock.route("/twilio/media")
        def media(ws) -> None:
            self.stream_behaviour(ws, StreamSession(ws, self.seen))

    def _require_signature(self, path: str) -> None:
        if not self.checker.is_valid(public_url(self.base, path), request.form, request.headers.get(SIGNATURE_HEADER)):
            abort(403)


class StreamSession:
    """The app's side of one stream: reads messages until a condition holds."""

    def __init__(self, ws, seen: Seen) -> None:
        self.ws = ws
        self.seen = seen
        self.start: mp.Start | None = None

    def read_until(self, condition: Callable[[mp.InboundEvent], bool], timeout: float = 10.0) -> mp.InboundEvent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = self.ws.receive(timeout=0.5)
            if raw is None:
                continue
            if "sequenceNumber" in json.loads(raw):  # every message but "connected" carries one
                self.seen.sequence_numbers.append(int(json.loads(raw)["sequenceNumber"]))
            message = mp.parse_inbound(raw)
            self.seen.messages.append((time.monotonic(), message))
            if isinstance(message, mp.Start):
                self.start = message
            if condition(message):
                return message
        raise AssertionError("the simulator did not send what the app waited for")

    def wait_for_start(self) -> mp.Start:
        self.read_until(lambda message: isinstance(message, mp.Start))
        assert self.start is not None
        return self.start


def is_speech(message: mp.InboundEvent) -> bool:
    return isinstance(message, mp.Media) and message.payload != MULAW_SILENCE_FRAME


def is_silence(message: mp.InboundEvent) -> bool:
    return isinstance(message, mp.Media) and message.payload == MULAW_SILENCE_FRAME


def is_mark(name: str) -> Callable[[mp.InboundEvent], bool]:
    return lambda message: isinstance(message, mp.Mark) and message.name == name


@pytest.fixture
def hotline() -> Iterator[ThrowawayHotline]:
    app = ThrowawayHotline()
    thread = threading.Thread(target=app.server.serve_forever, daemon=True)
    thread.start()
    yield app
    app.server.shutdown()
    thread.join(5)


def simulator(hotline: ThrowawayHotline, **overrides) -> TwilioSimulator:
    auth_token = overrides.pop("auth_token", AUTH_TOKEN)
    options = {"from_number": CALLER, "to_number": LINE, "answer_delay": 0.3, "max_call_seconds": 20} | overrides
    return TwilioSimulator(hotline.base, auth_token, **options)


def test_full_call_prompt_speech_keypad_and_transfer(hotline, spoken_one):
    greeting, reply, goodbye = spoken_one[:5600], spoken_one[:3200], spoken_one[:1600]  # 0.7 s, 0.4 s, 0.2 s

    def bot(ws, session: StreamSession) -> None:
        start = session.wait_for_start()
        player = OutboundPlayer(ws.send, start.stream_sid)

        def say(name: str, audio: bytes) -> None:
            session.seen.prompt_started_at[name] = time.monotonic()
            player.play(audio, name)
            session.read_until(is_mark(name))

        say("greeting", greeting)
        session.read_until(is_speech)
        session.read_until(is_silence)
        say("reply", reply)
        session.read_until(lambda message: isinstance(message, mp.Dtmf))
        say("goodbye", goodbye)
        player.close()

    hotline.stream_behaviour = bot
    events = []
    result = simulator(hotline, on_event=events.append).place_call([Speak(spoken_one, "one"), Press("1")])
    seen = hotline.seen

    assert result.outcome == "transferred", result.events
    assert result.dial_target == AGENT
    # Twilio's webhook, signed over the public URL (the app refused unsigned requests with 403).
    assert seen.webhook["CallSid"] == result.call_sid
    assert result.call_sid.startswith("CA") and len(result.call_sid) == 34
    assert (seen.webhook["From"], seen.webhook["To"], seen.webhook["CallStatus"]) == (CALLER, LINE, "ringing")
    assert seen.webhook["Direction"] == "inbound" and seen.webhook["AccountSid"].startswith("AC")
    assert seen.handshake_signature_valid is True
    # The stream: connected, start with the TwiML's parameters, then real-time media.
    assert isinstance(seen.messages[0][1], mp.Connected) and isinstance(seen.messages[1][1], mp.Start)
    start = seen.messages[1][1]
    assert start.custom_parameters == {"call": result.call_sid}
    assert start.stream_sid == result.stream_sid and start.call_sid == result.call_sid
    assert seen.sequence_numbers == list(range(1, len(seen.sequence_numbers) + 1))
    media = [message for _, message in seen.of(mp.Media)]
    assert [m.chunk for m in media] == list(range(1, len(media) + 1))
    assert all(later.timestamp_ms >= earlier.timestamp_ms for earlier, later in itertools.pairwise(media))
    media_span = seen.of(mp.Media)[-1][0] - seen.of(mp.Media)[0][0]
    assert len(media) == pytest.approx(media_span / 0.02, rel=0.1), "one 20 ms frame per 20 ms"
    # The caller's words arrive byte for byte, after the greeting has finished playing.
    assert [m.payload for m in media if is_speech(m)] == split_frames(spoken_one)
    # Marks come back only once their audio has played, in real time.
    echoes = {message.name: at for at, message in seen.of(mp.Mark)}
    assert echoes["greeting"] - seen.prompt_started_at["greeting"] >= 0.7 - 0.03
    assert echoes["reply"] - seen.prompt_started_at["reply"] >= 0.4 - 0.03
    assert result.marks_echoed == ["greeting", "reply", "goodbye"]
    first_speech_at = next(at for at, message in seen.messages if is_speech(message))
    assert first_speech_at - echoes["greeting"] >= 0.3 - 0.03, "the caller waits answer_delay after the bot"
    # DTMF after the reply.
    ((dtmf_at, dtmf),) = seen.of(mp.Dtmf)
    assert dtmf.digit == "1" and dtmf_at - echoes["reply"] >= 0.3 - 0.03
    assert result.bot_audio_seconds == pytest.approx(1.3, abs=0.05)
    # After the app closed the stream: the Connect action, then the status callback.
    assert seen.action["CallStatus"] == "in-progress" and seen.action["StreamSid"] == result.stream_sid
    assert seen.action["CallSid"] == result.call_sid
    assert seen.status["CallStatus"] == "completed" and int(seen.status["CallDuration"]) >= 2
    assert result.twiml[-1] == hotline.after_stream_twiml and len(result.twiml) == 2
    kinds = [event.kind for event in result.events]
    for earlier, later in [
        ("webhook", "stream_open"),
        ("stream_open", "bot_audio_start"),
        ("caller_speak", "caller_press"),
        ("caller_press", "stream_closed"),
        ("stream_closed", "action"),
        ("action", "dial"),
        ("dial", "status_callback"),
        ("status_callback", "outcome"),
    ]:
        assert kinds.index(earlier) < kinds.index(later), kinds
    assert events == result.events, "on_event saw every event live"


def test_barge_in_clear_echoes_pending_marks_at_once(hotline, spoken_one):
    long_prompt = (spoken_one * 5)[:24000]  # 3 s
    assert len(spoken_one) * 5 >= 24000

    def unpaced_bot(ws, session: StreamSession) -> None:
        start = session.wait_for_start()
        # All at once, as an unpaced app would: Twilio buffers it and plays it over 3 s.
        for frame in split_frames(long_prompt):
            ws.send(mp.media_message(start.stream_sid, frame))
        ws.send(mp.mark_message(start.stream_sid, "long"))
        session.seen.prompt_started_at["long"] = time.monotonic()
        session.read_until(is_speech)
        ws.send(mp.clear_message(start.stream_sid))
        session.read_until(is_mark("long"))
        session.read_until(is_silence)

    hotline.stream_behaviour = unpaced_bot
    hotline.after_stream_twiml = twiml.hangup()
    result = simulator(hotline).place_call([Speak(spoken_one, "one", barge_in=True)])
    seen = hotline.seen

    assert result.outcome == "hangup", result.events
    first_speech_at = next(at for at, message in seen.messages if is_speech(message))
    barge_in_after = first_speech_at - seen.prompt_started_at["long"]
    assert 0.95 <= barge_in_after <= 1.3, "the caller barges in after one second of bot audio"
    ((echo_at, _),) = seen.of(mp.Mark)
    assert echo_at - first_speech_at < 0.3, "the clear made the pending mark come back at once"
    assert result.marks_echoed == ["long"]
    assert result.bot_audio_seconds == pytest.approx(barge_in_after, abs=0.1), "cleared audio is not heard"
    assert "clear" in [event.kind for event in result.events]


def test_caller_gives_up_on_a_bot_that_never_speaks(hotline):
    def mute_bot(ws, session: StreamSession) -> None:
        session.wait_for_start()
        session.read_until(lambda message: isinstance(message, mp.Stop))

    hotline.stream_behaviour = mute_bot
    started = time.monotonic()
    result = simulator(hotline, bot_silence_limit=1.0).place_call([Press("5")])

    assert result.outcome == "caller_hung_up"
    assert 0.9 <= time.monotonic() - started <= 3
    assert "caller_gave_up" in [event.kind for event in result.events]
    ((_, stop),) = hotline.seen.of(mp.Stop)
    assert stop.call_sid == result.call_sid and stop.stream_sid == result.stream_sid
    assert not hotline.seen.of(mp.Dtmf), "the caller never got a turn"
    assert hotline.seen.status["CallStatus"] == "completed"


def test_after_the_script_the_caller_stays_silent_until_max_call_seconds(hotline, spoken_one):
    def greet_then_wait(ws, session: StreamSession) -> None:
        start = session.wait_for_start()
        player = OutboundPlayer(ws.send, start.stream_sid)
        player.play(spoken_one[:1600], "hello")
        session.read_until(lambda message: isinstance(message, mp.Stop))
        player.close()

    hotline.stream_behaviour = greet_then_wait
    result = simulator(hotline, max_call_seconds=2.0).place_call([Silence(0.3)])

    assert result.outcome == "caller_hung_up"
    assert result.duration_seconds == pytest.approx(2.0, abs=0.5)
    details = [(event.kind, event.detail) for event in result.events]
    assert ("caller_hangup", "max_call_seconds reached") in details
    assert [kind for kind, _ in details].count("script_end") == 1
    assert hotline.seen.of(mp.Stop)


def test_scripted_hang_up_sends_stop_after_the_bot_has_spoken(hotline, spoken_one):
    def greeter(ws, session: StreamSession) -> None:
        start = session.wait_for_start()
        player = OutboundPlayer(ws.send, start.stream_sid)
        player.play(spoken_one[:1600], "hi")
        session.read_until(lambda message: isinstance(message, mp.Stop))
        player.close()

    hotline.stream_behaviour = greeter
    result = simulator(hotline).place_call([HangUp()])

    assert result.outcome == "caller_hung_up"
    assert result.marks_echoed == ["hi"]
    assert not hotline.seen.action, "Twilio does not ask the Connect action after the caller hung up"


def test_webhook_signed_with_the_wrong_token_is_rejected(hotline):
    result = simulator(hotline, auth_token="not-the-right-token").place_call([HangUp()])

    assert (result.outcome, result.http_status) == ("rejected", 403)
    assert result.stream_sid is None and result.twiml == []


def test_refused_handshake_and_invalid_app_messages_are_stream_errors(hotline):
    hotline.refuse_handshake = True
    refused = simulator(hotline).place_call([HangUp()])
    assert refused.outcome == "stream_error" and "handshake" in refused.error
    assert hotline.seen.handshake_signature_valid is True, "refused by choice, not for a bad signature"

    def garbage_bot(ws, session: StreamSession) -> None:
        session.wait_for_start()
        ws.send("this is not json")
        session.read_until(lambda message: False, timeout=2)

    hotline.refuse_handshake = False
    hotline.stream_behaviour = garbage_bot
    garbled = simulator(hotline).place_call([HangUp()])
    assert garbled.outcome == "stream_error" and "invalid message" in garbled.error


def test_script_items_validate_their_input():
    with pytest.raises(ValueError):
        Press("12a")
    with pytest.raises(ValueError):
        Speak(b"", "nothing")
    with pytest.raises(ValueError):
        Silence(0)
    with pytest.raises(ValueError):
        TwilioSimulator("not a url", AUTH_TOKEN, from_number=CALLER, to_number=LINE)


def test_pauses_go_in_whole_frames_where_asked(spoken_one):
    parts = join_with_pauses([spoken_one[:1000], spoken_one[:320]], [0.5])
    assert len(parts) == 7 * 160 + 25 * 160 + 2 * 160, "the first part padded to whole frames, 0.5 s of silence"
    assert parts[7 * 160 : 32 * 160] == MULAW_SILENCE_FRAME * 25
    inserted = insert_pauses(spoken_one, [(0.2, 0.1), (0.1, 0.04)])
    frames = split_frames(inserted)
    assert len(frames) == len(split_frames(spoken_one)) + 7
    assert frames[5:7] == [MULAW_SILENCE_FRAME] * 2 and frames[12:17] == [MULAW_SILENCE_FRAME] * 5
    for bad in (lambda: join_with_pauses([spoken_one], [0.5]), lambda: join_with_pauses([spoken_one, b""], [0.5])):
        with pytest.raises(ValueError):
            bad()
    for pauses in ([(0.1, -1.0)], [(30.0, 0.5)], [(0.1, float("nan"))]):
        with pytest.raises(ValueError):
            insert_pauses(spoken_one, pauses)


# -- voice-to-voice: the caller's last sound to the first frame of the reply ------------------------------------


def wait_for_quiet(session: StreamSession, seconds: float) -> float:
    """Reads until the caller has spoken and then been quiet for `seconds`; when the last sound arrived."""
    session.read_until(is_speech)
    last_sound_at, quiet_frames = time.monotonic(), 0
    while quiet_frames * 0.02 < seconds - 1e-9:
        message = session.read_until(lambda message: isinstance(message, mp.Media))
        if is_speech(message):
            last_sound_at, quiet_frames = time.monotonic(), 0
        else:
            quiet_frames += 1
    return last_sound_at


def greet_then(answer: Callable[[StreamSession, OutboundPlayer], None]) -> Callable[[object, StreamSession], None]:
    def bot(ws, session: StreamSession) -> None:
        start = session.wait_for_start()
        player = OutboundPlayer(ws.send, start.stream_sid)
        player.play(MULAW_SILENCE_FRAME * 10, "greeting")
        session.read_until(is_mark("greeting"))
        answer(session, player)
        player.close()

    return bot


@pytest.fixture(scope="module")
def word() -> bytes:
    """Sound in every frame (a tone), so that the app here and the simulator agree where it ends."""
    return tone_mulaw(440, 0.4)


def test_voice_to_voice_runs_from_the_last_sound_not_the_trailing_quiet(hotline, spoken_one, word):
    timed = {}

    def reply_while_the_caller_is_still_quiet_on_the_line(session: StreamSession, player: OutboundPlayer) -> None:
        timed["last_sound"] = wait_for_quiet(session, 0.1)
        time.sleep(0.15)
        timed["reply"] = time.monotonic()
        player.play(spoken_one[:1600], "reply")
        session.read_until(is_mark("reply"))

    hotline.stream_behaviour = greet_then(reply_while_the_caller_is_still_quiet_on_the_line)
    hotline.after_stream_twiml = twiml.hangup()
    # Half a second of quiet after the word: the reply comes while it is still being sent.
    result = simulator(hotline).place_call([Speak(word + MULAW_SILENCE_FRAME * 25, "one")])

    assert result.outcome == "hangup", result.events
    ((turn,),) = [result.turn_latencies]
    assert turn.label == "one" and not turn.cut_off
    assert turn.seconds == pytest.approx(timed["reply"] - timed["last_sound"], abs=0.08)
    assert ("voice_to_voice", f"one: {turn.seconds:.3f} s") in [(event.kind, event.detail) for event in result.events]


@pytest.mark.parametrize("bot_waits_for, takes_turn", [(0.2, "reply"), (0.2, "clear"), (0.9, "reply")])
def test_an_app_that_takes_the_turn_in_a_pause_cuts_the_caller_off(
    hotline, spoken_one, word, bot_waits_for, takes_turn
):
    def answer_after_quiet(session: StreamSession, player: OutboundPlayer) -> None:
        wait_for_quiet(session, bot_waits_for)
        if takes_turn == "clear":
            player.clear()
            wait_for_quiet(session, 0.9)
        player.play(spoken_one[:1600], "reply")
        session.read_until(is_mark("reply"))
        if takes_turn == "reply" and bot_waits_for < 0.6:
            wait_for_quiet(session, 0.2)  # let the caller finish the turn it was cut off in

    hotline.stream_behaviour = greet_then(answer_after_quiet)
    hotline.after_stream_twiml = twiml.hangup()
    result = simulator(hotline).place_call([Speak.in_parts([word, word], [0.6], "one ... o")])

    ((turn,),) = [result.turn_latencies]
    if bot_waits_for < 0.6:
        assert turn.cut_off, result.events
        assert "cut_off" in [event.kind for event in result.events]
    else:
        assert not turn.cut_off and turn.seconds is not None and turn.seconds >= 0.9 - 0.05, result.events


# -- what follows a transfer -----------------------------------------------------------------------------------


def follow_ups(hotline: ThrowawayHotline, step: str) -> list[dict[str, str]]:
    return [form for name, form, _ in hotline.seen.follow_ups if name == step]


def transfer_to(hotline: ThrowawayHotline, target: str = AGENT, timeout: int = 5) -> None:
    hotline.after_stream_twiml = twiml.dial(
        twiml.parse_dial_target(target),
        timeout_seconds=timeout,
        action_url=hotline.base + "/twilio/dial-status",
        whisper_url=hotline.base + "/twilio/whisper",
    )


def test_an_unanswered_dial_posts_its_action_after_the_ring_time_and_follows_the_answer(hotline):
    transfer_to(hotline, timeout=5)
    hotline.follow_up_twiml["dial-status"] = twiml.play_then_hangup(hotline.base + "/audio/0.4.wav")
    result = simulator(hotline, dial_outcome="no-answer").place_call([])

    assert result.outcome == "hangup", result.events
    ((status,),) = [follow_ups(hotline, "dial-status")]
    assert status["DialCallStatus"] == "no-answer" and status["DialBridged"] == "false"
    assert status["DialCallDuration"] == "0" and status["DialCallSid"].startswith("CA")
    assert status["CallSid"] == result.call_sid and status["DialCallSid"] != result.call_sid
    assert status["CallStatus"] == "in-progress" and status["From"] == CALLER
    assert not follow_ups(hotline, "whisper"), "nobody answered, so nobody heard a whisper"
    dialled_at = next(event.at for event in result.events if event.kind == "dial")
    ended_at = next(event.at for event in result.events if event.kind == "dial_ended")
    assert 5.0 <= ended_at - dialled_at < 5.5, "no-answer comes after the Dial's own timeout, as at Twilio"
    assert result.bot_audio_seconds == pytest.approx(0.4, abs=0.05), "the Play is fetched and heard in real time"
    assert (result.dial_target, result.dial_kind, result.dial_status) == (AGENT, "number", "no-answer")


@pytest.mark.parametrize("target", ["sip:agent@pbx.example.com", "client:agents"])
def test_an_answering_agent_hears_the_whisper_first_and_the_action_reports_the_talk(hotline, target):
    transfer_to(hotline, target)
    hotline.follow_up_twiml["whisper"] = twiml.play(hotline.base + "/audio/0.3.wav")
    result = simulator(hotline, dial_outcome="completed", agent_talk_seconds=1.2).place_call([])

    assert result.outcome == "hangup", result.events
    ((whisper,),) = [follow_ups(hotline, "whisper")]
    ((status,),) = [follow_ups(hotline, "dial-status")]
    assert whisper["ParentCallSid"] == result.call_sid and whisper["CallSid"] == status["DialCallSid"]
    assert whisper["To"] == twiml.parse_dial_target(target).address
    assert (status["DialCallStatus"], status["DialCallDuration"], status["DialBridged"]) == ("completed", "2", "true")
    assert result.whisper_twiml == hotline.follow_up_twiml["whisper"]
    assert "whisper_play" in [event.kind for event in result.events]
    assert result.dial_kind == twiml.parse_dial_target(target).kind


@pytest.mark.parametrize("outcome", ["busy", "failed"])
def test_busy_and_failed_dials_end_quickly(hotline, outcome):
    transfer_to(hotline)
    started = time.monotonic()
    result = simulator(hotline, dial_outcome=outcome).place_call([])
    assert follow_ups(hotline, "dial-status")[0]["DialCallStatus"] == outcome
    assert result.dial_status == outcome and time.monotonic() - started < 3


def choice_after_no_answer(hotline: ThrowawayHotline, prompt_seconds: float = 1.5, timeout: int = 2) -> None:
    transfer_to(hotline)
    hotline.follow_up_twiml["dial-status"] = twiml.gather_digits(
        [f"{hotline.base}/audio/{prompt_seconds}.wav"],
        action_url=hotline.base + "/twilio/choice",
        timeout_seconds=timeout,
        then_play=[hotline.base + "/audio/0.2.wav"],
    )


def test_a_gather_takes_the_callers_key_after_the_prompt_and_posts_it(hotline):
    choice_after_no_answer(hotline)
    result = simulator(hotline, dial_outcome="no-answer", ring_seconds=0.2).place_call([Press("2")])

    ((choice,),) = [follow_ups(hotline, "choice")]
    assert choice["Digits"] == "2" and choice["CallSid"] == result.call_sid
    assert result.gathered == ["2"] and result.outcome == "hangup"
    heard = [event for event in result.events if event.kind == "bot_audio_end"]
    assert "stops after 1.5" in heard[0].detail, "the caller waited for the prompt to end"


def test_a_key_during_the_prompt_cuts_it_short(hotline):
    choice_after_no_answer(hotline, prompt_seconds=3.0)
    result = simulator(hotline, dial_outcome="no-answer", ring_seconds=0.2).place_call([Press("1", barge_in=True)])

    assert follow_ups(hotline, "choice")[0]["Digits"] == "1"
    cut = [event.detail for event in result.events if event.kind == "bot_audio_end"]
    assert cut and cut[0].startswith("cut off after 1.0"), cut


def test_no_key_means_no_request_and_twilio_goes_on_with_the_next_verb(hotline):
    choice_after_no_answer(hotline, prompt_seconds=1.0, timeout=2)
    result = simulator(hotline, dial_outcome="no-answer", ring_seconds=0.2).place_call([])

    assert not follow_ups(hotline, "choice"), "actionOnEmptyResult is false: nothing is posted"
    assert result.gathered == [None] and result.outcome == "hangup"
    gather_started = next(event.at for event in result.events if event.kind == "play")
    gathered_at = next(event.at for event in result.events if event.kind == "gathered")
    assert 3.0 <= gathered_at - gather_started < 3.4, "the timeout runs from the end of the prompt"
    plays = [event.detail for event in result.events if event.kind == "play"]
    assert len(plays) == 2 and "/audio/0.2.wav" in plays[1], "the verb after the Gather played"


def test_an_enqueued_caller_leaves_the_queue_as_scripted(hotline):
    hotline.after_stream_twiml = twiml.enqueue("hotline", action_url=hotline.base + "/twilio/queue-status")
    hotline.follow_up_twiml["queue-status"] = twiml.play_then_hangup(hotline.base + "/audio/0.2.wav")
    full = simulator(hotline, queue_result="queue-full", ring_seconds=0.3).place_call([])
    ((left,),) = [follow_ups(hotline, "queue-status")]
    assert (left["QueueResult"], left["QueueTime"]) == ("queue-full", "0") and left["QueueSid"].startswith("QU")
    assert (full.outcome, full.dial_kind, full.dial_target, full.dial_status) == (
        "hangup",
        "enqueue",
        "hotline",
        "queue-full",
    )
    gone = simulator(hotline, queue_result="hangup", ring_seconds=0.3).place_call([])
    assert gone.outcome == "caller_hung_up" and follow_ups(hotline, "queue-status")[1]["CallStatus"] == "completed"
    stopped = simulator(hotline).place_call([])
    assert stopped.outcome == "transferred" and stopped.dial_kind == "enqueue"


def test_audio_twilio_could_not_play_fails_the_call_loudly(hotline):
    hotline.after_stream_twiml = twiml.play_then_hangup(hotline.base + "/missing.wav")
    result = simulator(hotline).place_call([])
    assert result.outcome == "rejected" and "HTTP 404" in result.error


def test_immediate_items_do_not_wait_for_the_bot(hotline, spoken_one):
    def listener(ws, session: StreamSession) -> None:
        start = session.wait_for_start()
        player = OutboundPlayer(ws.send, start.stream_sid)
        player.play(spoken_one[:1600], "beep")
        session.read_until(lambda message: isinstance(message, mp.Dtmf))
        player.close()

    hotline.stream_behaviour = listener
    hotline.after_stream_twiml = twiml.hangup()
    result = simulator(hotline).place_call([Speak(spoken_one, "one"), Press("#", immediately=True)])

    assert result.outcome == "hangup", result.events
    speech_frames = [at for at, message in hotline.seen.messages if is_speech(message)]
    ((dtmf_at, dtmf),) = hotline.seen.of(mp.Dtmf)
    assert dtmf.digit == "#" and dtmf_at - speech_frames[-1] < 0.15, "pressed right after speaking"
    assert result.stream_sids == [result.stream_sid]


def test_far_side_options_are_checked():
    for options in ({"dial_outcome": "answered-by-robot"}, {"queue_result": "teleported"}, {"ring_seconds": -1}):
        with pytest.raises(ValueError):
            TwilioSimulator("http://127.0.0.1:1", AUTH_TOKEN, from_number=CALLER, to_number=LINE, **options)


# -- routing requests to several instances ---------------------------------------------------------------------


def test_route_by_path_sends_each_path_to_its_instance_and_keeps_path_and_query():
    route = route_by_path(
        "https://hotline.example.com/voice", {"/": "http://127.0.0.1:8081", "/twilio/media": "http://127.0.0.1:8082/"}
    )
    assert route("https://hotline.example.com/voice/twilio/voice?a=1") == "http://127.0.0.1:8081/twilio/voice?a=1"
    assert route("wss://hotline.example.com/voice/twilio/media") == "ws://127.0.0.1:8082/twilio/media"
    assert route("https://hotline.example.com/voice/twilio/media-x") == "http://127.0.0.1:8082/twilio/media-x"
    elsewhere = "https://elsewhere.example.com/voice/twilio/voice"
    assert route(elsewhere) == elsewhere
    assert route("https://hotline.example.com/other") == "https://hotline.example.com/other", "outside the base path"


def test_route_by_path_without_a_catch_all_leaves_other_paths_alone():
    route = route_by_path("http://hotline.test", {"/twilio/media": "https://10.0.0.2"})
    assert route("ws://hotline.test/twilio/media") == "wss://10.0.0.2/twilio/media"
    assert route("http://hotline.test/twilio/voice") == "http://hotline.test/twilio/voice"


@pytest.mark.parametrize("targets", [{"twilio": "http://127.0.0.1:1"}, {"/": "ftp://127.0.0.1"}])
def test_route_by_path_refuses_bad_prefixes_and_targets(targets):
    with pytest.raises(ValueError):
        route_by_path("http://hotline.test", targets)


def test_the_simulator_refuses_a_missing_ca_file_and_a_route_that_is_no_callable(tmp_path):
    with pytest.raises(ValueError, match="ca_file"):
        TwilioSimulator("http://127.0.0.1:1", "token", from_number="+1", to_number="+2", ca_file=tmp_path / "none.pem")
    with pytest.raises(ValueError, match="route"):
        TwilioSimulator("http://127.0.0.1:1", "token", from_number="+1", to_number="+2", route="http://x")


def test_a_real_call_times_the_turn_from_outside_around_the_apps_own_latency(base_settings, speech, tmp_path):
    """The whole app: its stored answer latency starts when it has closed the caller's turn, after the last sound,
    so the voice-to-voice time seen from outside holds it. Short notices keep the call short."""
    from tests.support import settings_with_database
    from voice_app import calls
    from voice_app.accounts.demo_data import WELL_KNOWN_ENGLISH, demo_customer, seed_demo
    from voice_app.local_server import LocalServer

    notices = tmp_path / "notices"
    notices.mkdir()
    for language in ("en", "de"):
        (notices / f"disclosure.{language}.txt").write_text("This is an automated assistant.")
        (notices / f"consent.{language}.txt").write_text("Press one to agree.")
    settings = dataclasses.replace(settings_with_database(base_settings, tmp_path / "calls.db"), notice_dir=notices)
    customer = demo_customer(WELL_KNOWN_ENGLISH, date.today())
    question = caller_says("Where is my refund?", "en")
    with LocalServer(settings, auth_token=AUTH_TOKEN, secret_key="s" * 40, speech=speech) as server:
        seed_demo(server.services.engine, "s" * 40, today=date.today())
        result = TwilioSimulator(
            server.url, AUTH_TOKEN, from_number=customer.phones[0], to_number=LINE, max_call_seconds=90
        ).place_call([Press("1"), Speak(question, "refund"), HangUp()])
        call = calls.find_call(server.services.engine, result.call_sid)
        assert call is not None
        (inside,) = calls.answer_latencies_of(server.services.engine, call.id)

    assert result.outcome == "caller_hung_up", result.events
    ((turn,),) = [result.turn_latencies]
    assert turn.label == "refund" and not turn.cut_off and turn.seconds is not None, result.events
    assert inside.latency_ms / 1000 <= turn.seconds + 0.02
