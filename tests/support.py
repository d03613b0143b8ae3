"""Helpers for tests that run the real assistant."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

from voice_app.dialogue.machine import NoticeTexts

TEST_SECRETS = {"TWILIO_AUTH_TOKEN": "test-auth-token-" + "0" * 16, "VOICE_APP_SECRET_KEY": "test-secret-key-" + "1" * 32}


def settings_with_database(settings, path: Path, **dialogue_changes):
    """The shipped settings on a fresh SQLite file, with some dialogue settings changed."""
    return dataclasses.replace(
        settings,
        database_url=f"sqlite:///{path}",
        dialogue=dataclasses.replace(settings.dialogue, **dialogue_changes),
    )


AT = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
NOTICES = {
    "en": NoticeTexts("EN disclosure", "EN consent notice"),
    "de": NoticeTexts("DE Offenlegung", "DE Einwilligung"),
}
