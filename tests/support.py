"""Helpers for tests that run the real assistant."""

from __future__ import annotations

import dataclasses
from pathlib import Path

TEST_SECRETS = {"TWILIO_AUTH_TOKEN": "test-auth-token-" + "0" * 16, "VOICE_APP_SECRET_KEY": "test-secret-key-" + "1" * 32}


def settings_with_database(settings, path: Path, **dialogue_changes):
    """The shipped settings on a fresh SQLite file, with some dialogue settings changed."""
    return dataclasses.replace(
        settings,
        database_url=f"sqlite:///{path}",
        dialogue=dataclasses.replace(settings.dialogue, **dialogue_changes),
    )
