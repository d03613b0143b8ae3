"""Hand-built calls for the dashboard tests: one set, four days in Berlin around the switch to summer time, with
the figures each day should show written next to them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from sqlmodel import Session

from voice_app.models import AnswerLatency, Call, CallEvent, Turn

_sids = itertools.count(1)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def add_call(
    engine, started: str, *, decision=None, notice=False, outcome=None, reason=None, latencies=(), turn_latency=None
) -> int:
    with Session(engine) as session:
        call = Call(
            call_sid=f"CA{next(_sids):08d}{'d' * 24}",
            caller="p" * 64,
            called_number="+4930555010",
            language="de",
            consent_decision=decision,
            outcome=outcome,
            handoff_reason=reason,
            started_at=utc(started),
        )
        session.add(call)
        session.flush()
        if notice:
            # Twice, as when the notice is played again in the other language: still one call that reached it.
            session.add(CallEvent(call_id=call.id, kind="notice_played", detail="consent de v1"))
            session.add(CallEvent(call_id=call.id, kind="notice_played", detail="consent en v1"))
        for latency in latencies:
            session.add(AnswerLatency(call_id=call.id, latency_ms=latency, at=utc(started)))
        if turn_latency is not None:  # the dashboard reads AnswerLatency; a turn's copy must not count twice
            session.add(
                Turn(
                    call_id=call.id,
                    transcript="x",
                    transcript_confidence=0.9,
                    language="de",
                    intent="x",
                    intent_confidence=0.9,
                    route="answer",
                    answer_latency_ms=turn_latency,
                )
            )
        session.commit()
        return call.id


FIRST_DAY, LAST_DAY = "2026-03-27", "2026-03-30"


def seed_four_days(engine) -> None:
    """Berlin is UTC+1 until 2026-03-29 01:00 UTC, UTC+2 after. Per Berlin day, 27th to 30th:
    calls 3 2 2 2; reached consent 3 1 2 2, said yes 1 0 2 2; finished by the assistant 1 0 0 2, handed to a
    person 2 1 2 0, no outcome 0 1 0 0; latencies [800 1200 1500] [] [2000 1000 3000 500] [600].
    Transfer reasons: caller_asked 2, consent_refused 1, consent_silence 1, consent_withdrawn 1."""
    add_call(engine, "2026-03-26 22:59", decision="granted", notice=True, outcome="hangup", latencies=[9999])  # 26th
    add_call(
        engine,
        "2026-03-26 23:30",
        decision="granted",
        notice=True,
        outcome="hangup",
        latencies=[800, 1200],
        turn_latency=1200,
    )  # 00:30 on the 27th in Berlin
    add_call(
        engine,
        "2026-03-27 10:00",
        decision="refused",
        notice=True,
        outcome="transfer",
        reason="consent_refused",
        latencies=[1500],
    )
    add_call(
        engine, "2026-03-27 22:59", decision="no_answer", notice=True, outcome="transfer", reason="consent_silence"
    )  # 23:59 on the 27th
    add_call(engine, "2026-03-27 23:00", outcome="transfer", reason="caller_asked")  # 0 pressed in the greeting; 28th
    add_call(engine, "2026-03-28 12:00", notice=True)  # hung up at the consent question
    add_call(
        engine,
        "2026-03-28 23:30",
        decision="withdrawn",
        notice=True,
        outcome="transfer",
        reason="consent_withdrawn",
        latencies=[2000],
    )  # 00:30 on the 29th (still winter time)
    add_call(
        engine,
        "2026-03-29 21:59",
        decision="granted",
        notice=True,
        outcome="transfer",
        reason="caller_asked",
        latencies=[1000, 3000, 500],
    )  # 23:59 on the 29th (summer time)
    add_call(engine, "2026-03-29 22:00", decision="granted", outcome="hangup", latencies=[600])  # 00:00 on the 30th
    add_call(engine, "2026-03-30 21:59", decision="granted", notice=True, outcome="hangup")  # 23:59 on the 30th
    add_call(engine, "2026-03-30 22:00", decision="granted", notice=True, outcome="hangup", latencies=[9999])  # 31st
