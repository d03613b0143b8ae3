"""What compliance staff do with the ledger: search it, export it with a manifest and check that export later,
erase a caller's answers, let retention delete the oldest proof, read a call's evidence timeline."""

import csv
import io
import json
from datetime import date, timedelta

import pytest
from consent_helpers import ANSWERED_AT, PLAYED_AT

from consent.digests import answer_digest
from consent.evidence import ActivityKind, CallActivity, FlagCode, build_timeline
from consent.exports import build_export, check_export
from consent.ledger import (
    ChainVerification,
    InvalidLedgerQuery,
    append_event,
    chain_head,
    erase_answers,
    events_for_call,
    prune_events_recorded_before,
    verify_chain,
)
from consent.search import EventFilter, count_events, find_events, parse_filter
from consent.timestamps import utc_now


@pytest.fixture
def ledger(engine, make_record, notices):
    """Six events: two callers, both languages, every decision."""
    records = [
        make_record(call_ref="CA1", subject="alice"),
        make_record(call_ref="CA2", subject="bob", decision="refused", recognised_answer="no thanks"),
        make_record(call_ref="CA3", subject="alice", method="keypad", recognised_answer=None),
        make_record(
            call_ref="CA4",
            subject="carol",
            language="de",
            notice=notices[("consent", "de")],
            disclosure=notices[("disclosure", "de")],
            recognised_answer="ja",
        ),
        make_record(
            call_ref="CA5", subject="bob", decision="no_answer", method="none", recognised_answer=None, answered_at=None
        ),
        make_record(call_ref="CA1", subject="alice", decision="withdrawn", recognised_answer="delete my data"),
    ]
    for record in records:
        append_event(engine, record)
    return engine


def test_search_by_each_filter(ledger):
    assert count_events(ledger, EventFilter()) == 6
    assert [e.call_ref for e in find_events(ledger, EventFilter(subject="alice"), limit=10)] == ["CA1", "CA3", "CA1"]
    assert [e.seq for e in find_events(ledger, EventFilter(decision="refused"), limit=10)] == [2]
    assert [e.seq for e in find_events(ledger, EventFilter(language="de"), limit=10)] == [4]
    assert [e.seq for e in find_events(ledger, EventFilter(call_ref="CA1"), limit=10)] == [6, 1]
    assert count_events(ledger, EventFilter(notice_version=1)) == 6
    assert count_events(ledger, EventFilter(notice_version=2)) == 0
    today = utc_now().date()
    assert count_events(ledger, EventFilter(date_from=today, date_to=today)) == 6
    assert count_events(ledger, EventFilter(date_to=today - timedelta(days=1))) == 0
    assert [e.seq for e in find_events(ledger, EventFilter(), limit=2, offset=1)] == [5, 4]


def test_dates_are_whole_days_in_the_given_time_zone(ledger, raw_sql):
    # 23:30 UTC on 1 March is already 2 March in Berlin.
    raw_sql("UPDATE consent_event SET recorded_at = '2025-03-01 23:30:00.000000' WHERE seq = 1")
    berlin_2nd = EventFilter(date_from=date(2025, 3, 2), date_to=date(2025, 3, 2), timezone="Europe/Berlin")
    utc_1st = EventFilter(date_from=date(2025, 3, 1), date_to=date(2025, 3, 1))
    assert [e.seq for e in find_events(ledger, berlin_2nd, limit=10)] == [1]
    assert [e.seq for e in find_events(ledger, utc_1st, limit=10)] == [1]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"date_from": "22.11.2026"}, "must be a date like"),
        ({"date_from": "2026-11-22", "date_to": "2026-11-01"}, "end date is before"),
        ({"date_from": "2000-01-01", "date_to": "2026-01-01"}, "at most"),
        ({"decision": "maybe"}, "decision must be one of"),
        ({"language": "fr"}, "language must be one of"),
        ({"notice_version": "1; DROP TABLE"}, "whole number"),
        ({"notice_version": "0"}, "whole number"),
        ({"call_ref": "x" * 300}, "at most 255"),
    ],
)
def test_bad_filters_are_refused_with_a_clear_message(fields, message):
    with pytest.raises(InvalidLedgerQuery, match=message):
        parse_filter(fields, "UTC")


def test_unknown_time_zone_is_refused():
    with pytest.raises(InvalidLedgerQuery, match="unknown timezone"):
        EventFilter(timezone="Mars/Olympus")


def test_blank_fields_mean_any(ledger):
    event_filter = parse_filter({"decision": " ", "language": "", "date_from": ""}, "UTC")
    assert event_filter == EventFilter() and count_events(ledger, event_filter) == 6


@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_export_manifest_describes_the_file_and_checks_out(ledger, export_format):
    export = build_export(ledger, EventFilter(subject="alice"), export_format, exported_by="compliance-1")

    manifest = export.manifest
    assert manifest["row_count"] == 3 and manifest["filters"] == {"subject": "alice", "timezone": "UTC"}
    assert manifest["chain_head"] == {"seq": 6, "event_hash": chain_head(ledger).last_event_hash}
    assert manifest["chain_verified"] is True and manifest["exported_by"] == "compliance-1"
    assert export.file_name.endswith(f".{export_format}")
    rows = (
        list(csv.DictReader(io.StringIO(export.content.decode())))
        if export_format == "csv"
        else json.loads(export.content)["events"]
    )
    assert [int(r["seq"]) for r in rows] == [1, 3, 6]
    assert {r["decision"] for r in rows} == {"granted", "withdrawn"}
    if export_format == "json":
        texts = {(n["kind"], n["language"]): n["text"] for n in json.loads(export.content)["notices"]}
        assert texts[("consent", "en")].startswith("May we process")
    assert check_export(ledger, export.content, json.loads(export.manifest_bytes())) == []


def test_a_changed_export_file_is_caught(ledger):
    export = build_export(ledger, EventFilter(), "csv", exported_by="c")
    tampered = export.content.replace(b"refused", b"granted")
    problems = check_export(ledger, tampered, export.manifest)
    assert any("SHA-256 differs" in p for p in problems)


def test_a_rewritten_ledger_no_longer_matches_an_earlier_export(ledger, raw_sql):
    export = build_export(ledger, EventFilter(), "json", exported_by="c")
    raw_sql("UPDATE consent_event SET event_hash = :forged WHERE seq = 2", forged="f" * 64)
    problems = check_export(ledger, export.content, export.manifest)
    assert problems == ["event seq 2 differs between the export and the ledger"]


def test_export_cells_cannot_become_spreadsheet_formulas(engine, make_record):
    append_event(engine, make_record(call_ref='=HYPERLINK("http://x")'))
    export = build_export(engine, EventFilter(), "csv", exported_by="c")
    assert b"'=HYPERLINK" in export.content


def test_events_appended_after_the_head_was_read_are_not_in_the_export(ledger, make_record):
    export = build_export(ledger, EventFilter(), "csv", exported_by="c")
    append_event(ledger, make_record(call_ref="CA9"))
    assert export.manifest["row_count"] == 6
    assert check_export(ledger, export.content, export.manifest) == []


def test_erasing_answers_keeps_the_proof_and_the_chain(ledger):
    before = {e.seq: e for e in events_for_call(ledger, "CA1")}
    assert erase_answers(ledger, subject="alice") == 2
    after = {e.seq: e for e in events_for_call(ledger, "CA1")}
    for seq, event in after.items():
        assert event.recognised_answer is None and event.answer_salt is None
        assert (event.decision, event.notice_version_id, event.answered_at, event.answer_digest) == (
            before[seq].decision,
            before[seq].notice_version_id,
            before[seq].answered_at,
            before[seq].answer_digest,
        )
    assert verify_chain(ledger) == ChainVerification(ok=True, checked=6)
    bob = events_for_call(ledger, "CA2")[0]
    assert bob.recognised_answer == "no thanks"
    assert bob.answer_digest == answer_digest(bob.answer_salt, "no thanks")
    assert erase_answers(ledger, subject="alice") == 0


def test_erasing_needs_a_subject_or_a_time(ledger):
    with pytest.raises(InvalidLedgerQuery):
        erase_answers(ledger)


def _recorded_at(engine, seq):
    return next(e for e in find_events(engine, EventFilter(), limit=100) if e.seq == seq).recorded_at


def test_retention_deletes_the_oldest_events_and_the_rest_still_verifies(ledger, make_record):
    cutoff = _recorded_at(ledger, 3)  # seq 1 and 2 were recorded before it

    assert prune_events_recorded_before(ledger, cutoff) == 2
    assert prune_events_recorded_before(ledger, cutoff) == 0
    head = chain_head(ledger)
    assert (head.base_seq, head.last_seq) == (2, 6)
    assert verify_chain(ledger) == ChainVerification(ok=True, checked=4)
    assert count_events(ledger, EventFilter()) == 4

    append_event(ledger, make_record(call_ref="CA7"))
    assert verify_chain(ledger) == ChainVerification(ok=True, checked=5)
    assert prune_events_recorded_before(ledger, utc_now() + timedelta(seconds=1)) == 5
    assert verify_chain(ledger) == ChainVerification(ok=True, checked=0)
    append_event(ledger, make_record(call_ref="CA8"))
    assert verify_chain(ledger) == ChainVerification(ok=True, checked=1)


def test_deleting_events_behind_the_ledgers_back_is_still_caught_after_retention(ledger, raw_sql):
    prune_events_recorded_before(ledger, _recorded_at(ledger, 2))
    raw_sql("DELETE FROM consent_event WHERE seq = 2")
    result = verify_chain(ledger)
    assert not result.ok and result.first_broken_seq == 2


def test_a_forged_anchor_is_caught(ledger, raw_sql):
    prune_events_recorded_before(ledger, _recorded_at(ledger, 2))
    raw_sql("UPDATE consent_chain_head SET base_hash = :forged", forged="e" * 64)
    result = verify_chain(ledger)
    assert not result.ok and result.first_broken_seq == 2 and "anchor" in result.reason


def _activities(*items):
    return [CallActivity(kind, PLAYED_AT + timedelta(seconds=offset)) for kind, offset in items]


def test_timeline_of_a_clean_call_shows_the_notice_text_and_has_no_flags(ledger):
    activities = _activities(
        (ActivityKind.CALL_STARTED, -10),
        (ActivityKind.DISCLOSURE_PLAYED, -2),
        (ActivityKind.NOTICE_PLAYED, 2),
        (ActivityKind.TRANSCRIPT_STORED, 8),
        (ActivityKind.TRANSCRIPT_STORED, 12),
        (ActivityKind.CALL_ENDED, 20),
    )
    timeline = build_timeline(ledger, "CA3", activities, verify_chain(ledger))
    kinds = [entry.kind for entry in timeline.entries]
    assert kinds == [
        "call_started",
        "disclosure_played",
        "notice_version",
        "notice_played",
        "consent_granted",
        "transcript_stored",
        "call_ended",
    ]
    notice_entry = timeline.entries[kinds.index("notice_played")]
    assert notice_entry.notice_text.startswith("May we process your call data?")
    assert timeline.entries[kinds.index("disclosure_played")].notice_text.startswith("Hello, you are speaking")
    assert "1 more later" in timeline.entries[kinds.index("transcript_stored")].detail
    assert timeline.flags == []


def test_timeline_flags(ledger, raw_sql):
    no_disclosure = _activities((ActivityKind.CALL_STARTED, -10), (ActivityKind.TRANSCRIPT_STORED, 1))
    flags = build_timeline(ledger, "CA3", no_disclosure, verify_chain(ledger)).flags
    # Consent on CA3 was answered at ANSWERED_AT, 4 s after the notice: a transcript at 1 s came before it.
    assert {f.code for f in flags} == {FlagCode.PROCESSING_BEFORE_CONSENT, FlagCode.NO_DISCLOSURE}

    refused = _activities((ActivityKind.DISCLOSURE_PLAYED, -2), (ActivityKind.TRANSCRIPT_STORED, 9))
    flags = build_timeline(ledger, "CA2", refused, verify_chain(ledger)).flags
    assert [f.code for f in flags] == [FlagCode.TRANSCRIPT_WITHOUT_CONSENT]

    raw_sql(
        "UPDATE consent_event SET answered_at = :later WHERE seq = 6",
        later=(ANSWERED_AT + timedelta(seconds=30)).strftime("%Y-%m-%d %H:%M:%S.%f"),
    )
    after_withdrawal = _activities((ActivityKind.DISCLOSURE_PLAYED, -2), (ActivityKind.TRANSCRIPT_STORED, 60))
    flags = build_timeline(ledger, "CA1", after_withdrawal, verify_chain(ledger)).flags
    codes = [f.code for f in flags]
    assert FlagCode.TRANSCRIPT_AFTER_WITHDRAWAL in codes and FlagCode.BROKEN_CHAIN in codes
    broken = next(f for f in flags if f.code is FlagCode.BROKEN_CHAIN)
    assert "seq 6" in broken.message and "unproven" in broken.message
