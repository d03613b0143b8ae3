"""The hand-over records: idempotent first-wins writes, and the guards on what an agent may be shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from console_support import PASSWORD, new_call
from sqlmodel import Session, select

from voice_app import calls
from voice_app.database import create_schema, make_engine
from voice_app.handoff.models import CallbackRequest, Handoff
from voice_app.handoff.queries import (
    finish_handoff,
    handoff_detail,
    mark_agent_answered,
    mark_callback_done,
    open_callbacks,
    recent_handoffs,
    record_handoff,
    request_callback,
)
from voice_app.models import utcnow
from voice_app.users.management import create_user


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


def handoff_for(engine, call, **changes) -> Handoff:
    fields = dict(
        reason="caller_asked",
        summary="Caller asked about a declined card payment.",
        transcript_excerpt="my card was declined",
        customer_name="Erika Mustermann",
        verified=True,
        consent_decision=call.consent_decision,
        language="en",
        dial_target="+4930123456789",
    )
    fields.update(changes)
    return record_handoff(engine, call.id, **fields)


def test_recording_twice_keeps_the_first_hand_over(engine):
    call = new_call(engine, consent="granted")
    first = handoff_for(engine, call)
    second = handoff_for(engine, call, summary="a different summary", reason="silence")
    assert second.id == first.id
    assert (second.summary, second.reason) == ("Caller asked about a declined card payment.", "caller_asked")
    with Session(engine) as session:
        assert len(session.exec(select(Handoff)).all()) == 1


def test_an_unverified_callers_name_is_never_stored(engine):
    handoff = handoff_for(engine, new_call(engine, consent="granted"), verified=False)
    assert handoff.customer_name is None and handoff.verified is False


@pytest.mark.parametrize(
    ("call_consent", "stated_consent"),
    [(None, None), ("refused", "refused"), ("no_answer", "no_answer"), ("refused", "granted"), ("granted", None)],
)
def test_the_callers_words_are_stored_only_with_granted_consent(engine, call_consent, stated_consent):
    call = new_call(engine, consent=call_consent)
    handoff = handoff_for(engine, call, consent_decision=stated_consent)
    assert handoff.transcript_excerpt is None


def test_with_consent_the_excerpt_is_kept(engine):
    handoff = handoff_for(engine, new_call(engine, consent="granted"))
    assert handoff.transcript_excerpt == "my card was declined"
    assert handoff.customer_name == "Erika Mustermann"


@pytest.mark.parametrize(
    "change",
    [{"reason": "bored"}, {"language": "fr"}, {"summary": "   "}, {"consent_decision": "maybe"}, {"dial_target": ""}],
)
def test_malformed_hand_overs_are_refused(engine, change):
    with pytest.raises(ValueError):
        handoff_for(engine, new_call(engine), **change)


def test_a_hand_over_needs_an_existing_call(engine):
    call = new_call(engine)
    call.id = 999_999
    with pytest.raises(LookupError):
        handoff_for(engine, call)


def test_answer_and_outcome_are_first_wins(engine):
    call = new_call(engine)
    handoff_for(engine, call)
    answered, later = utcnow(), utcnow() + timedelta(seconds=30)
    assert mark_agent_answered(engine, call.id, answered) is True
    assert mark_agent_answered(engine, call.id, later) is False
    assert finish_handoff(engine, call.id, "connected", later) is True
    assert finish_handoff(engine, call.id, "failed", later) is False
    (stored,) = recent_handoffs(engine, 10)
    assert stored.outcome == "connected"
    assert stored.agent_answered_at.replace(tzinfo=None) == answered.replace(tzinfo=None)
    with pytest.raises(ValueError):
        finish_handoff(engine, call.id, "exploded", later)
    assert mark_agent_answered(engine, new_call(engine).id, answered) is False  # a call without a hand-over


def test_a_callback_is_requested_once_per_call_and_closed_once(engine):
    call = new_call(engine)
    handoff = handoff_for(engine, call)
    callback = request_callback(engine, call.id)
    assert request_callback(engine, call.id).id == callback.id
    assert [item.handoff.id for item in open_callbacks(engine)] == [handoff.id]

    agent = create_user(engine, "agent.one", PASSWORD, "agent")
    assert mark_callback_done(engine, callback.id, agent.id, "  called back, resolved  ") is True
    assert mark_callback_done(engine, callback.id, agent.id, "again") is False
    assert open_callbacks(engine) == []
    with Session(engine) as session:
        closed = session.get(CallbackRequest, callback.id)
    assert (closed.status, closed.done_by, closed.note) == ("done", agent.id, "called back, resolved")
    assert closed.done_at is not None
    with pytest.raises(ValueError):
        mark_callback_done(engine, callback.id, agent.id, "x" * 501)
    assert mark_callback_done(engine, 999_999, agent.id, "") is False


def test_a_callback_needs_a_hand_over(engine):
    with pytest.raises(LookupError):
        request_callback(engine, new_call(engine).id)


def test_recent_hand_overs_are_newest_first_and_can_start_after_one(engine):
    ids = [handoff_for(engine, new_call(engine)).id for _ in range(4)]
    assert [handoff.id for handoff in recent_handoffs(engine, 10)] == ids[::-1]
    assert [handoff.id for handoff in recent_handoffs(engine, 2)] == ids[:1:-1]
    assert [handoff.id for handoff in recent_handoffs(engine, 10, since_id=ids[1])] == [ids[3], ids[2]]
    for bad_limit in (0, 501):
        with pytest.raises(ValueError):
            recent_handoffs(engine, bad_limit)


def test_the_detail_has_timeline_and_turns_only_with_consent(engine):
    with_consent = new_call(engine, consent="granted")
    calls.add_event(engine, with_consent.id, "consent_recorded", "granted seq 1")
    calls.store_turn(
        engine,
        with_consent.id,
        transcript="my card was declined",
        confidence=0.9,
        language="en",
        intent="payment_status",
        intent_confidence=0.8,
        route="human",
        reply="I'll connect you.",
    )
    calls.add_event(engine, with_consent.id, "transfer", "out_of_scope")
    detail = handoff_detail(engine, handoff_for(engine, with_consent).id)
    assert [event.kind for event in detail.timeline] == ["consent_recorded", "transfer"]
    assert [turn.transcript for turn in detail.turns] == ["my card was declined"]
    assert detail.consent_granted and detail.transcript_excerpt == "my card was declined"

    # Consent withdrawn after the hand-over: the words kept earlier are no longer shown.
    calls.record_consent_decision(engine, with_consent.id, "withdrawn")
    withdrawn = handoff_detail(engine, detail.handoff.id)
    assert withdrawn.turns == [] and withdrawn.transcript_excerpt is None and not withdrawn.consent_granted

    assert handoff_detail(engine, 999_999) is None
