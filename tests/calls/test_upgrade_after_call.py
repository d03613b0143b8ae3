"""A database made by the baseline revision and filled by a whole simulated call upgrades to the head revision,
and the consent ledger still verifies, on SQLite and on PostgreSQL.

The running assistant only works on a database at head, so the call is placed on one, and its rows (the columns
the baseline has) are then copied into a database made by the baseline revision alone. That keeps this test true
however far the head moves from the baseline."""

from __future__ import annotations

import dataclasses
import secrets

from sqlalchemy import MetaData, func, select
from sqlalchemy.engine import Engine

from consent.ledger import events_for_call, verify_chain
from telephony.simulator import Press, TwilioSimulator
from tests.support import settings_with_database
from voice_app.database import make_engine
from voice_app.local_server import LocalServer
from voice_app.migrations import BASELINE_REVISION, REVISIONS, VERSION_TABLE, differences, upgrade_database


def place_a_call_with_consent(settings, speech) -> str:
    auth_token = secrets.token_hex(16)
    with LocalServer(settings, auth_token=auth_token, secret_key="s" * 40, speech=speech) as server:
        simulator = TwilioSimulator(
            server.url, auth_token, from_number="+4915112345678", to_number="+4420555010", max_call_seconds=60
        )
        result = simulator.place_call([Press("1"), Press("0")])  # consent by keypad, then ask for a person
    assert result.outcome == "transferred", result.events[-5:]
    return result.call_sid


def baseline_tables(engine: Engine) -> MetaData:
    metadata = MetaData()
    metadata.reflect(engine)
    metadata.remove(metadata.tables[VERSION_TABLE])
    return metadata


def copy_baseline_columns(source: Engine, target: Engine) -> dict[str, int]:
    """Copies every row of the source into the target's (baseline) tables, parents first; returns the rows per
    table."""
    copied = {}
    tables = baseline_tables(target)
    with source.connect() as reading, target.begin() as writing:
        for table in tables.sorted_tables:
            rows = [dict(row) for row in reading.execute(select(table)).mappings()]
            if rows:
                writing.execute(table.insert(), rows)
            copied[table.name] = len(rows)
    return copied


def test_a_baseline_database_filled_by_a_call_upgrades_to_head(database_url, base_settings, speech, tmp_path, request):
    if database_url.startswith("sqlite"):
        settings = settings_with_database(base_settings, tmp_path / "call.db")
    else:
        call_url = request.getfixturevalue("postgres_server").create_database("call")
        settings = dataclasses.replace(
            settings_with_database(base_settings, tmp_path / "unused.db"), database_url=call_url
        )
    call_sid = place_a_call_with_consent(settings, speech)

    call_database = make_engine(settings.database_url)
    baseline = make_engine(database_url)
    assert upgrade_database(baseline, BASELINE_REVISION).after == BASELINE_REVISION
    copied = copy_baseline_columns(call_database, baseline)
    assert copied["calls"] == 1 and copied["consent_event"] == 1 and copied["handoffs"] == 1
    assert verify_chain(baseline).ok

    report = upgrade_database(baseline)
    assert report.after == REVISIONS.head()
    assert report.applied == REVISIONS.pending(BASELINE_REVISION)
    upgraded_tables = MetaData()
    upgraded_tables.reflect(baseline)
    with baseline.connect() as connection:
        assert differences(connection) == []
        for name, rows in copied.items():
            assert connection.execute(select(func.count()).select_from(upgraded_tables.tables[name])).scalar() == rows
    verification = verify_chain(baseline)
    assert verification.ok and verification.checked == 1
    [event] = events_for_call(baseline, call_sid)
    assert (event.decision, event.method) == ("granted", "keypad")
    call_database.dispose()
    baseline.dispose()
