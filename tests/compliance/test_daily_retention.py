"""The server's daily retention: it runs once at start, records its counts in the audit log, and stops cleanly."""

from __future__ import annotations

import time

from consent import audit
from voice_app.compliance.retention import DailyRetention
from voice_app.database import create_schema, make_engine


def test_runs_at_start_and_is_audited(database_url, base_settings):
    engine = make_engine(database_url)
    create_schema(engine)
    schedule = DailyRetention(engine, base_settings.retention)
    schedule.start()
    deadline = time.monotonic() + 20
    while not audit.entries(engine, action="retention_run") and time.monotonic() < deadline:
        time.sleep(0.05)
    schedule.stop()

    [entry] = audit.entries(engine, action="retention_run")
    assert entry.actor == audit.SYSTEM_ACTOR
    details = entry.details_dict()
    assert details["deleted"]["transcripts"]["turns"] == 0
    assert details["retention_days"] == {"transcripts_days": 30, "call_records_days": 180, "consent_proof_days": 1095}
    assert not schedule.running
