"""TwiML: the XML documents that tell Twilio what to do with a call.

Builders for the few documents the hotline answers with, and a small parser for the verbs the
simulator follows (it plays Twilio's part, so it has to read what the app answered).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from twilio.twiml.voice_response import VoiceResponse

TWILIO_LANGUAGES = {"en": "en-US", "de": "de-DE"}

# Twilio's own default when <Dial> has no timeout attribute.
TWILIO_DEFAULT_DIAL_TIMEOUT_SECONDS = 30

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
# Entity declarations can only appear in a DOCTYPE; refusing both keeps entity expansion attacks
# ("billion laughs") away from the stdlib parser without needing defusedxml.
_FORBIDDEN_MARKUP = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

DialKind = Literal["number", "sip", "client", "queue"]
_DIAL_NOUN_KINDS: dict[str, DialKind] = {"Number": "number", "Sip": "sip", "Client": "client", "Queue": "queue"}


class TwimlError(ValueError):
    """A TwiML document that cannot be read."""


@dataclass(frozen=True)
class ConnectStream:
    action_url: str | None
    stream_url: str
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dial:
    target: str
    kind: DialKind
    action_url: str | None
    timeout: int
    caller_id: str | None = None
    whisper_url: str | None = None


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Say:
    text: str
    language: str | None


@dataclass(frozen=True)
class Play:
    url: str


@dataclass(frozen=True)
class Other:
    """A verb the simulator does not follow (Gather, Redirect, <Connect><Room>, ...)."""

    tag: str


TwimlVerb = ConnectStream | Dial | Hangup | Say | Play | Other


def connect_stream(action_url: str, stream_url: str, parameters: Mapping[str, str]) -> str:
    """A bidirectional media stream; Twilio requests `action_url` once the app closes the stream."""
    _require_url(action_url, {"http", "https"}, "action_url")
    _require_url(stream_url, {"ws", "wss"}, "stream_url")
    response = VoiceResponse()
    stream = response.connect(action=action_url).stream(url=stream_url)
    for name, value in parameters.items():
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise ValueError(f"stream parameters must be non-empty names with string values, got {name!r}={value!r}")
        stream.parameter(name=name, value=value)
    return str(response)


def dial(
    number: str,
    *,
    timeout_seconds: int = 20,
    caller_id: str | None = None,
    action_url: str | None = None,
    whisper_url: str | None = None,
) -> str:
    """Hands the call to a phone number (E.164, e.g. "+4930123456"). `whisper_url` is fetched when the number
    answers, and what it returns is played to the one who answered before the caller is connected."""
    _require_e164(number, "number")
    if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, int) or not 5 <= timeout_seconds <= 600:
        raise ValueError(f"timeout_seconds must be an integer from 5 to 600 (Twilio's range), got {timeout_seconds!r}")
    if caller_id is not None:
        _require_e164(caller_id, "caller_id")
    if action_url is not None:
        _require_url(action_url, {"http", "https"}, "action_url")
    if whisper_url is not None:
        _require_url(whisper_url, {"http", "https"}, "whisper_url")
    response = VoiceResponse()
    response.dial(timeout=timeout_seconds, caller_id=caller_id, action=action_url).number(number, url=whisper_url)
    return str(response)


def play(audio_url: str) -> str:
    """Plays an audio file (WAV or MP3) from `audio_url`."""
    _require_url(audio_url, {"http", "https"}, "audio_url")
    response = VoiceResponse()
    response.play(audio_url)
    return str(response)


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def say_then_hangup(text: str, language: str) -> str:
    """Last resort when the call cannot go on: Twilio's own voice reads `text`, then the call ends."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text to say must be a non-empty string")
    if language not in TWILIO_LANGUAGES:
        raise ValueError(f"language must be one of {sorted(TWILIO_LANGUAGES)}, got {language!r}")
    response = VoiceResponse()
    response.say(text, language=TWILIO_LANGUAGES[language])
    response.hangup()
    return str(response)


def parse_twiml(xml: str) -> list[TwimlVerb]:
    """The verbs of a <Response> document, in order."""
    if not isinstance(xml, str):
        raise TwimlError(f"TwiML must be text, got {type(xml).__name__}")
    if _FORBIDDEN_MARKUP.search(xml):
        raise TwimlError("TwiML with a DOCTYPE or entity declarations is refused")
    try:
        root = ElementTree.fromstring(xml.encode("utf-8"))
    except ElementTree.ParseError as error:
        raise TwimlError(f"malformed TwiML: {error}") from None
    if root.tag != "Response":
        raise TwimlError(f"TwiML root element must be <Response>, got <{root.tag}>")
    return [_parse_verb(element) for element in root]


def _parse_verb(element: ElementTree.Element) -> TwimlVerb:
    if element.tag == "Connect":
        return _parse_connect(element)
    if element.tag == "Dial":
        return _parse_dial(element)
    if element.tag == "Hangup":
        return Hangup()
    if element.tag == "Say":
        return Say(text=(element.text or "").strip(), language=element.get("language"))
    if element.tag == "Play":
        return Play(url=(element.text or "").strip())
    return Other(tag=element.tag)


def _parse_connect(element: ElementTree.Element) -> TwimlVerb:
    nouns = list(element)
    if len(nouns) != 1 or nouns[0].tag != "Stream":
        return Other(tag="Connect")
    stream = nouns[0]
    stream_url = stream.get("url")
    if not stream_url:
        raise TwimlError("<Stream> needs a url attribute")
    parameters: dict[str, str] = {}
    for parameter in stream.iter("Parameter"):
        name = parameter.get("name")
        if not name:
            raise TwimlError("<Parameter> needs a name attribute")
        parameters[name] = parameter.get("value", "")
    return ConnectStream(action_url=element.get("action"), stream_url=stream_url, parameters=parameters)


def _parse_dial(element: ElementTree.Element) -> TwimlVerb:
    timeout_text = element.get("timeout", str(TWILIO_DEFAULT_DIAL_TIMEOUT_SECONDS))
    if not timeout_text.isdigit():
        raise TwimlError(f"<Dial timeout> must be a whole number of seconds, got {timeout_text!r}")
    nouns = list(element)
    if nouns:
        kind = _DIAL_NOUN_KINDS.get(nouns[0].tag)
        if kind is None:  # <Conference>, <Sim>, ...: not a transfer the simulator models
            return Other(tag="Dial")
        target = (nouns[0].text or "").strip()
        whisper_url = nouns[0].get("url")
    else:
        kind, target, whisper_url = "number", (element.text or "").strip(), None
    if not target:
        raise TwimlError("<Dial> has nothing to dial")
    return Dial(
        target=target,
        kind=kind,
        action_url=element.get("action"),
        timeout=int(timeout_text),
        caller_id=element.get("callerId"),
        whisper_url=whisper_url,
    )


def _require_url(url: str, schemes: set[str], what: str) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"{what} must be an absolute {'/'.join(sorted(schemes))} URL, got {url!r}")


def _require_e164(number: str, what: str) -> None:
    if not isinstance(number, str) or not _E164.match(number):
        raise ValueError(f"{what} must be an E.164 phone number like +4930123456, got {number!r}")
