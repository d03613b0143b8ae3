"""Utterances of many calls transcribed together (`stt_batch_size`): each caller gets back what its own utterance
would have given alone, and a failure stays with the batch it happened in. Real base model, real audio: jfk.flac
and espeak-ng phrases in both languages through the phone's 8 kHz mu-law, with and without the language given."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from speech_helpers import PHRASES, shared_audio, through_phone

from telephony.audio import mulaw_to_pcm16, phone_mulaw_to_float
from voice_app.call.recognition import Recogniser, RecognitionTimedOut
from voice_app.speech.stt import Transcriber, Transcript
from voice_app.speech.tts import Synthesizer

BATCH_SIZE = 8
WAIT_SECONDS = 120  # only a bound against hanging the test run; a healthy batch answers in seconds
STUCK_BOUND_SECONDS = 1.0  # the recognition bound (speech.transcription_timeout_seconds) in the stuck-batch test


@dataclass(frozen=True)
class Utterance:
    audio: np.ndarray
    language: str | None  # None: detected, as at the consent question
    fallback: str


@pytest.fixture(scope="module")
def utterances(synthesizer: Synthesizer) -> list[Utterance]:
    """Both languages, given and detected, long and short (a short one is decoded without the domain prompt)."""

    def spoken(text: str, language: str) -> np.ndarray:
        return phone_mulaw_to_float(synthesizer.synthesize(text, language), 16000)

    jfk = through_phone(*shared_audio("jfk.flac"))
    return [
        Utterance(jfk, "en", "en"),
        Utterance(spoken(PHRASES["en"][0], "en"), "en", "en"),
        Utterance(spoken(PHRASES["de"][0], "de"), "de", "de"),
        Utterance(spoken(PHRASES["en"][1], "en"), None, "de"),
        Utterance(spoken(PHRASES["de"][1], "de"), None, "en"),
        Utterance(spoken("Yes.", "en"), "en", "en"),
        Utterance(spoken("Nein.", "de"), None, "de"),
    ]


@pytest.fixture(scope="module")
def batched(base_model_dir: Path) -> Transcriber:
    """Shares the session transcriber's model (and its one slot): only the batching differs."""
    transcriber = Transcriber(str(base_model_dir), batch_size=BATCH_SIZE)
    transcriber.warm_up()
    return transcriber


@pytest.fixture(scope="module")
def alone(transcriber: Transcriber, utterances: list[Utterance]) -> list[Transcript]:
    return [transcriber.transcribe(u.audio, u.language, fallback_language=u.fallback) for u in utterances]


def at_once(transcriber: Transcriber, utterances: list[Utterance]) -> list[Transcript | Exception]:
    """Each utterance from a thread of its own, all released together, as calls whose turns end together."""
    start = threading.Barrier(len(utterances))
    results: list[Transcript | Exception | None] = [None] * len(utterances)

    def transcribe(index: int) -> None:
        utterance = utterances[index]
        start.wait()
        try:
            results[index] = transcriber.transcribe(
                utterance.audio, utterance.language, fallback_language=utterance.fallback
            )
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=transcribe, args=(i,)) for i in range(len(utterances))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a caller was left waiting"
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def heard(transcript: Transcript) -> tuple[object, ...]:
    return (
        transcript.text,
        transcript.language,
        round(transcript.language_probability, 4),
        round(transcript.confidence, 4),
        transcript.encoder_window_seconds,
    )


def test_each_caller_gets_what_its_utterance_gives_alone(
    batched: Transcriber, utterances: list[Utterance], alone: list[Transcript]
) -> None:
    together = at_once(batched, utterances)
    assert all(isinstance(t, Transcript) for t in together), together
    transcripts = [t for t in together if isinstance(t, Transcript)]
    assert [heard(t) for t in transcripts] == [heard(t) for t in alone]
    assert max(t.batch_size for t in transcripts) > 1, "nothing was decoded together"
    assert {t.language for t in transcripts} == {"en", "de"}
    assert all(t.batch_size == 1 for t in alone)


def test_a_lone_utterance_is_decoded_at_once_not_held_for_company(
    batched: Transcriber, utterances: list[Utterance], alone: list[Transcript]
) -> None:
    utterance = utterances[1]
    transcript = batched.transcribe(utterance.audio, utterance.language, fallback_language=utterance.fallback)
    assert transcript.batch_size == 1
    assert heard(transcript) == heard(alone[1])


class FailingOnce:
    """The CTranslate2 model, whose first `generate` fails as a broken model or full memory would; it fails only
    once `release` is set, so that other callers can arrive while that batch runs."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.entered = threading.Event()
        self.release = threading.Event()

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(WAIT_SECONDS)
            raise RuntimeError("generate failed")
        return self._model.generate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def test_a_failing_batch_fails_only_its_own_callers(
    batched: Transcriber, utterances: list[Utterance], alone: list[Transcript], monkeypatch: pytest.MonkeyPatch
) -> None:
    whisper = batched._model  # the faster-whisper model this process's transcribers share
    fault = FailingOnce(whisper.model)
    monkeypatch.setattr(whisper, "model", fault)
    first, rest = utterances[:1], utterances[1:]
    outcomes: dict[str, list[Transcript | Exception]] = {}
    first_thread = threading.Thread(target=lambda: outcomes.update(first=at_once(batched, first)))
    first_thread.start()
    assert fault.entered.wait(WAIT_SECONDS), "a lone utterance was not decoded at once"
    # The others end their turns while that batch runs: they wait, and go together into the next batch.
    rest_thread = threading.Thread(target=lambda: outcomes.update(rest=at_once(batched, rest)))
    rest_thread.start()
    assert wait_until(lambda: batched._batcher is not None and len(batched._batcher._waiting) == len(rest))
    fault.release.set()
    first_thread.join(WAIT_SECONDS)
    rest_thread.join(WAIT_SECONDS)

    [failed] = outcomes["first"]
    assert isinstance(failed, RuntimeError) and str(failed) == "generate failed"
    transcripts = [t for t in outcomes["rest"] if isinstance(t, Transcript)]
    assert [heard(t) for t in transcripts] == [heard(t) for t in alone[1:]], outcomes["rest"]
    assert {t.batch_size for t in transcripts} == {len(rest)}, "what waited meanwhile was not decoded together"


class Stuck:
    """The CTranslate2 model, whose `generate` does not come back until `release` is set."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.release = threading.Event()

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        self.release.wait(WAIT_SECONDS)
        return self._model.generate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def test_a_stuck_batch_holds_no_caller_past_the_recognition_bound(
    batched: Transcriber, synthesizer: Synthesizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    whisper = batched._model
    stuck = Stuck(whisper.model)
    monkeypatch.setattr(whisper, "model", stuck)
    pcm16 = mulaw_to_pcm16(synthesizer.synthesize(PHRASES["en"][0], "en"))
    outcomes: list[Exception] = []

    def recognise() -> None:
        try:
            Recogniser(batched, timeout_seconds=STUCK_BOUND_SECONDS).recognise(pcm16, "en", "en")
        except Exception as exc:
            outcomes.append(exc)

    # One caller's turn in the stuck batch, the other's waiting behind it.
    callers = [threading.Thread(target=recognise) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(WAIT_SECONDS)
    stuck.release.set()
    assert [type(outcome) for outcome in outcomes] == [RecognitionTimedOut, RecognitionTimedOut]
    monkeypatch.undo()
    assert batched.transcribe(phone_mulaw_to_float(synthesizer.synthesize("Yes.", "en"), 16000), "en").text


def wait_until(condition: Callable[[], bool]) -> bool:
    event = threading.Event()
    for _ in range(WAIT_SECONDS * 100):
        if condition():
            return True
        event.wait(0.01)
    return False
