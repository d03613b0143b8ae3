"""Sequences of Media Streams messages in any structure, order and size: starts with right or wrong tokens, media
with any payload (base64 or not, any length), DTMF with any digit, marks, stops, other streams' events, JSON that
is not a message at all. The reader hands out well-formed events of its one stream, or stops the call with a
ProtocolError; nothing else escapes it. The events it hands out drive the call's stream machine without error."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st
from simple_websocket import ConnectionClosed

from telephony import media_protocol
from telephony.media_protocol import Dtmf, Mark, ProtocolError, Start, Stop
from telephony.media_stream import StreamClosed, StreamReader, StreamToken
from tests.support import AT, NOTICES
from voice_app.call.stream_machine import StreamMachine
from voice_app.dialogue.machine import Dialogue
from voice_app.dialogue.messages import CallStarted, DigitPressed, PromptFinished

TOKEN = StreamToken("m" * 40, "conversation")
CALL_SID = "CA" + "3" * 32
ACCOUNT = "AC" + "0" * 32
OURS, OTHER = "MZ" + "a" * 32, "MZ" + "b" * 32


class ScriptedSocket:
    """The websocket as the reader sees it: the given frames, then Twilio closing it."""

    def __init__(self, frames: list[str | bytes]) -> None:
        self.frames = list(frames)

    def receive(self, timeout: float | None = None) -> str | bytes | None:
        if not self.frames:
            raise ConnectionClosed()
        return self.frames.pop(0)

    def send(self, data: str) -> None:
        raise AssertionError("the reader never sends")


stream_sids = st.sampled_from([OURS, OTHER, "", "MZ", "x" * 300])
payloads = st.one_of(
    st.binary(max_size=400).map(lambda audio: base64.b64encode(audio).decode()),
    st.text(max_size=40),
    st.just("=" * 8),
)
sequence_numbers = st.integers(1, 10_000)


def media(stream_sid: str, payload: str, track: str, sequence: int) -> str:
    message = {
        "event": "media",
        "sequenceNumber": str(sequence),
        "media": {"track": track, "chunk": "1", "timestamp": "20", "payload": payload},
        "streamSid": stream_sid,
    }
    return json.dumps(message)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
frames = st.one_of(
    st.just(media_protocol.connected_message()),
    st.builds(
        lambda sid, token: media_protocol.start_message(sid, CALL_SID, ACCOUNT, {"stream_token": token}, 1),
        stream_sids.filter(bool),
        st.sampled_from([TOKEN.for_call(CALL_SID), "wrong", ""]),
    ),
    st.builds(media, stream_sids, payloads, st.sampled_from(["inbound", "outbound", "both", ""]), sequence_numbers),
    st.builds(
        lambda sid, digit: json.dumps({"event": "dtmf", "streamSid": sid, "dtmf": {"digit": digit}}),
        stream_sids,
        st.one_of(st.sampled_from("0123456789*#"), st.text(max_size=3)),
    ),
    st.builds(
        lambda sid, name: json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": name}}),
        stream_sids,
        st.text(max_size=12),
    ),
    st.builds(lambda sid: media_protocol.stop_message(sid, CALL_SID, ACCOUNT, 9), stream_sids.filter(bool)),
    json_values.map(json.dumps),
    st.binary(max_size=60),
)


def read_all(frames_sent: list[str | bytes]) -> list:
    reader = StreamReader(ScriptedSocket(frames_sent), TOKEN, lambda start: None, poll_seconds=0.01)
    events = []
    try:
        for event in reader.events():
            events.append(event)
    except ProtocolError:
        pass
    return events


@given(sent=st.lists(frames, max_size=20))
def test_the_reader_hands_out_only_its_own_streams_events_or_refuses(sent):
    events = read_all(sent)
    starts = [event for event in events if isinstance(event, Start)]
    assert len(starts) <= 1
    if starts:
        assert events[0] is starts[0] and starts[0].stream_sid != ""
    for event in events[1:]:
        assert isinstance(event, StreamClosed) or event.stream_sid == starts[0].stream_sid
    assert all(not isinstance(event, (Stop, StreamClosed)) for event in events[:-1]), "nothing after the end"


@given(sent=st.lists(frames, max_size=20))
def test_what_the_reader_hands_out_drives_the_stream_machine_without_error(classifier, demo_accounts, sent):
    events = read_all([media_protocol.start_message(OURS, CALL_SID, ACCOUNT, TOKEN.parameters(CALL_SID), 1), *sent])
    dialogue = Dialogue(
        "en",
        NOTICES,
        min_transcript_confidence=0.12,
        classifier=classifier,
        accounts=demo_accounts,
        caller=None,
        today=date.today(),
    )
    machine = StreamMachine(dialogue, silence_timeout_seconds=6, max_utterance_seconds=15)
    machine.handle(CallStarted(AT), 0.0)
    for second, event in enumerate(events, start=1):
        at = AT + timedelta(seconds=second)
        match event:
            case Dtmf(digit=digit):
                machine.handle(DigitPressed(digit, at), float(second))
            case Mark(name=name):
                machine.handle(PromptFinished(name, at), float(second))
