"""Helpers for tests that run the real assistant."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from voice_app.dialogue.machine import NoticeTexts
from voice_app.handoff.business_hours import BusinessHours

ALWAYS_OPEN = BusinessHours(ZoneInfo("UTC"), frozenset(range(7)), time.min, time.max)

TEST_SECRETS = {"TWILIO_AUTH_TOKEN": "test-auth-token-" + "0" * 16, "VOICE_APP_SECRET_KEY": "test-secret-key-" + "1" * 32}


def settings_with_database(settings, path: Path, business_hours: BusinessHours = ALWAYS_OPEN, **dialogue_changes):
    """The shipped settings on a fresh SQLite file, with colleagues always available (so that a test's outcome
    does not depend on the hour it runs at) and some dialogue settings changed."""
    return dataclasses.replace(
        settings,
        database_url=f"sqlite:///{path}",
        dialogue=dataclasses.replace(settings.dialogue, **dialogue_changes),
        telephony=dataclasses.replace(settings.telephony, business_hours=business_hours),
    )


AT = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
NOTICES = {
    "en": NoticeTexts("EN disclosure", "EN consent notice"),
    "de": NoticeTexts("DE Offenlegung", "DE Einwilligung"),
}


def of(actions, kind):
    """The actions of one kind, in order."""
    return [action for action in actions if isinstance(action, kind)]
