"""Commands that turn a phone number into a caller pseudonym need the server's key: with any other key they would
find nothing, and an erasure request would report success having deleted nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, func, select

from consent.audit import AuditEntry
from voice_app.accounts.models import Customer
from voice_app.cli import main
from voice_app.config import DEFAULT_CONFIG_PATH, LOCAL_DEMO_DIR, PROJECT_ROOT, load_settings
from voice_app.database import make_engine

SECRET_KEY = "pseudonym-key-test-" + "7" * 32
PHONE = "+447911123456"


def config_pointing_at(database_url: str, folder: Path) -> Path:
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    text = text.replace('url = "sqlite:///var/voice_app.db"', f'url = "{database_url}"')
    text = text.replace('notice_dir = "voice_app/notices"', f'notice_dir = "{PROJECT_ROOT / "voice_app" / "notices"}"')
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(config_file: Path, *arguments: str, secret_key: str | None):
    # None removes the variable for the command, whatever the test runner's environment holds
    return CliRunner().invoke(
        main, ["--config", str(config_file), *arguments], env={"VOICE_APP_SECRET_KEY": secret_key}
    )


def count(database_url: str, model) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(model)).one()
    finally:
        engine.dispose()


@pytest.fixture
def seeded(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'hotline.db'}"
    config_file = config_pointing_at(database_url, tmp_path)
    assert run(config_file, "seed-demo", secret_key=SECRET_KEY).exit_code == 0
    return config_file, database_url


@pytest.mark.parametrize(
    "arguments",
    [
        ("subject", "erase", "--phone", PHONE, "--yes"),
        ("subject", "export", "--phone", PHONE, "--out", "{out}"),
        ("consent", "export", "--phone", PHONE, "--out", "{out}"),
    ],
)
def test_a_command_that_needs_the_pseudonym_key_refuses_to_run_without_it(seeded, tmp_path, arguments):
    config_file, database_url = seeded
    audit_entries_before = count(database_url, AuditEntry)
    out = tmp_path / "out"
    result = run(config_file, *(a.format(out=out) for a in arguments), secret_key=None)
    assert result.exit_code != 0
    assert "VOICE_APP_SECRET_KEY is not set" in result.output
    assert count(database_url, AuditEntry) == audit_entries_before, "a refused request must not be audited as done"
    assert not out.exists()


def test_with_the_key_the_same_erasure_runs_and_is_audited(seeded):
    config_file, database_url = seeded
    result = run(config_file, "subject", "erase", "--phone", PHONE, "--yes", secret_key=SECRET_KEY)
    assert result.exit_code == 0, result.output
    assert count(database_url, AuditEntry) == 1


def test_an_export_without_a_phone_number_needs_no_key(seeded, tmp_path):
    config_file, _ = seeded
    result = run(config_file, "consent", "export", "--out", str(tmp_path / "out"), secret_key=None)
    assert result.exit_code == 0, result.output


def test_seeding_a_database_other_than_the_demo_one_needs_the_key(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'company.db'}"
    config_file = config_pointing_at(database_url, tmp_path)
    result = run(config_file, "seed-demo", secret_key=None)
    assert result.exit_code != 0 and "VOICE_APP_SECRET_KEY is not set" in result.output
    assert count(database_url, Customer) == 0


def test_a_short_key_is_refused_by_name(tmp_path):
    config_file = config_pointing_at(f"sqlite:///{tmp_path / 'company.db'}", tmp_path)
    result = run(config_file, "subject", "erase", "--phone", PHONE, "--yes", secret_key="too-short")
    assert result.exit_code != 0 and "VOICE_APP_SECRET_KEY must be at least 32 characters" in result.output


def test_only_sqlite_files_under_var_are_the_demo_database(tmp_path):
    def settings_for(url):
        return load_settings(config_pointing_at(url, tmp_path), environ={})

    assert settings_for(f"sqlite:///{LOCAL_DEMO_DIR / 'voice_app.db'}").uses_local_demo_database
    assert not settings_for(f"sqlite:///{tmp_path / 'voice_app.db'}").uses_local_demo_database
    assert not settings_for(f"sqlite:///{LOCAL_DEMO_DIR / '..' / 'elsewhere.db'}").uses_local_demo_database
    assert not settings_for("postgresql+psycopg://hotline@db.example.com/hotline").uses_local_demo_database
