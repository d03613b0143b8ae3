"""TwiML documents: built with Twilio's library, read back by the simulator's parser."""

import pytest

from telephony import twiml
from telephony.twiml import ConnectStream, Dial, Hangup, Other, Play, Say, TwimlError, parse_twiml


def test_connect_stream_round_trip_keeps_urls_and_parameters():
    xml = twiml.connect_stream(
        "https://hotline.example.com/twilio/after-stream?call=CA1&lang=de",
        "wss://hotline.example.com/twilio/media",
        {"stream_token": "abc", "odd": 'a&b<c>"d"'},
    )

    assert "<Connect" in xml and "<Stream" in xml and "<Parameter" in xml
    assert parse_twiml(xml) == [
        ConnectStream(
            action_url="https://hotline.example.com/twilio/after-stream?call=CA1&lang=de",
            stream_url="wss://hotline.example.com/twilio/media",
            parameters={"stream_token": "abc", "odd": 'a&b<c>"d"'},
        )
    ]


def test_dial_round_trip():
    xml = twiml.dial("+4930123456789", timeout_seconds=25, caller_id="+4930555010", action_url="https://h.example/d")

    assert parse_twiml(xml) == [
        Dial(
            target="+4930123456789",
            kind="number",
            action_url="https://h.example/d",
            timeout=25,
            caller_id="+4930555010",
        )
    ]
    assert parse_twiml(twiml.dial("+4930123456789")) == [
        Dial(target="+4930123456789", kind="number", action_url=None, timeout=20, caller_id=None)
    ]


def test_hangup_and_say_then_hangup_round_trip():
    assert parse_twiml(twiml.hangup()) == [Hangup()]
    assert parse_twiml(twiml.say_then_hangup("Einen Moment & danke.", "de")) == [
        Say(text="Einen Moment & danke.", language="de-DE"),
        Hangup(),
    ]
    assert parse_twiml(twiml.say_then_hangup("One moment.", "en"))[0] == Say("One moment.", "en-US")


def test_parser_reads_twilio_forms_it_did_not_build():
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        "<Play>https://x.example/a.mp3</Play>"
        "<Dial>+15550001111</Dial>"
        '<Dial timeout="9"><Sip>sip:agent@pbx.example.com</Sip></Dial>'
        "<Dial><Client>agent-7</Client></Dial>"
        "<Dial><Queue>support</Queue></Dial>"
        "<Dial><Conference>room</Conference></Dial>"
        "<Connect><Room>r</Room></Connect>"
        "</Response>"
    )

    assert parse_twiml(xml) == [
        Play("https://x.example/a.mp3"),
        Dial("+15550001111", "number", None, 30),
        Dial("sip:agent@pbx.example.com", "sip", None, 9),
        Dial("agent-7", "client", None, 30),
        Dial("support", "queue", None, 30),
        Other("Dial"),
        Other("Connect"),
    ]


@pytest.mark.parametrize(
    "xml, message",
    [
        ("<Response><Hangup></Response>", "malformed"),
        ("", "malformed"),
        ("<Reply><Hangup/></Reply>", "<Response>"),
        ('<!DOCTYPE r [<!ENTITY a "aaaa">]><Response><Say>&a;</Say></Response>', "DOCTYPE"),
        ("<Response><Connect><Stream/></Connect></Response>", "url"),
        ('<Response><Connect><Stream url="wss://x/m"><Parameter value="1"/></Stream></Connect></Response>', "name"),
        ("<Response><Dial></Dial></Response>", "nothing to dial"),
        ('<Response><Dial timeout="soon">+1555</Dial></Response>', "timeout"),
    ],
)
def test_malformed_or_unsafe_twiml_raises(xml, message):
    with pytest.raises(TwimlError, match=message):
        parse_twiml(xml)


@pytest.mark.parametrize(
    "call",
    [
        lambda: twiml.connect_stream("ftp://x/a", "wss://x/m", {}),
        lambda: twiml.connect_stream("https://x/a", "https://x/m", {}),
        lambda: twiml.connect_stream("https://x/a", "wss://x/m", {"": "v"}),
        lambda: twiml.dial("030 1234"),
        lambda: twiml.dial("+4930123", timeout_seconds=0),
        lambda: twiml.dial("+4930123", caller_id="anonymous"),
        lambda: twiml.say_then_hangup("Bonjour", "fr"),
        lambda: twiml.say_then_hangup("  ", "en"),
    ],
)
def test_builders_refuse_bad_input(call):
    with pytest.raises(ValueError):
        call()
