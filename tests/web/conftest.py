"""Fixtures for the web console tests: one assistant (database, notices) per test module and database backend,
users on demand."""

from __future__ import annotations

import pytest

# console_support imports the consoles, and with them their tables, before the schema is created.
from console_support import AUTH_TOKEN, PASSWORD, console_app, unique_username

from tests.support import settings_with_database
from voice_app.services import build_services
from voice_app.users.management import create_user


@pytest.fixture(scope="module")
def services(module_database_url, base_settings, speech):
    settings = settings_with_database(base_settings, module_database_url)
    services = build_services(settings, auth_token=AUTH_TOKEN, secret_key="w" * 40, speech=speech)
    yield services
    services.engine.dispose()


@pytest.fixture
def app(services):
    app = console_app(services)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(services):
    def make(role: str = "agent", password: str = PASSWORD) -> str:
        username = unique_username(role)
        create_user(services.engine, username, password, role)
        return username

    return make
