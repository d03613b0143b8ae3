from collections.abc import Callable
from datetime import timedelta, timezone

import pytest
from consent_helpers import ANSWERED_AT, PLAYED_AT, NoticeMap
from sqlalchemy import Engine

from consent.digests import answer_digest, sha256_hex
from consent.ledger import (
    ChainHeadMissing,
    ChainVerification,
    ConsentRecord,
    Decision,
    InvalidLedgerQuery,
    Method,
    append_event,
    events_for_call,
    latest_events,
    verify_chain,
)
from consent.models import GENESIS_HASH
from tests.databases import query_sql

MakeRecord = Callable[..., ConsentRecord]


def test_appended_event_is_committed_and_starts_the_chain(
    engine: Engine, database_url: str, make_record: MakeRecord, notices: NoticeMap
) -> None:
    event = append_event(engine, make_record())

    # Read through a separate connection: only committed data is visible there.
    (row,) = query_sql(
        database_url, "SELECT seq, decision, method, notice_sha256, prev_hash, event_hash FROM consent_event"
    )
    assert tuple(row) == (1, "granted", "speech", notices[("consent", "en")].sha256, GENESIS_HASH, event.event_hash)
    assert event.seq == 1
    assert event.disclosure_sha256 == notices[("disclosure", "en")].sha256
    assert event.answer_salt is not None
    assert event.answer_digest == answer_digest(event.answer_salt, "yes please")
    assert event.answer_digest != sha256_hex("yes please")
    assert verify_chain(engine).ok


def test_each_event_links_to_the_previous_one(engine: Engine, make_record: MakeRecord) -> None:
    events = [append_event(engine, make_record(call_ref=f"CA{i}")) for i in range(3)]

    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].prev_hash == events[0].event_hash
    assert events[2].prev_hash == events[1].event_hash
    assert len({e.event_hash for e in events}) == 3
    assert verify_chain(engine).ok
    assert verify_chain(engine).checked == 3


def test_empty_ledger_verifies(engine: Engine) -> None:
    assert verify_chain(engine) == ChainVerification(ok=True, checked=0, first_broken_seq=None, reason=None)


def test_timestamps_read_back_as_the_same_utc_instants(engine: Engine, make_record: MakeRecord) -> None:
    zurich = timezone(timedelta(hours=2))
    append_event(
        engine,
        make_record(notice_played_at=PLAYED_AT.astimezone(zurich), answered_at=ANSWERED_AT.astimezone(zurich)),
    )

    stored = events_for_call(engine, "CA0001")[0]
    assert stored.notice_played_at == PLAYED_AT
    assert stored.notice_played_at.utcoffset() == timedelta(0)
    assert stored.answered_at == ANSWERED_AT
    assert stored.recorded_at.tzinfo is not None
    assert verify_chain(engine).ok


def test_events_without_answer_or_disclosure_verify(engine: Engine, make_record: MakeRecord) -> None:
    append_event(
        engine,
        make_record(
            decision=Decision.NO_ANSWER,
            method=Method.NONE,
            recognised_answer=None,
            answered_at=None,
            disclosure=None,
            prompt_count=3,
        ),
    )
    append_event(engine, make_record(decision=Decision.REFUSED, method=Method.KEYPAD, recognised_answer=None))

    assert verify_chain(engine).ok


def test_latest_events_are_newest_first(engine: Engine, make_record: MakeRecord) -> None:
    for i in range(5):
        append_event(engine, make_record(call_ref=f"CA{i}"))

    assert [e.seq for e in latest_events(engine, limit=3)] == [5, 4, 3]
    assert len(latest_events(engine)) == 5


def test_events_for_call_are_oldest_first(engine: Engine, make_record: MakeRecord) -> None:
    append_event(engine, make_record(call_ref="CA-a"))
    append_event(engine, make_record(call_ref="CA-b"))
    append_event(engine, make_record(call_ref="CA-a", decision=Decision.WITHDRAWN, recognised_answer="stop"))

    events = events_for_call(engine, "CA-a")
    assert [(e.seq, e.decision) for e in events] == [(1, "granted"), (3, "withdrawn")]
    assert events_for_call(engine, "CA-unknown") == []


@pytest.mark.parametrize("limit", [0, -1, 1001, True, "5"])
def test_latest_events_rejects_bad_limit(engine: Engine, limit: object) -> None:
    with pytest.raises(InvalidLedgerQuery, match="limit"):
        latest_events(engine, limit=limit)  # type: ignore[arg-type]


@pytest.mark.parametrize("call_ref", ["", "  ", None])
def test_events_for_call_rejects_blank_ref(engine: Engine, call_ref: object) -> None:
    with pytest.raises(InvalidLedgerQuery, match="call_ref"):
        events_for_call(engine, call_ref)  # type: ignore[arg-type]


def test_append_refuses_to_restart_a_chain_whose_head_is_gone(
    engine: Engine, make_record: MakeRecord, raw_sql: Callable[..., None]
) -> None:
    append_event(engine, make_record())
    raw_sql("DELETE FROM consent_chain_head")

    with pytest.raises(ChainHeadMissing):
        append_event(engine, make_record())
    result = verify_chain(engine)
    assert (result.ok, result.first_broken_seq) == (False, 2)
    assert "head row is missing" in (result.reason or "")
