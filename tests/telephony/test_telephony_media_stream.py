"""The stream reader, fed by a scripted websocket: the start with its token, the order of events, the end."""

from __future__ import annotations

import pytest
from simple_websocket import ConnectionClosed

from telephony import media_protocol as mp
from telephony.media_stream import StreamClosed, StreamReader, StreamToken

STREAM, CALL, ACCOUNT = "MZ" + "1" * 32, "CA" + "2" * 32, "AC" + "3" * 32
TOKEN = StreamToken("s" * 40, "stream")


class ScriptedSocket:
    """Hands out the scripted messages one per receive; None stands for a receive that timed out."""

    def __init__(self, messages, *, closes=False):
        self.messages = list(messages)
        self.closes = closes

    def receive(self, timeout=None):
        if self.messages:
            return self.messages.pop(0)
        if self.closes:
            raise ConnectionClosed()
        return None

    def send(self, data):
        pass


def start(token: str | None = None) -> str:
    return mp.start_message(STREAM, CALL, ACCOUNT, {"stream_token": token or TOKEN.for_call(CALL)}, 1)


def read(messages, admit=lambda start: None, **options):
    reader = StreamReader(
        ScriptedSocket(messages, **options), TOKEN, admit, poll_seconds=0.01, silence_limit_seconds=0.05
    )
    return list(reader.events())


def test_a_stream_reads_from_its_start_to_its_stop():
    events = read(
        [
            mp.connected_message(),
            start(),
            mp.dtmf_message(STREAM, "5", 2),
            mp.mark_message_from_twilio(STREAM, "p1", 3),
            mp.stop_message(STREAM, CALL, ACCOUNT, 4),
            mp.dtmf_message(STREAM, "6", 5),
        ]
    )
    assert [type(event) for event in events] == [mp.Start, mp.Dtmf, mp.Mark, mp.Stop]


def test_a_closed_socket_ends_the_stream_with_a_typed_event():
    assert [type(event) for event in read([start()], closes=True)] == [mp.Start, StreamClosed]


@pytest.mark.parametrize(
    "messages, error",
    [
        ([mp.dtmf_message(STREAM, "5", 1)], "event before start"),
        ([start(), start()], "second start"),
        ([start(token="0" * 64)], "wrong stream token"),
        ([start(), mp.dtmf_message("MZ" + "9" * 32, "5", 2)], "another stream"),
        ([start()], "too long"),
    ],
)
def test_streams_out_of_order_are_refused(messages, error):
    with pytest.raises(mp.ProtocolError, match=error):
        read(messages)


def test_the_owner_admits_a_start_only_once_its_token_is_right():
    admitted = []
    with pytest.raises(mp.ProtocolError):
        read([start(token="0" * 64)], admit=admitted.append)
    read([start(), mp.stop_message(STREAM, CALL, ACCOUNT, 2)], admit=admitted.append)
    assert [admitted_start.call_sid for admitted_start in admitted] == [CALL]


def test_a_start_the_owner_refuses_is_not_handed_out():
    def refuse(start):
        raise mp.ProtocolError("no such call")

    with pytest.raises(mp.ProtocolError, match="no such call"):
        read([start()], admit=refuse)


def test_one_kind_of_stream_token_does_not_open_another():
    other = StreamToken(TOKEN.secret_key, "voicemail")
    assert other.for_call(CALL) != TOKEN.for_call(CALL)
    assert TOKEN.parameters(CALL) == {"stream_token": TOKEN.for_call(CALL)}
