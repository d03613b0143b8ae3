"""Settings: `config.toml` for what may be shared, the environment for secrets and deployment values.

Every value is checked once at start-up; a bad one stops the program with a message naming it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telephony.audio import FRAME_MS
from telephony.twiml import DialTarget, parse_dial_target
from voice_app.handoff.business_hours import WEEKDAYS, BusinessHours

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config.toml"
LOCAL_DEMO_DIR = PROJECT_ROOT / "var"
SUPPORTED_LANGUAGES = ("en", "de")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-f]{32}$")
MIN_SECRET_KEY_LENGTH = 32
MAX_RETENTION_DAYS = 3660
# Each worker holds its own Whisper model (a few hundred MB); each call holds one worker thread.
MAX_WORKERS = 32
MAX_THREADS = 256
MAX_DRAIN_SECONDS = 3600


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    public_url: str
    workers: int
    threads: int
    drain_seconds: float


@dataclass(frozen=True)
class TelephonySettings:
    agent_target: DialTarget
    agent_ring_seconds: int
    playback_lead_ms: int
    default_language: str
    number_languages: Mapping[str, str]
    business_hours: BusinessHours

    def language_for(self, called_number: str) -> str:
        return self.number_languages.get(called_number, self.default_language)


@dataclass(frozen=True)
class SpeechSettings:
    model: str
    model_cache_dir: Path
    compute_type: str
    cpu_threads: int
    stt_workers: int
    stt_batch_size: int
    encoder_window: str
    encoder_floor_seconds: float
    encoder_margin_seconds: float
    vad_aggressiveness: int
    end_of_turn_silence_ms: int
    min_speech_ms: int
    max_utterance_ms: int
    voice_en: str
    voice_de: str
    speaking_rate_wpm: int
    transcription_timeout_seconds: float
    end_of_turn: str = "fixed_silence"  # or "smart_turn", or "smart_turn_and_words"
    turn_pause_ms: int = 200
    turn_fallback_ms: int = 3000
    short_answer_fallback_ms: int = 1000
    turn_complete_threshold: float = 0.5
    unfinished_words_silence_ms: int = 1300
    unfinished_sound_silence_ms: int = 700

    @property
    def asks_smart_turn(self) -> bool:
        """Whether the Smart Turn model is asked at a pause (alone, or with the words heard so far)."""
        return self.end_of_turn in ("smart_turn", "smart_turn_and_words")


@dataclass(frozen=True)
class DialogueSettings:
    silence_timeout_seconds: float
    min_transcript_confidence: float


@dataclass(frozen=True)
class RetentionSettings:
    """Days each kind of data is kept after the call."""

    transcripts_days: int
    call_records_days: int
    consent_proof_days: int


@dataclass(frozen=True)
class VoicemailSettings:
    """How long a caller's voice message may be, and when the silence after it ends it."""

    max_seconds: int
    end_silence_seconds: float
    no_message_seconds: float


@dataclass(frozen=True)
class ReturnSettings:
    """How long an invoice is paused when the caller sent something back that the merchant has not registered."""

    pause_days: int = 21


@dataclass(frozen=True)
class Secrets:
    """Values only ever taken from the environment. `repr` hides them so they never reach a log."""

    twilio_auth_token: str | None = field(repr=False)
    secret_key: str | None = field(repr=False)
    twilio_account_sid: str | None = None


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    database_url: str
    telephony: TelephonySettings
    speech: SpeechSettings
    dialogue: DialogueSettings
    retention: RetentionSettings
    voicemail: VoicemailSettings
    notice_dir: Path
    secrets: Secrets
    source: Path
    # Which setting the database URL came from, so that a message about the database names what to change.
    database_url_setting: str = "database.url"
    returns: ReturnSettings = ReturnSettings()

    def require_secrets(self) -> tuple[str, str]:
        """The auth token and secret key a server needs; a clear error when either is missing."""
        if not self.secrets.twilio_auth_token:
            raise ConfigError("TWILIO_AUTH_TOKEN is not set: the server cannot check Twilio's signatures without it")
        return self.secrets.twilio_auth_token, self.require_secret_key()

    def require_secret_key(self) -> str:
        """The key of the caller pseudonyms. There is no fallback: with any other key a caller's records would
        silently not be found, and an erasure request would delete nothing."""
        if not self.secrets.secret_key:
            raise ConfigError(
                "VOICE_APP_SECRET_KEY is not set: it keys the caller pseudonyms (and web sessions); "
                "set it to the key the server uses"
            )
        return self.secrets.secret_key

    @property
    def uses_local_demo_database(self) -> bool:
        """A SQLite file under the project's var/ folder: the database of the demo and of `voice-app call`."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return False
        return Path(self.database_url[len(prefix) :]).resolve().is_relative_to(LOCAL_DEMO_DIR)


class _Section:
    """Typed reads from one TOML table, each error naming `section.key`."""

    def __init__(self, data: Mapping[str, Any], name: str, path: Path):
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] in {path} must be a table")
        self.values = value
        self.name = name

    def _get(self, key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in self.values:
            raise ConfigError(f"{self.name}.{key} is missing")
        value = self.values[key]
        if isinstance(value, bool) or not isinstance(value, kind):
            kinds = kind if isinstance(kind, tuple) else (kind,)
            raise ConfigError(f"{self.name}.{key} must be {' or '.join(k.__name__ for k in kinds)}, not {value!r}")
        return value

    def text(self, key: str) -> str:
        value = self._get(key, str).strip()
        if not value:
            raise ConfigError(f"{self.name}.{key} must not be empty")
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        value = self._get(key, int)
        if not low <= value <= high:
            raise ConfigError(f"{self.name}.{key} must be between {low} and {high}, not {value}")
        return value

    def number(self, key: str, low: float, high: float) -> float:
        value = float(self._get(key, (int, float)))
        if not low <= value <= high:
            raise ConfigError(f"{self.name}.{key} must be between {low} and {high}, not {value}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in choices:
            raise ConfigError(f"{self.name}.{key} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def table(self, key: str) -> dict[str, Any]:
        return self._get(key, dict)


def _business_hours(section: _Section) -> BusinessHours:
    table = _Section(section.values, "business_hours", Path("config.toml"))
    table.name = "telephony.business_hours"
    # Read before parsing: a ConfigError is a ValueError too, and a missing key must be reported as missing.
    timezone = table.text("timezone")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"telephony.business_hours.timezone is not a known time zone: {timezone!r}") from None
    days = table._get("days", list)
    if not days or any(day not in WEEKDAYS for day in days):
        raise ConfigError(f"telephony.business_hours.days must list some of {', '.join(WEEKDAYS)}, not {days!r}")
    times = {}
    for key in ("opens", "closes"):
        text = table.text(key)
        try:
            times[key] = time.fromisoformat(text)
        except ValueError:
            raise ConfigError(f"telephony.business_hours.{key} must be a time like 08:00, not {text!r}") from None
    if times["opens"] >= times["closes"]:
        raise ConfigError("telephony.business_hours.opens must be before closes")
    return BusinessHours(zone, frozenset(WEEKDAYS.index(day) for day in days), times["opens"], times["closes"])


def _retention(section: _Section) -> RetentionSettings:
    settings = RetentionSettings(
        transcripts_days=section.integer("transcripts_days", 1, MAX_RETENTION_DAYS),
        call_records_days=section.integer("call_records_days", 1, MAX_RETENTION_DAYS),
        consent_proof_days=section.integer("consent_proof_days", 1, MAX_RETENTION_DAYS),
    )
    # Deleting a call deletes its transcripts, and consent proof must outlive the processing it justifies.
    if settings.transcripts_days > settings.call_records_days:
        raise ConfigError("retention.transcripts_days must not exceed retention.call_records_days")
    if settings.consent_proof_days < settings.call_records_days:
        raise ConfigError("retention.consent_proof_days must be at least retention.call_records_days")
    return settings


# The hand-over record keeps the target in 64 characters (voice_app.handoff.models.Handoff.dial_target).
MAX_AGENT_TARGET_LENGTH = 64


def _agent_target(section: _Section) -> DialTarget:
    """`agent_target` (number:, sip:, client: or queue:); `agent_number`, its older form, still means a number."""
    if "agent_target" in section.values and "agent_number" in section.values:
        raise ConfigError("telephony.agent_number and telephony.agent_target are both set: keep only agent_target")
    if "agent_number" in section.values:
        return DialTarget("number", _check_e164(section.text("agent_number"), "telephony.agent_number"))
    text = section.text("agent_target")
    if len(text) > MAX_AGENT_TARGET_LENGTH:
        raise ConfigError(f"telephony.agent_target must be at most {MAX_AGENT_TARGET_LENGTH} characters long")
    try:
        return parse_dial_target(text)
    except ValueError as error:
        raise ConfigError(f"telephony.agent_target is not a transfer target: {error}") from None


def _voicemail(section: _Section) -> VoicemailSettings:
    settings = VoicemailSettings(
        max_seconds=section.integer("max_seconds", 10, 600),
        end_silence_seconds=section.number("end_silence_seconds", 1, 30),
        no_message_seconds=section.number("no_message_seconds", 2, 60),
    )
    if settings.end_silence_seconds >= settings.max_seconds:
        raise ConfigError("voicemail.end_silence_seconds must be shorter than voicemail.max_seconds")
    return settings


END_OF_TURN_MODES = ("fixed_silence", "smart_turn", "smart_turn_and_words")


def _end_of_turn(section: _Section) -> dict[str, Any]:
    """How a caller's turn ends: a fixed silence, or the Smart Turn model asked at a short pause (alone, or believed
    only when the words heard so far are something the dialogue would act on)."""
    values: dict[str, Any] = {
        "end_of_turn": section.choice("end_of_turn", END_OF_TURN_MODES),
        "turn_complete_threshold": section.number("turn_complete_threshold", 0.01, 0.99),
    }
    for key, low, high in (
        ("turn_pause_ms", 100, 1000),
        ("turn_fallback_ms", 500, 10000),
        ("short_answer_fallback_ms", 200, 10000),
        ("unfinished_words_silence_ms", 200, 10000),
        ("unfinished_sound_silence_ms", 200, 10000),
    ):
        value = section.integer(key, low, high)
        if value % FRAME_MS:
            raise ConfigError(f"speech.{key} must be a multiple of {FRAME_MS} ms, not {value}")
        values[key] = value
    if not values["turn_pause_ms"] < values["short_answer_fallback_ms"] <= values["turn_fallback_ms"]:
        raise ConfigError(
            "speech.short_answer_fallback_ms must be longer than speech.turn_pause_ms and no longer than "
            "speech.turn_fallback_ms"
        )
    for key in ("unfinished_words_silence_ms", "unfinished_sound_silence_ms"):
        if not values["turn_pause_ms"] < values[key] <= values["turn_fallback_ms"]:
            raise ConfigError(
                f"speech.{key} must be longer than speech.turn_pause_ms and no longer than speech.turn_fallback_ms"
            )
    return values


def _check_public_url(value: str, name: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
        raise ConfigError(
            f"{name} must be an http(s) URL without query, like https://hotline.example.com, not {value!r}"
        )
    return value.rstrip("/")


def _check_e164(value: str, name: str) -> str:
    if not E164.match(value):
        raise ConfigError(f"{name} must be a phone number in E.164 form like +4930123456, not {value!r}")
    return value


def _check_database_url(value: str, name: str, base: Path) -> str:
    scheme = value.split(":", 1)[0]
    if "://" not in value or not scheme:
        raise ConfigError(f"{name} must be a database URL like sqlite:///var/voice_app.db, not {value!r}")
    if scheme == "sqlite" and value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        relative = value[len("sqlite:///") :]
        if relative and relative != ":memory:":
            return f"sqlite:///{(base / relative).resolve()}"
    return value


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    path = Path(path) if path else Path(os.environ.get("VOICE_APP_CONFIG", DEFAULT_CONFIG_PATH))
    environ = os.environ if environ is None else environ
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"configuration file {path} is not valid TOML: {error}") from None
    base = path.resolve().parent

    server = _Section(data, "server", path)
    public_url = environ.get("VOICE_APP_PUBLIC_URL") or server.text("public_url")
    public_url_name = "VOICE_APP_PUBLIC_URL" if environ.get("VOICE_APP_PUBLIC_URL") else "server.public_url"

    database = _Section(data, "database", path)
    database_url_name = "VOICE_APP_DATABASE_URL" if environ.get("VOICE_APP_DATABASE_URL") else "database.url"
    database_url = environ.get("VOICE_APP_DATABASE_URL") or database.text("url")

    telephony = _Section(data, "telephony", path)
    number_languages = {}
    for number, language in telephony.table("number_languages").items():
        _check_e164(number, f"telephony.number_languages key {number!r}")
        if language not in SUPPORTED_LANGUAGES:
            raise ConfigError(f"telephony.number_languages.{number} must be en or de, not {language!r}")
        number_languages[number] = language

    speech = _Section(data, "speech", path)
    dialogue = _Section(data, "dialogue", path)
    consent = _Section(data, "consent", path)
    retention = _retention(_Section(data, "retention", path))
    voicemail = _voicemail(_Section(data, "voicemail", path))
    returns = _Section(data, "returns", path)

    account_sid = environ.get("TWILIO_ACCOUNT_SID") or None
    if account_sid and not ACCOUNT_SID.match(account_sid):
        raise ConfigError("TWILIO_ACCOUNT_SID must be AC followed by 32 lowercase hex digits")
    secret_key = environ.get("VOICE_APP_SECRET_KEY") or None
    if secret_key and len(secret_key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"VOICE_APP_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long")

    return Settings(
        server=ServerSettings(
            host=server.text("host"),
            port=server.integer("port", 0, 65535),
            public_url=_check_public_url(public_url, public_url_name),
            workers=server.integer("workers", 1, MAX_WORKERS),
            threads=server.integer("threads", 1, MAX_THREADS),
            drain_seconds=server.number("drain_seconds", 0, MAX_DRAIN_SECONDS),
        ),
        database_url=_check_database_url(database_url, database_url_name, base),
        telephony=TelephonySettings(
            agent_target=_agent_target(telephony),
            agent_ring_seconds=telephony.integer("agent_ring_seconds", 5, 120),
            playback_lead_ms=telephony.integer("playback_lead_ms", 20, 2000),
            default_language=telephony.choice("default_language", SUPPORTED_LANGUAGES),
            number_languages=number_languages,
            business_hours=_business_hours(telephony),
        ),
        speech=SpeechSettings(
            model=speech.text("model"),
            model_cache_dir=(base / speech.text("model_cache_dir")).resolve(),
            compute_type=speech.choice("compute_type", ("int8", "int8_float32", "float32")),
            cpu_threads=speech.integer("cpu_threads", 0, 64),
            stt_workers=speech.integer("stt_workers", 1, 16),
            stt_batch_size=speech.integer("stt_batch_size", 1, 64),
            encoder_window=speech.choice("encoder_window", ("utterance", "full")),
            encoder_floor_seconds=speech.number("encoder_floor_seconds", 1.0, 30.0),
            encoder_margin_seconds=speech.number("encoder_margin_seconds", 0.0, 10.0),
            vad_aggressiveness=speech.integer("vad_aggressiveness", 0, 3),
            end_of_turn_silence_ms=speech.integer("end_of_turn_silence_ms", 200, 5000),
            min_speech_ms=speech.integer("min_speech_ms", 40, 2000),
            max_utterance_ms=speech.integer("max_utterance_ms", 2000, 60000),
            voice_en=speech.text("voice_en"),
            voice_de=speech.text("voice_de"),
            speaking_rate_wpm=speech.integer("speaking_rate_wpm", 80, 400),
            transcription_timeout_seconds=speech.number("transcription_timeout_seconds", 1, 120),
            **_end_of_turn(speech),
        ),
        dialogue=DialogueSettings(
            silence_timeout_seconds=dialogue.number("silence_timeout_seconds", 1, 60),
            min_transcript_confidence=dialogue.number("min_transcript_confidence", 0, 1),
        ),
        retention=retention,
        voicemail=voicemail,
        returns=ReturnSettings(pause_days=returns.integer("pause_days", 1, 60)),
        notice_dir=(base / consent.text("notice_dir")).resolve(),
        secrets=Secrets(
            twilio_auth_token=environ.get("TWILIO_AUTH_TOKEN") or None,
            secret_key=secret_key,
            twilio_account_sid=account_sid,
        ),
        source=path,
        database_url_setting=database_url_name,
    )
