"""The dashboard's figures on a hand-built set of calls in a real database (SQLite and PostgreSQL): days counted in
Berlin time (also across the switch to summer time), consent rate edge cases, calls finished without a person,
transfer reasons, answer latency, empty ranges, and queries that use nothing only SQLite understands."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from tests.dashboard_data import add_call, seed_four_days, utc
from voice_app import calls
from voice_app.database import create_schema, make_engine
from voice_app.reports.metrics import (
    MAX_RANGE_DAYS,
    DateRange,
    Period,
    RangeError,
    calls_query,
    compute_metrics,
    default_range,
    latencies_query,
    notice_played_query,
    percentile,
    period_for,
    stages_query,
)

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def engine(module_database_url):
    engine = make_engine(module_database_url)
    create_schema(engine)
    seed_four_days(engine)
    yield engine
    engine.dispose()


RANGE = DateRange(date(2026, 3, 27), date(2026, 3, 30), BERLIN)


def test_calls_belong_to_the_berlin_day_they_started_on(engine):
    metrics = compute_metrics(engine, RANGE, Period.DAY)
    assert metrics.period is Period.DAY
    assert [(bucket.first, bucket.calls) for bucket in metrics.buckets] == [
        (date(2026, 3, 27), 3),
        (date(2026, 3, 28), 2),
        (date(2026, 3, 29), 2),
        (date(2026, 3, 30), 2),
    ]
    assert metrics.total.calls == 9


def test_consent_rate_counts_who_reached_the_question(engine):
    metrics = compute_metrics(engine, RANGE, Period.DAY)
    day = {bucket.first.day: bucket for bucket in metrics.buckets}
    # 27th: yes, no, no answer. 28th: 0 in the greeting (never reached it), hung up at it. 29th: yes then
    # withdrawn, yes. 30th: two yes, one without the notice event (a decision alone proves it was reached).
    assert [(day[d].consent_granted, day[d].consent_reached) for d in (27, 28, 29, 30)] == [
        (1, 3),
        (0, 1),
        (2, 2),
        (2, 2),
    ]
    assert day[28].consent_rate == 0.0 and day[29].consent_rate == 1.0
    assert metrics.total.consent_rate == pytest.approx(5 / 8)
    assert metrics.consent_decisions == {"granted": 4, "withdrawn": 1, "refused": 1, "no_answer": 1, "hung_up": 1}


def test_share_finished_without_a_person_leaves_out_calls_without_an_outcome(engine):
    metrics = compute_metrics(engine, RANGE, Period.DAY)
    day = {bucket.first.day: bucket for bucket in metrics.buckets}
    assert [(day[d].finished_by_assistant, day[d].handed_to_person, day[d].no_outcome) for d in (27, 28, 29, 30)] == [
        (1, 2, 0),
        (0, 1, 1),
        (0, 2, 0),
        (2, 0, 0),
    ]
    assert day[28].without_person_share == 0.0 and day[30].without_person_share == 1.0
    assert day[27].without_person_share == pytest.approx(1 / 3)
    assert metrics.total.without_person_share == pytest.approx(3 / 8)
    assert metrics.total.no_outcome == 1


def test_transfer_reasons_most_frequent_first(engine):
    assert compute_metrics(engine, RANGE).transfer_reasons == [
        ("caller_asked", 2),
        ("consent_refused", 1),
        ("consent_silence", 1),
        ("consent_withdrawn", 1),
    ]


def test_answer_latency_median_and_p90_per_day_and_overall(engine):
    metrics = compute_metrics(engine, RANGE, Period.DAY)
    assert [(b.latency.count, b.latency.median_ms, b.latency.p90_ms) for b in metrics.buckets] == [
        (3, 1200, pytest.approx(1440)),
        (0, None, None),
        (4, 1500, pytest.approx(2700)),
        (1, 600, 600),
    ]
    assert (metrics.total.latency.count, metrics.total.latency.median_ms) == (8, 1100)
    assert metrics.total.latency.p90_ms == pytest.approx(2300)  # 9999 on the 26th and the 31st: outside


def test_weeks_and_months_are_clipped_to_the_range(engine):
    weeks = compute_metrics(engine, RANGE, Period.WEEK)
    assert [(b.first, b.last, b.calls) for b in weeks.buckets] == [
        (date(2026, 3, 27), date(2026, 3, 29), 7),
        (date(2026, 3, 30), date(2026, 3, 30), 2),
    ]
    assert weeks.buckets[0].latency.median_ms == 1200  # of 500 800 1000 1200 1500 2000 3000 over three days
    months = compute_metrics(engine, DateRange(date(2026, 2, 20), date(2026, 4, 2), BERLIN), Period.MONTH)
    assert [(b.first, b.last, b.calls) for b in months.buckets] == [
        (date(2026, 2, 20), date(2026, 2, 28), 0),
        (date(2026, 3, 1), date(2026, 3, 31), 11),
        (date(2026, 4, 1), date(2026, 4, 2), 0),
    ]


def test_an_empty_range_gives_zeros_and_no_rates(engine):
    metrics = compute_metrics(engine, DateRange(date(2025, 1, 1), date(2025, 1, 3), BERLIN))
    assert metrics.empty and len(metrics.buckets) == 3
    assert all(bucket.calls == 0 and bucket.latency.count == 0 for bucket in metrics.buckets)
    assert metrics.total.consent_rate is None and metrics.total.without_person_share is None
    assert metrics.total.latency.median_ms is None
    assert metrics.transfer_reasons == [] and set(metrics.consent_decisions.values()) == {0}


def test_no_one_reaching_the_question_is_no_rate_but_only_no_answers_is_zero(database_url):
    engine = make_engine(database_url)
    create_schema(engine)
    one_day = DateRange(date(2026, 5, 4), date(2026, 5, 4), BERLIN)
    add_call(engine, "2026-05-04 08:00", outcome="transfer", reason="caller_asked")
    assert compute_metrics(engine, one_day).total.consent_rate is None
    add_call(
        engine, "2026-05-04 09:00", decision="no_answer", notice=True, outcome="transfer", reason="consent_silence"
    )
    add_call(engine, "2026-05-04 10:00", decision="refused", notice=True, outcome="transfer", reason="consent_refused")
    total = compute_metrics(engine, one_day).total
    assert (total.consent_granted, total.consent_reached, total.consent_rate) == (0, 2, 0.0)


def test_stage_times_are_summarised_over_the_answers_that_timed_them(database_url):
    engine = make_engine(database_url)
    create_schema(engine)
    one_day = DateRange(date(2026, 5, 4), date(2026, 5, 4), BERLIN)
    call_id = add_call(engine, "2026-05-04 08:00", latencies=[900])  # stored before stages were timed
    for end_of_turn, transcription in ((200, 100), (260, 300), (3000, 500)):
        calls.record_answer_latency(
            engine,
            call_id,
            transcription + 150,
            stages_ms={"end_of_turn": end_of_turn, "transcription": transcription, "synthesis": 40},
        )
    with pytest.raises(ValueError, match="unknown turn stages"):
        calls.record_answer_latency(engine, call_id, 500, stages_ms={"thinking": 5})

    stages = dict(compute_metrics(engine, one_day).stages)

    assert list(stages) == ["end_of_turn", "transcription", "synthesis"]  # in the order of a turn; none untimed
    assert (stages["end_of_turn"].count, stages["end_of_turn"].median_ms) == (3, 260)
    assert stages["transcription"].p90_ms == pytest.approx(460)
    assert compute_metrics(engine, one_day).total.latency.count == 4


def test_a_day_is_local_midnight_to_midnight_even_when_the_clocks_change():
    assert DateRange(date(2026, 3, 29), date(2026, 3, 29), BERLIN).utc_bounds() == (
        utc("2026-03-28 23:00"),
        utc("2026-03-29 22:00"),
    )  # 23 hours
    assert DateRange(date(2026, 10, 25), date(2026, 10, 25), BERLIN).utc_bounds() == (
        utc("2026-10-24 22:00"),
        utc("2026-10-25 23:00"),
    )  # 25 hours


def test_ranges_are_checked_and_the_default_is_the_last_30_days():
    with pytest.raises(RangeError, match="after the end"):
        DateRange(date(2026, 3, 2), date(2026, 3, 1), BERLIN)
    with pytest.raises(RangeError, match=f"at most {MAX_RANGE_DAYS} days"):
        DateRange(date(2025, 1, 1), date(2026, 1, 2), BERLIN)
    assert DateRange(date(2025, 1, 2), date(2026, 1, 2), BERLIN).days == MAX_RANGE_DAYS
    default = default_range(BERLIN, today=date(2026, 3, 30))
    assert (default.first, default.last, default.days) == (date(2026, 3, 1), date(2026, 3, 30), 30)
    assert default_range(BERLIN).last == datetime.now(BERLIN).date()
    assert [
        period_for(DateRange(date(2026, 1, 1), date(2026, 1, 1) + timedelta(days=n - 1), BERLIN))
        for n in (1, 31, 32, 186, 187, 366)
    ] == ["day", "day", "week", "week", "month", "month"]


def test_percentiles_interpolate_between_ranks():
    assert percentile([700], 0.9) == 700
    assert percentile([100, 200], 0.5) == 150
    assert percentile(list(range(1, 11)), 0.9) == pytest.approx(9.1)
    with pytest.raises(ValueError):
        percentile([], 0.5)


@pytest.mark.parametrize("query", [calls_query, notice_played_query, latencies_query, stages_query])
def test_the_queries_use_no_database_specific_date_functions(query):
    start, end = RANGE.utc_bounds()
    for dialect in (postgresql.dialect(), sqlite.dialect()):
        sql = str(query(start, end).compile(dialect=dialect)).lower()
        assert not any(name in sql for name in ("strftime", "julianday", "date(", "date_trunc", "extract", "timezone("))
