"""TwiML documents: built with Twilio's library, read back by the simulator's parser."""

import pytest

from telephony import twiml
from telephony.twiml import ConnectStream, Dial, Enqueue, Gather, Hangup, Other, Play, Say, TwimlError, parse_twiml


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


# -- transfer targets ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, kind, address, label",
    [
        ("number:+4930123456789", "number", "+4930123456789", "+4930123456789"),
        ("+4930123456789", "number", "+4930123456789", "+4930123456789"),
        ("sip:agent@pbx.example.com", "sip", "sip:agent@pbx.example.com", "sip:agent@pbx.example.com"),
        (
            "sips:agent@pbx.example.com:5061;transport=tls",
            "sip",
            "sips:agent@pbx.example.com:5061;transport=tls",
            "sips:agent@pbx.example.com:5061;transport=tls",
        ),
        ("client:agents", "client", "agents", "client:agents"),
        ("queue:hotline", "queue", "hotline", "queue:hotline"),
    ],
)
def test_dial_targets_are_read_from_their_written_form(text, kind, address, label):
    target = twiml.parse_dial_target(text)
    assert (target.kind, target.address, target.label) == (kind, address, label)
    assert twiml.parse_dial_target(target.label) == target


@pytest.mark.parametrize(
    "text",
    [
        "",
        "agents",
        "number:030 1234",
        "sip:pbx.example.com",
        "sip:agent@",
        "sip:a b@pbx.example.com",
        "client:agent-7",
        "client:",
        "queue:",
        "queue:" + "q" * 65,
        "queue:my queue",
        "pstn:+4930123456",
        'sip:agent@pbx.example.com"><Hangup/>',
    ],
)
def test_malformed_dial_targets_are_refused(text):
    with pytest.raises(ValueError):
        twiml.parse_dial_target(text)


@pytest.mark.parametrize("target", ["+4930123456789", "sip:agent@pbx.example.com", "client:agents"])
def test_each_dialled_target_carries_the_whisper_for_whoever_answers(target):
    parsed = twiml.parse_dial_target(target)
    xml = twiml.dial(
        parsed,
        timeout_seconds=25,
        action_url="https://h.example/dial-status",
        whisper_url="https://h.example/whisper/t",
    )
    noun = {"number": "<Number", "sip": "<Sip", "client": "<Client"}[parsed.kind]
    assert noun + ' url="https://h.example/whisper/t">' in xml
    assert parse_twiml(xml) == [
        Dial(
            target=parsed.address,
            kind=parsed.kind,
            action_url="https://h.example/dial-status",
            timeout=25,
            whisper_url="https://h.example/whisper/t",
        )
    ]


def test_a_queue_is_entered_not_dialled():
    queue = twiml.parse_dial_target("queue:hotline")
    assert not queue.whisper_possible
    with pytest.raises(ValueError, match="enqueue"):
        twiml.dial(queue)
    xml = twiml.enqueue("hotline", action_url="https://h.example/queue-status")
    assert "waitUrl" not in xml, "Twilio's own hold music unless a wait URL is given"
    assert parse_twiml(xml) == [Enqueue(queue="hotline", action_url="https://h.example/queue-status")]
    with pytest.raises(ValueError):
        twiml.enqueue("my queue")


def test_gather_digits_round_trip_falls_through_to_what_follows():
    xml = twiml.gather_digits(
        ["https://h.example/prompt.wav"],
        action_url="https://h.example/choice",
        timeout_seconds=6,
        then_play=["https://h.example/callback.wav"],
    )
    assert parse_twiml(xml) == [
        Gather(
            action_url="https://h.example/choice",
            nested=(Play("https://h.example/prompt.wav"),),
            num_digits=1,
            timeout=6,
            finish_on_key="",
            input="dtmf",
            action_on_empty_result=False,
        ),
        Play("https://h.example/callback.wav"),
        Hangup(),
    ]
    assert parse_twiml(twiml.play_then_hangup("https://h.example/bye.wav")) == [
        Play("https://h.example/bye.wav"),
        Hangup(),
    ]


def test_parser_reads_gathers_twilio_defaults_and_refuses_what_it_cannot_follow():
    (gather,) = parse_twiml('<Response><Gather action="/c"><Say>Press 1</Say></Gather></Response>')
    assert gather == Gather(
        action_url="/c",
        nested=(Say("Press 1", None),),
        num_digits=None,
        timeout=5,
        finish_on_key="#",
        input="dtmf",
        action_on_empty_result=False,
    )
    for bad, message in [
        ('<Gather timeout="soon"/>', "timeout"),
        ('<Gather numDigits="0"/>', "numDigits"),
        ('<Gather finishOnKey="x"/>', "finishOnKey"),
        ("<Gather><Dial>+15550001111</Dial></Gather>", "may only nest"),
        ('<Gather actionOnEmptyResult="yes"/>', "actionOnEmptyResult"),
        ("<Enqueue/>", "queue name"),
    ]:
        with pytest.raises(TwimlError, match=message):
            parse_twiml(f"<Response>{bad}</Response>")


@pytest.mark.parametrize(
    "call",
    [
        lambda: twiml.gather_digits([], action_url="https://h/c"),
        lambda: twiml.gather_digits(["https://h/p.wav"], action_url="/relative"),
        lambda: twiml.gather_digits(["https://h/p.wav"], action_url="https://h/c", num_digits=0),
        lambda: twiml.gather_digits(["https://h/p.wav"], action_url="https://h/c", timeout_seconds=0),
        lambda: twiml.gather_digits(["javascript:alert(1)"], action_url="https://h/c"),
        lambda: twiml.play_then_hangup("file:///etc/passwd"),
        lambda: twiml.enqueue("hotline", action_url="ftp://h/q"),
    ],
)
def test_new_builders_refuse_bad_input(call):
    with pytest.raises(ValueError):
        call()
