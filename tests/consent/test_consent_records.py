from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from consent_helpers import ANSWERED_AT, PLAYED_AT, NoticeMap
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from consent.ledger import ConsentRecord, Decision, InvalidConsentRecord, Method, append_event
from consent.models import ConsentEvent, NoticeVersion

MakeRecord = Callable[..., ConsentRecord]


def test_valid_record_keeps_its_values(make_record: MakeRecord) -> None:
    record = make_record(decision="refused", method="keypad", recognised_answer=None)

    assert record.decision is Decision.REFUSED
    assert record.method is Method.KEYPAD


def test_no_answer_without_any_input_is_valid(make_record: MakeRecord) -> None:
    record = make_record(decision=Decision.NO_ANSWER, method=Method.NONE, recognised_answer=None, answered_at=None)

    assert record.answered_at is None


def test_unclear_spoken_answer_may_be_recorded_as_no_answer(make_record: MakeRecord) -> None:
    record = make_record(decision=Decision.NO_ANSWER, recognised_answer="what do you mean", prompt_count=2)

    assert record.recognised_answer == "what do you mean"


def test_disclosure_may_be_in_another_language(make_record: MakeRecord, notices: NoticeMap) -> None:
    record = make_record(disclosure=notices[("disclosure", "de")])

    assert record.disclosure is notices[("disclosure", "de")]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"call_ref": ""}, "call_ref"),
        ({"call_ref": "   "}, "call_ref"),
        ({"call_ref": "x" * 256}, "call_ref"),
        ({"subject": ""}, "subject"),
        ({"subject": None}, "subject"),
        ({"language": "fr"}, "language"),
        ({"decision": "maybe"}, "decision"),
        ({"method": "telepathy"}, "method"),
        ({"prompt_count": 0}, "prompt_count"),
        ({"prompt_count": True}, "prompt_count"),
        ({"prompt_count": 1.0}, "prompt_count"),
        ({"method": Method.KEYPAD}, "only kept for speech"),
        ({"recognised_answer": ""}, "non-blank"),
        ({"recognised_answer": "y" * 501}, "at most 500"),
        ({"decision": Decision.GRANTED, "method": Method.NONE, "recognised_answer": None}, "needs an answer"),
        ({"notice_played_at": PLAYED_AT.replace(tzinfo=None)}, "timezone-aware"),
        ({"answered_at": ANSWERED_AT.replace(tzinfo=None)}, "timezone-aware"),
        ({"notice_played_at": "2025-03-01T09:30:00Z"}, "must be a datetime"),
        ({"answered_at": None}, "answered_at"),
        ({"answered_at": PLAYED_AT - timedelta(seconds=1)}, "before notice_played_at"),
        ({"notice": None}, "NoticeVersion"),
    ],
)
def test_invalid_record_is_rejected(make_record: MakeRecord, overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidConsentRecord, match=message):
        make_record(**overrides)


def test_no_answer_with_an_answer_time_is_rejected(make_record: MakeRecord) -> None:
    with pytest.raises(InvalidConsentRecord, match="answered_at"):
        make_record(decision=Decision.NO_ANSWER, method=Method.NONE, recognised_answer=None)


def test_disclosure_given_as_consent_notice_is_rejected(make_record: MakeRecord, notices: NoticeMap) -> None:
    with pytest.raises(InvalidConsentRecord, match="disclosure must be a disclosure notice"):
        make_record(disclosure=notices[("consent", "en")])


def test_notice_must_be_the_consent_notice(make_record: MakeRecord, notices: NoticeMap) -> None:
    with pytest.raises(InvalidConsentRecord, match="notice must be a consent notice"):
        make_record(notice=notices[("disclosure", "en")])


def test_notice_in_another_language_is_rejected(make_record: MakeRecord, notices: NoticeMap) -> None:
    with pytest.raises(InvalidConsentRecord, match="'de'"):
        make_record(notice=notices[("consent", "de")])


def test_unsaved_notice_is_rejected(make_record: MakeRecord) -> None:
    unsaved = NoticeVersion(
        kind="consent",
        language="en",
        version=1,
        text="t",
        sha256="0" * 64,
        valid_from=datetime.now(UTC),
    )

    with pytest.raises(InvalidConsentRecord, match="no id"):
        make_record(notice=unsaved)


def test_append_rejects_anything_but_a_record(engine: Engine) -> None:
    with pytest.raises(InvalidConsentRecord, match="ConsentRecord"):
        append_event(engine, {"decision": "granted"})  # type: ignore[arg-type]

    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(ConsentEvent)).one() == 0
