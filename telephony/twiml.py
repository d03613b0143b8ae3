"""TwiML: the XML documents that tell Twilio what to do with a call.

Builders for the few documents the hotline answers with, and a small parser for the verbs the
simulator follows (it plays Twilio's part, so it has to read what the app answered).

Where a transfer goes is a `DialTarget`: a phone number (`<Dial><Number>`), a SIP address
(`<Dial><Sip>`), a Twilio Client identity (`<Dial><Client>`), each of which can play a whisper to
whoever answers (the noun's `url`), or a named queue (`<Enqueue>`), where the caller waits with
Twilio's hold music until an agent takes the call with `<Dial><Queue>` on their own side.

Builders and parser stay together, a little over 400 lines, so that what the app writes and what the simulator
reads are defined by one set of verb and attribute names.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from twilio.twiml.voice_response import VoiceResponse

TWILIO_LANGUAGES = {"en": "en-US", "de": "de-DE"}

# Twilio's own default when <Dial> has no timeout attribute.
TWILIO_DEFAULT_DIAL_TIMEOUT_SECONDS = 30

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
# A SIP URI as Twilio's <Sip> takes it: sip: or sips:, a user part, a host, optional ;parameters.
_SIP_URI = re.compile(r"^sips?:[A-Za-z0-9._~!$&'()*+,;=%-]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?(;[A-Za-z0-9._=%-]+)*$")
# Client identities: Twilio's mobile SDKs only take letters, digits and underscore, so nothing else is accepted.
_CLIENT_IDENTITY = re.compile(r"^[A-Za-z0-9_]{1,256}$")
# Twilio's limit for a queue name is 64 characters; plain characters keep it readable in the console too.
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DTMF_KEYS = frozenset("0123456789*#")
# Twilio's own default for <Gather timeout>: seconds to wait for a key once the nested prompts have played.
TWILIO_DEFAULT_GATHER_TIMEOUT_SECONDS = 5
# Entity declarations can only appear in a DOCTYPE; refusing both keeps entity expansion attacks
# ("billion laughs") away from the stdlib parser without needing defusedxml.
_FORBIDDEN_MARKUP = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

DialKind = Literal["number", "sip", "client", "queue"]
_DIAL_NOUN_KINDS: dict[str, DialKind] = {"Number": "number", "Sip": "sip", "Client": "client", "Queue": "queue"}


class TwimlError(ValueError):
    """A TwiML document that cannot be read."""


@dataclass(frozen=True)
class DialTarget:
    """Where a transfer goes. Written in configuration as `number:+4930123456` (or just `+4930123456`),
    `sip:agent@pbx.example.com`, `client:agents` or `queue:hotline`; `label` gives that form back."""

    kind: DialKind
    address: str

    def __post_init__(self) -> None:
        checks = {
            "number": (_E164, "an E.164 phone number like +4930123456"),
            "sip": (_SIP_URI, "a SIP URI like sip:agent@pbx.example.com"),
            "client": (_CLIENT_IDENTITY, "a client identity of letters, digits and underscores"),
            "queue": (_QUEUE_NAME, "a queue name of at most 64 letters, digits, '.', '_' or '-'"),
        }
        if self.kind not in checks:
            raise ValueError(f"a dial target is a number, sip, client or queue, not {self.kind!r}")
        pattern, expected = checks[self.kind]
        if not isinstance(self.address, str) or not pattern.match(self.address):
            raise ValueError(f"a {self.kind} target must be {expected}, got {self.address!r}")

    @property
    def label(self) -> str:
        return self.address if self.kind in ("number", "sip") else f"{self.kind}:{self.address}"

    @property
    def whisper_possible(self) -> bool:
        """Number, Sip and Client run a `url` on the answering side; a queue's `url` plays to the caller."""
        return self.kind != "queue"


def parse_dial_target(text: str) -> DialTarget:
    """`number:+4930123456`, `+4930123456`, `sip:agent@pbx.example.com`, `client:agents` or `queue:hotline`."""
    if not isinstance(text, str):
        raise ValueError(f"a dial target must be text, got {type(text).__name__}")
    text = text.strip()
    if text.startswith("+"):
        return DialTarget("number", text)
    kind, separator, rest = text.partition(":")
    if not separator:
        raise ValueError(
            f"a dial target looks like number:+4930123456, sip:agent@pbx.example.com, client:agents "
            f"or queue:hotline, got {text!r}"
        )
    if kind in ("sip", "sips"):
        return DialTarget("sip", text)
    if kind not in ("number", "client", "queue"):
        raise ValueError(f"a dial target is number:, sip:, client: or queue:, got {kind!r}")
    return DialTarget(kind, rest)  # type: ignore[arg-type]


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
class Gather:
    """Keys (input="dtmf") collected while the nested prompts play. With no input, Twilio goes on with the verb
    after the Gather (unless actionOnEmptyResult is true); with input it requests `action_url` with `Digits`."""

    action_url: str | None
    nested: tuple[Say | Play, ...]
    num_digits: int | None = None
    timeout: int = TWILIO_DEFAULT_GATHER_TIMEOUT_SECONDS
    finish_on_key: str = "#"
    input: str = "dtmf"
    action_on_empty_result: bool = False


@dataclass(frozen=True)
class Enqueue:
    """The caller waits in a named queue until someone dequeues them; `action_url` hears how it ended
    (QueueResult)."""

    queue: str
    action_url: str | None
    wait_url: str | None = None


@dataclass(frozen=True)
class Other:
    """A verb the simulator does not follow (Redirect, Pause, Record, <Connect><Room>, ...)."""

    tag: str


TwimlVerb = ConnectStream | Dial | Enqueue | Gather | Hangup | Say | Play | Other


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
    target: str | DialTarget,
    *,
    timeout_seconds: int = 20,
    caller_id: str | None = None,
    action_url: str | None = None,
    whisper_url: str | None = None,
) -> str:
    """Hands the call to a phone number (E.164, e.g. "+4930123456"), or to a number, SIP address or client given
    as a `DialTarget`. `whisper_url` is fetched when the target answers, and what it returns is played to the one
    who answered before the caller is connected. A queue is not dialled but entered: see `enqueue`."""
    if not isinstance(target, DialTarget):
        _require_e164(target, "number")
        target = DialTarget("number", target)
    if target.kind == "queue":
        raise ValueError("a queue is entered with enqueue(), not dialled")
    if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, int) or not 5 <= timeout_seconds <= 600:
        raise ValueError(f"timeout_seconds must be an integer from 5 to 600 (Twilio's range), got {timeout_seconds!r}")
    if caller_id is not None:
        _require_e164(caller_id, "caller_id")
    if action_url is not None:
        _require_url(action_url, {"http", "https"}, "action_url")
    if whisper_url is not None:
        _require_url(whisper_url, {"http", "https"}, "whisper_url")
    response = VoiceResponse()
    verb = response.dial(timeout=timeout_seconds, caller_id=caller_id, action=action_url)
    noun = {"number": verb.number, "sip": verb.sip, "client": verb.client}[target.kind]
    noun(target.address, url=whisper_url)
    return str(response)


def enqueue(queue: str, *, action_url: str | None = None, wait_url: str | None = None) -> str:
    """Puts the caller in the named queue. Without `wait_url` Twilio plays its own hold music for as long as the
    caller waits; there is no ring timeout: the caller waits until an agent dequeues them (`<Dial><Queue>`), a
    `<Leave>` from the wait URL, or until they hang up. `action_url` is requested when the caller leaves the
    queue, with QueueResult (bridged, hangup, queue-full, error, ...)."""
    DialTarget("queue", queue)  # validates the name
    if action_url is not None:
        _require_url(action_url, {"http", "https"}, "action_url")
    if wait_url is not None:
        _require_url(wait_url, {"http", "https"}, "wait_url")
    response = VoiceResponse()
    response.enqueue(queue, action=action_url, wait_url=wait_url)
    return str(response)


def gather_digits(
    prompt_urls: Sequence[str],
    *,
    action_url: str,
    num_digits: int = 1,
    timeout_seconds: int = TWILIO_DEFAULT_GATHER_TIMEOUT_SECONDS,
    then_play: Sequence[str] = (),
) -> str:
    """Plays the prompts while listening for keys; `num_digits` keys are posted to `action_url` as `Digits`.
    No key pressed within `timeout_seconds` after the prompts: Twilio goes on with `then_play`, then hangs up.
    No key ends the input early (finishOnKey is empty), so every key the caller presses is a digit we see."""
    if not prompt_urls:
        raise ValueError("a gather needs at least one prompt to play")
    for url in [*prompt_urls, *then_play]:
        _require_url(url, {"http", "https"}, "prompt url")
    _require_url(action_url, {"http", "https"}, "action_url")
    if isinstance(num_digits, bool) or not isinstance(num_digits, int) or not 1 <= num_digits <= 32:
        raise ValueError(f"num_digits must be an integer from 1 to 32, got {num_digits!r}")
    if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, int) or not 1 <= timeout_seconds <= 60:
        raise ValueError(f"timeout_seconds must be an integer from 1 to 60, got {timeout_seconds!r}")
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        num_digits=num_digits,
        timeout=timeout_seconds,
        action=action_url,
        finish_on_key="",
        action_on_empty_result=False,
    )
    for url in prompt_urls:
        gather.play(url)
    for url in then_play:
        response.play(url)
    response.hangup()
    return str(response)


def play(audio_url: str) -> str:
    """Plays an audio file (WAV or MP3) from `audio_url`."""
    _require_url(audio_url, {"http", "https"}, "audio_url")
    response = VoiceResponse()
    response.play(audio_url)
    return str(response)


def play_then_hangup(audio_url: str) -> str:
    """Plays an audio file, then ends the call."""
    _require_url(audio_url, {"http", "https"}, "audio_url")
    response = VoiceResponse()
    response.play(audio_url)
    response.hangup()
    return str(response)


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def nothing() -> str:
    """An empty response: Twilio goes on as if the URL had not been given (a whisper skipped, the call connected)."""
    return str(VoiceResponse())


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
    if element.tag == "Gather":
        return _parse_gather(element)
    if element.tag == "Enqueue":
        queue = (element.text or "").strip()
        if not queue:
            raise TwimlError("<Enqueue> needs a queue name")
        return Enqueue(queue=queue, action_url=element.get("action"), wait_url=element.get("waitUrl"))
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


def _positive_whole_number(element: ElementTree.Element, name: str) -> int | None:
    """The attribute `name` of a <Gather>, or None when it is not given."""
    text = element.get(name)
    if text is not None and not (text.isdigit() and int(text) > 0):
        raise TwimlError(f"<Gather {name}> must be a positive whole number, got {text!r}")
    return int(text) if text is not None else None


def _parse_gather(element: ElementTree.Element) -> TwimlVerb:
    timeout = _positive_whole_number(element, "timeout")
    num_digits = _positive_whole_number(element, "numDigits")
    finish_on_key = element.get("finishOnKey", "#")
    if finish_on_key and not set(finish_on_key) <= DTMF_KEYS:
        raise TwimlError(f"<Gather finishOnKey> must be keys of 0-9, * and #, got {finish_on_key!r}")
    nested: list[Say | Play] = []
    for child in element:
        verb = _parse_verb(child)
        if not isinstance(verb, (Say, Play)):
            # Twilio also allows <Pause>; nothing here nests it, so the simulator refuses rather than guesses.
            raise TwimlError(f"<Gather> may only nest <Say> and <Play> here, got <{child.tag}>")
        nested.append(verb)
    empty_result = element.get("actionOnEmptyResult", "false")
    if empty_result not in ("true", "false"):
        raise TwimlError(f"<Gather actionOnEmptyResult> must be true or false, got {empty_result!r}")
    return Gather(
        action_url=element.get("action"),
        nested=tuple(nested),
        num_digits=num_digits,
        timeout=TWILIO_DEFAULT_GATHER_TIMEOUT_SECONDS if timeout is None else timeout,
        finish_on_key=finish_on_key,
        input=element.get("input", "dtmf"),
        action_on_empty_result=empty_result == "true",
    )


def _require_url(url: str, schemes: set[str], what: str) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"{what} must be an absolute {'/'.join(sorted(schemes))} URL, got {url!r}")


def _require_e164(number: str, what: str) -> None:
    if not isinstance(number, str) or not _E164.match(number):
        raise ValueError(f"{what} must be an E.164 phone number like +4930123456, got {number!r}")
