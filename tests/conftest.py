"""Fixtures shared by the tests that run the real assistant. The speech models load once per test session,
because loading them is the slow part."""

from __future__ import annotations

from datetime import date

import pytest

from tests.databases import DATABASE_BACKENDS
from tests.support import NOTICES, TEST_SECRETS
from voice_app.config import DEFAULT_CONFIG_PATH, load_settings

DEMO_SECRET_KEY = "demo-secret-key-" + "2" * 32


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the whole test session (see tests/postgres.py)."""
    from tests.postgres import start_throwaway_postgres

    server = start_throwaway_postgres()
    yield server
    server.close()


def _new_database(request, folder) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{folder / 'test.db'}"
    return request.getfixturevalue("postgres_server").create_database()


@pytest.fixture(params=DATABASE_BACKENDS)
def database_url(request, tmp_path):
    """A fresh, empty database for this test, once on a SQLite file and once on the PostgreSQL server."""
    return _new_database(request, tmp_path)


@pytest.fixture(scope="module", params=DATABASE_BACKENDS)
def module_database_url(request, tmp_path_factory):
    """A fresh, empty database shared by one module's tests, on each backend: for data slow to build."""
    return _new_database(request, tmp_path_factory.mktemp("module-database"))


@pytest.fixture(scope="session")
def base_settings():
    return load_settings(DEFAULT_CONFIG_PATH, TEST_SECRETS)


@pytest.fixture(scope="session")
def speech(base_settings):
    from voice_app.services import load_speech

    speech = load_speech(base_settings)
    yield speech
    speech.synthesizer.close()


@pytest.fixture(scope="session")
def classifier():
    from voice_app.understanding.intents import IntentClassifier

    return IntentClassifier.load_default()


@pytest.fixture(scope="session")
def demo_accounts(tmp_path_factory):
    """The demo account set on its own SQLite file, seeded for today."""
    from voice_app.accounts.demo_data import seed_demo
    from voice_app.accounts.directory import SqlAccountDirectory
    from voice_app.database import create_schema, make_engine

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('accounts') / 'accounts.db'}")
    create_schema(engine)
    seed_demo(engine, DEMO_SECRET_KEY, today=date.today())
    return SqlAccountDirectory(engine, DEMO_SECRET_KEY)


@pytest.fixture
def new_dialogue(classifier, demo_accounts):
    """Makes a dialogue for a caller; `caller_phone` is their caller ID (None: withheld)."""
    from voice_app.dialogue.machine import Dialogue

    def make(language="en", caller_phone=None):
        caller = demo_accounts.find_by_phone(caller_phone) if caller_phone else None
        return Dialogue(
            language,
            NOTICES,
            min_transcript_confidence=0.12,
            classifier=classifier,
            accounts=demo_accounts,
            caller=caller,
            today=date.today(),
        )

    return make


@pytest.fixture
def page(tmp_path):
    """A headless chromium page; tests using it are skipped where chromium is not installed."""
    from tests.browser import CHROMIUM, browser_page

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is missing at /usr/bin/chromium (apt-get install chromium)")
    with browser_page(tmp_path / "chromium-profile") as page:
        yield page
