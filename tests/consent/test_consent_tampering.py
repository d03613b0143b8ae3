"""Changes made directly in the database must be caught, and named, by verify_chain."""

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DataError

from consent.ledger import ChainVerification, ConsentRecord, Decision, Method, append_event, verify_chain
from tests.databases import is_postgresql

EVENTS = 10
RawSql = Callable[..., None]


@pytest.fixture
def ledger(engine: Engine, make_record: Callable[..., ConsentRecord]) -> Engine:
    for i in range(1, EVENTS + 1):
        if i % 3 == 0:
            record = make_record(
                call_ref=f"CA{i}", decision=Decision.REFUSED, method=Method.KEYPAD, recognised_answer=None
            )
        else:
            record = make_record(call_ref=f"CA{i}", recognised_answer=f"yes number {i}")
        append_event(engine, record)
    assert verify_chain(engine) == ChainVerification(ok=True, checked=EVENTS)
    return engine


def _assert_broken_at(engine: Engine, seq: int, reason_part: str) -> None:
    result = verify_chain(engine)
    assert not result.ok
    assert result.first_broken_seq == seq, result.reason
    assert reason_part in (result.reason or "")


def test_changed_decision_is_caught(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("UPDATE consent_event SET decision = 'granted' WHERE seq = 6")

    _assert_broken_at(ledger, 6, "event_hash does not match")
    assert verify_chain(ledger).checked == 5


def test_changed_notice_hash_is_caught(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("UPDATE consent_event SET notice_sha256 = :forged WHERE seq = 4", forged="ab" * 32)

    _assert_broken_at(ledger, 4, "event_hash does not match")


def test_changed_timestamp_is_caught(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("UPDATE consent_event SET answered_at = '2025-03-01 09:30:09.000000' WHERE seq = 2")

    _assert_broken_at(ledger, 2, "event_hash does not match")


def test_deleted_event_is_caught(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("DELETE FROM consent_event WHERE seq = 5")

    _assert_broken_at(ledger, 5, "seq 5 is missing")


def test_deleted_first_event_is_caught(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("DELETE FROM consent_event WHERE seq = 1")

    _assert_broken_at(ledger, 1, "seq 1 is missing")


def test_deleted_last_event_is_caught_by_the_head(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("DELETE FROM consent_event WHERE seq = :last", last=EVENTS)

    _assert_broken_at(ledger, EVENTS, f"records {EVENTS} events but the chain ends at seq {EVENTS - 1}")


def test_reordered_events_are_caught(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("UPDATE consent_event SET seq = -1 WHERE seq = 3")
    raw_sql("UPDATE consent_event SET seq = 3 WHERE seq = 7")
    raw_sql("UPDATE consent_event SET seq = 7 WHERE seq = -1")

    _assert_broken_at(ledger, 3, "prev_hash does not match the event_hash of seq 2")


def test_rewritten_head_is_caught(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("UPDATE consent_chain_head SET last_event_hash = :forged", forged="cd" * 32)

    _assert_broken_at(ledger, EVENTS, "does not carry the hash held by the chain head")


def test_event_beyond_the_head_is_caught(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql(
        "UPDATE consent_chain_head SET last_seq = :previous, "
        "last_event_hash = (SELECT event_hash FROM consent_event WHERE seq = :previous)",
        previous=EVENTS - 1,
    )

    _assert_broken_at(ledger, EVENTS, "beyond the chain head")


def test_changed_notice_text_is_caught_at_the_first_event_that_heard_it(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("UPDATE consent_notice_version SET text = 'We may do anything.' WHERE kind = 'consent' AND language = 'en'")

    _assert_broken_at(ledger, 1, "no longer matches its sha256")


def test_unreadable_value_is_reported_not_raised(ledger: Engine, raw_sql: RawSql, database_url: str) -> None:
    if is_postgresql(database_url):
        # PostgreSQL's column types refuse the value, so there is nothing unreadable to report.
        with pytest.raises(DataError, match="not a time"):
            raw_sql("UPDATE consent_event SET notice_played_at = 'not a time' WHERE seq = 8")
        assert verify_chain(ledger) == ChainVerification(ok=True, checked=EVENTS)
        return
    raw_sql("UPDATE consent_event SET notice_played_at = 'not a time' WHERE seq = 8")

    result = verify_chain(ledger)
    assert not result.ok
    assert "cannot be read" in (result.reason or "")


def test_erased_answer_with_digest_kept_still_verifies(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("UPDATE consent_event SET recognised_answer = NULL WHERE method = 'speech'")

    assert verify_chain(ledger) == ChainVerification(ok=True, checked=EVENTS)


def test_changed_answer_is_caught(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("UPDATE consent_event SET recognised_answer = 'no' WHERE seq = 4")

    _assert_broken_at(ledger, 4, "recognised_answer does not match answer_digest")


def test_erased_digest_is_caught(ledger: Engine, raw_sql: RawSql) -> None:
    raw_sql("UPDATE consent_event SET recognised_answer = NULL, answer_digest = NULL WHERE seq = 5")

    _assert_broken_at(ledger, 5, "event_hash does not match")
