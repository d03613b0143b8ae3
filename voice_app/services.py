"""What a running assistant holds once per process: database, speech models, notices, keys."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from consent.models import NoticeVersion
from consent.notices import sync_notices
from telephony.signatures import SignatureChecker
from voice_app.accounts.directory import AccountDirectory, SqlAccountDirectory
from voice_app.config import SUPPORTED_LANGUAGES, Settings
from voice_app.database import open_database
from voice_app.dialogue.machine import NoticeTexts
from voice_app.dialogue.prompts import APOLOGIES, PROMPTS
from voice_app.drain import NEVER_DRAINING, DrainSignal
from voice_app.speech.model_store import resolve_model
from voice_app.speech.stt import Transcriber
from voice_app.speech.tts import Synthesizer
from voice_app.speech.turn_completion import shared_turn_completion
from voice_app.understanding.intents import IntentClassifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConversationEvent:
    """What an operator watching a call sees: said, heard, decided. Goes to an observer, never to the log."""

    call_sid: str
    kind: str  # "bot", "heard", "consent", "end"
    text: str
    at: datetime


class ConversationObserver(Protocol):
    def __call__(self, event: ConversationEvent) -> None: ...


@dataclass
class Speech:
    """The slow-to-load models, shared by every call of the process."""

    transcriber: Transcriber
    synthesizer: Synthesizer
    classifier: IntentClassifier


@dataclass
class Services:
    settings: Settings
    engine: Engine
    speech: Speech
    signatures: SignatureChecker
    secret_key: str
    notices: dict[tuple[str, str], NoticeVersion]
    accounts: AccountDirectory
    observer: ConversationObserver | None = None
    drain: DrainSignal = NEVER_DRAINING

    @property
    def classifier(self) -> IntentClassifier:
        return self.speech.classifier

    def notice_texts(self) -> dict[str, NoticeTexts]:
        return {
            language: NoticeTexts(
                disclosure=self.notices[("disclosure", language)].text,
                consent=self.notices[("consent", language)].text,
            )
            for language in SUPPORTED_LANGUAGES
        }

    def observe(self, call_sid: str, kind: str, text: str, at: datetime) -> None:
        if self.observer is not None:
            try:
                self.observer(ConversationEvent(call_sid, kind, text, at))
            except Exception:  # an observer must never break a call
                log.exception("conversation observer failed")


def load_speech(settings: Settings) -> Speech:
    """Loads the speech models and renders every fixed prompt once, before the first caller waits for it."""
    speech = settings.speech
    transcriber = Transcriber(
        resolve_model(speech.model, speech.model_cache_dir),
        compute_type=speech.compute_type,
        cpu_threads=speech.cpu_threads,
        workers=speech.stt_workers,
        batch_size=speech.stt_batch_size,
        encoder_window=speech.encoder_window,
        encoder_floor_seconds=speech.encoder_floor_seconds,
        encoder_margin_seconds=speech.encoder_margin_seconds,
    )
    transcriber.warm_up()
    if speech.asks_smart_turn:
        shared_turn_completion(speech.model_cache_dir)  # a missing or damaged model stops start-up, not a call
    synthesizer = Synthesizer({"en": speech.voice_en, "de": speech.voice_de}, rate_wpm=speech.speaking_rate_wpm)
    return Speech(transcriber=transcriber, synthesizer=synthesizer, classifier=IntentClassifier.load_default())


def prerender_prompts(speech: Speech, notices: dict[tuple[str, str], NoticeVersion]) -> None:
    fixed = [(text, language) for language, prompts in PROMPTS.items() for text in prompts.values()]
    fixed += [(notice.text, language) for (_, language), notice in notices.items()]
    speech.synthesizer.prerender(fixed)
    for language, apology in APOLOGIES.items():
        speech.synthesizer.keep(apology, language)


def sync_notice_versions(engine: Engine, settings: Settings) -> dict[tuple[str, str], NoticeVersion]:
    """The current notice texts as versions, by (kind, language), on a database already at the head revision."""
    with Session(engine) as session:
        notices = sync_notices(session, settings.notice_dir)
    missing = [
        f"{kind}.{language}.txt"
        for kind in ("disclosure", "consent")
        for language in SUPPORTED_LANGUAGES
        if (kind, language) not in notices
    ]
    if missing:
        raise RuntimeError(f"notice texts missing in {settings.notice_dir}: {', '.join(missing)}")
    return notices


def build_services(
    settings: Settings,
    *,
    auth_token: str,
    secret_key: str,
    speech: Speech | None = None,
    observer: ConversationObserver | None = None,
    drain: DrainSignal = NEVER_DRAINING,
    on_progress: Callable[[str], None] = lambda _message: None,
) -> Services:
    engine = open_database(settings.database_url, settings.database_url_setting)
    notices = sync_notice_versions(engine, settings)
    if speech is None:
        on_progress(f"loading speech model {settings.speech.model!r}")
        speech = load_speech(settings)
    on_progress("rendering fixed prompts")
    prerender_prompts(speech, notices)
    return Services(
        settings=settings,
        engine=engine,
        speech=speech,
        signatures=SignatureChecker(auth_token),
        secret_key=secret_key,
        notices=notices,
        accounts=SqlAccountDirectory(engine, secret_key),
        observer=observer,
        drain=drain,
    )
