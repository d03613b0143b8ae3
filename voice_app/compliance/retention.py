"""Deleting what has been kept long enough, per kind of data, as configured under [retention]."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from consent import audit
from consent.ledger import erase_answers, prune_events_recorded_before
from consent.timestamps import require_aware
from voice_app.compliance.subjects import delete_calls, forget_transcripts
from voice_app.config import RetentionSettings
from voice_app.models import Call

log = logging.getLogger(__name__)
RUN_INTERVAL = timedelta(days=1)


def run_retention(engine: Engine, retention: RetentionSettings, now: datetime, actor: str) -> dict[str, dict[str, int]]:
    """Delete what expired before `now`; running it again at the same time deletes nothing more. The counts
    go to the audit log."""
    now = require_aware(now, "now")
    transcripts_before = now - timedelta(days=retention.transcripts_days)
    calls_before = now - timedelta(days=retention.call_records_days)
    with Session(engine) as session, session.begin():
        transcripts = forget_transcripts(session, transcripts_before)
        expired_calls = list(session.exec(select(Call.id).where(col(Call.started_at) < calls_before)).all())
        call_records = delete_calls(session, expired_calls)
    transcripts["consent_answers"] = erase_answers(engine, recorded_before=transcripts_before)
    consent_proof = {
        "consent_events": prune_events_recorded_before(engine, now - timedelta(days=retention.consent_proof_days))
    }
    counts = {"transcripts": transcripts, "call_records": call_records, "consent_proof": consent_proof}
    audit.record(
        engine,
        actor,
        audit.AuditAction.RETENTION_RUN,
        {"at": now.isoformat(timespec="seconds"), "retention_days": retention.__dict__, "deleted": counts},
    )
    return counts


class DailyRetention:
    """Runs retention when the server starts and then once a day, on a daemon thread."""

    def __init__(self, engine: Engine, retention: RetentionSettings) -> None:
        self._engine = engine
        self._retention = retention
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="daily-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                counts = run_retention(self._engine, self._retention, datetime.now().astimezone(), audit.SYSTEM_ACTOR)
                log.info("retention run deleted %s", counts)
            except Exception:  # a failed run must not stop the server; the next day tries again
                log.exception("retention run failed")
            self._stop.wait(RUN_INTERVAL.total_seconds())
