"""Fixtures shared by the tests that run the real assistant. The speech models load once per test session,
because loading them is the slow part."""

from __future__ import annotations

import pytest

from tests.support import TEST_SECRETS
from voice_app.config import DEFAULT_CONFIG_PATH, load_settings


@pytest.fixture(scope="session")
def base_settings():
    return load_settings(DEFAULT_CONFIG_PATH, TEST_SECRETS)


@pytest.fixture(scope="session")
def speech(base_settings):
    from voice_app.services import load_speech

    speech = load_speech(base_settings)
    yield speech
    speech.synthesizer.close()
