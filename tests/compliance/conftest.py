"""Real calls through the real server, stored once on SQLite and once on PostgreSQL; each compliance test gets its
own copy of the database."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
from compliance_support import CALLS, PASSWORD, SECRET_KEY, TODAY

from tests.databases import DATABASE_BACKENDS, is_postgresql
from tests.support import place_scripted_calls, settings_with_database
from voice_app.accounts.demo_data import seed_demo
from voice_app.config import PROJECT_ROOT
from voice_app.local_server import LocalServer
from voice_app.users.management import create_user


@pytest.fixture(scope="session", params=DATABASE_BACKENDS)
def called_database(request, tmp_path_factory, base_settings, speech):
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path_factory.mktemp('compliance-calls') / 'calls.db'}"
    else:
        database_url = request.getfixturevalue("postgres_server").create_database("compliance_calls")
    settings = settings_with_database(base_settings, database_url)
    auth_token = secrets.token_hex(16)
    with LocalServer(settings, auth_token=auth_token, secret_key=SECRET_KEY, speech=speech) as server:
        seed_demo(server.services.engine, SECRET_KEY, today=TODAY)
        results = place_scripted_calls(
            server, auth_token, CALLS, dial_outcome="no-answer", ring_seconds=1.0, max_call_seconds=240
        )
    # The server has closed its connections: PostgreSQL copies a database only while nobody is connected to it.
    return database_url, results


@pytest.fixture
def database(called_database, request, tmp_path) -> str:
    """The URL of this test's own copy of the called database."""
    source, _ = called_database
    if is_postgresql(source):
        return request.getfixturevalue("postgres_server").clone_database(source)
    copy = tmp_path / "calls.db"
    shutil.copyfile(source.removeprefix("sqlite:///"), copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def config_file(database, tmp_path) -> Path:
    """The shipped config.toml pointed at the test's database."""
    text = (PROJECT_ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('url = "sqlite:///var/voice_app.db"', f'url = "{database}"')
    text = text.replace('notice_dir = "voice_app/notices"', f'notice_dir = "{PROJECT_ROOT / "voice_app" / "notices"}"')
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def console_server(database, base_settings, speech):
    """The real server on the test's copy of the called database, with a compliance officer, an agent and an
    admin who can sign in."""
    settings = settings_with_database(base_settings, database)
    with LocalServer(settings, auth_token=secrets.token_hex(16), secret_key=SECRET_KEY, speech=speech) as server:
        for role in ("compliance", "agent", "admin"):
            create_user(server.services.engine, f"{role}-user", PASSWORD, role)
        yield server
