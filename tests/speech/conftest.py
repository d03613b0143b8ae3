"""Shared fixtures for the speech tests: the real Whisper base model and real espeak-ng audio.

The base model is the one set-up assembled into the configured model cache (speech.model_cache_dir), or into
VOICE_APP_MODEL_CACHE when that is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from voice_app.speech.model_store import install_bundled_model
from voice_app.speech.stt import Transcriber
from voice_app.speech.tts import Synthesizer


@pytest.fixture(scope="session")
def model_cache_dir(base_settings) -> Path:
    configured = os.environ.get("VOICE_APP_MODEL_CACHE")
    return Path(configured) if configured else base_settings.speech.model_cache_dir


@pytest.fixture(scope="session")
def base_model_dir(model_cache_dir: Path) -> Path:
    return install_bundled_model("base", model_cache_dir)


@pytest.fixture(scope="session")
def transcriber(base_model_dir: Path) -> Transcriber:
    transcriber = Transcriber(str(base_model_dir))
    transcriber.warm_up()
    return transcriber


@pytest.fixture(scope="session")
def synthesizer() -> Iterator[Synthesizer]:
    synthesizer = Synthesizer()
    yield synthesizer
    synthesizer.close()
