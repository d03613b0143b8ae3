"""The dashboard for compliance staff and admins: how the hotline did over a date range, as charts one can read
at a glance (server-rendered SVG, no script) with the same figures in tables.

Only counts and timings are shown, never what a caller said or who called. Days are counted in the business
hours' time zone (`telephony.business_hours.timezone`). The figures and their definitions are in
`voice_app.reports.metrics`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, render_template, request
from flask_login import current_user

from consent import audit
from voice_app.reports.charts import BarChart, ColumnChart, bar_chart, column_chart
from voice_app.reports.metrics import (
    DEFAULT_RANGE_DAYS,
    MAX_RANGE_DAYS,
    Bucket,
    DateRange,
    Metrics,
    Period,
    RangeError,
    compute_metrics,
    default_range,
)
from voice_app.users.models import Role
from voice_app.web.agent_console import reason_label
from voice_app.web.auth import role_required

if TYPE_CHECKING:
    from voice_app.config import SpeechSettings
    from voice_app.services import Services

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)
MAX_REASON_LABEL = 44
STAGE_LABELS = {
    "end_of_turn": "Waiting for the end of the turn",
    "transcription": "Transcription",
    "understanding": "Understanding",
    "account_lookup": "Account lookup (within understanding)",
    "synthesis": "Speech synthesis",
    "first_frame": "First frame sent",
}

DECISION_LABELS = {
    "granted": "Said yes",
    "withdrawn": "Said yes, withdrew later",
    "refused": "Said no",
    "no_answer": "No answer (silent or unclear twice)",
    "hung_up": "Hung up before answering",
}

dashboard = Blueprint("dashboard", __name__, url_prefix="/dashboard")


class ParameterError(ValueError):
    """A query parameter the dashboard cannot use; the message is shown to the user."""


def _services() -> Services:
    return current_app.extensions["voice_app"]


@dashboard.after_request
def _not_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _date_param(name: str, label: str) -> date | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ParameterError(f"Give the {label} once.")
    text = values[0].strip() if values else ""
    if not text:
        return None
    if len(text) > 10 or not ISO_DATE.fullmatch(text):
        raise ParameterError(f"The {label} must be a date written as YYYY-MM-DD, for example 2026-03-27.")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"The {label} {text} is not a date in the calendar.") from None
    if not EARLIEST <= day <= LATEST:
        raise ParameterError(f"The {label} must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}.")
    return day


def requested_range(today: date, zone) -> DateRange:
    """The range in the query string: `from` and `to` (both optional, inclusive). Without `to` the range ends
    today; without `from` it is the 30 days up to `to`."""
    first, last = _date_param("from", "start date"), _date_param("to", "end date")
    if last is None:
        if first is None:
            return default_range(zone, today)
        last = max(first, today)
    if first is None:
        first = default_range(zone, last).first
    try:
        return DateRange(first, last, zone)
    except RangeError as error:
        raise ParameterError(str(error)) from None


# -- wording ------------------------------------------------------------------------------------------------------


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def short_label(bucket: Bucket, period: Period) -> str:
    if period is Period.MONTH:
        return f"{bucket.first:%b %Y}"
    return f"{bucket.first.day} {bucket.first:%b}"


def long_label(bucket: Bucket, period: Period) -> str:
    if period is Period.DAY:
        return f"{bucket.first:%a} {_day(bucket.first)}"
    if bucket.first == bucket.last:
        return _day(bucket.first)
    return f"{_day(bucket.first)} to {_day(bucket.last)}"


@dashboard.app_template_filter("percent")
def percent(share: float) -> str:
    """0.625 as "63%": halves round up, the way people read percentages (not to the even neighbour)."""
    return f"{int(share * 100 + 0.5)}%"


@dashboard.app_template_filter("milliseconds")
def milliseconds(value: float | None) -> str:
    """A stage's time, which is often well under a tenth of a second, as whole milliseconds."""
    if value is None:
        raise ValueError("no time was measured")
    return str(round(value))


@dashboard.app_template_filter("seconds")
def seconds(milliseconds: float | None) -> str:
    """1440 ms as "1.4" (seconds). Latencies are None where none were measured, which callers check first."""
    if milliseconds is None:
        raise ValueError("no latency was measured")
    return f"{int(milliseconds / 100 + 0.5) / 10:.1f}"


def _plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else words or word + 's'}"


@dataclass(frozen=True)
class Dashboard:
    metrics: Metrics
    calls: ColumnChart | None
    consent: ColumnChart | None
    without_person: ColumnChart | None
    reasons: BarChart | None
    latency: ColumnChart | None
    labels: list[str]  # long labels of the periods, for the tables
    decision_labels: dict[str, str]
    stages: BarChart | None = None
    stage_labels: dict[str, str] = field(default_factory=dict)


def build_dashboard(metrics: Metrics) -> Dashboard:
    period, buckets, total = metrics.period, metrics.buckets, metrics.total
    every = {Period.DAY: "day", Period.WEEK: "week", Period.MONTH: "month"}[period]
    span = f"{_day(metrics.range.first)} to {_day(metrics.range.last)}"
    short = [short_label(bucket, period) for bucket in buckets]
    long = [long_label(bucket, period) for bucket in buckets]
    axis = {Period.DAY: "Day", Period.WEEK: "Week (Monday to Sunday)", Period.MONTH: "Month"}[period]
    empty = metrics.empty

    calls = (
        None
        if empty
        else column_chart(
            id="chart-calls",
            title=f"Calls per {every}",
            description=f"Calls per {every}, {span}: {_plural(total.calls, 'call')} in all; most in one {every}: "
            f"{max(bucket.calls for bucket in buckets)}.",
            value_axis_label="Calls",
            category_axis_label=axis,
            categories=short,
            titles=[f"{label}: {_plural(bucket.calls, 'call')}" for label, bucket in zip(long, buckets, strict=True)],
            values=[bucket.calls for bucket in buckets],
            value_label=lambda value: str(round(value)),
            whole=True,
        )
    )

    def share_chart(
        chart_id: str, title: str, what: str, value_axis_label: str, part, whole, whose: str, nothing: str
    ) -> ColumnChart | None:
        """Columns of part(bucket) / whole(bucket); None when the whole range has nothing to share out."""
        if whole(total) == 0:
            return None
        return column_chart(
            id=chart_id,
            title=title,
            category_axis_label=axis,
            categories=short,
            value_axis_label=value_axis_label,
            description=f"{what}, per {every}, {span}: {percent(part(total) / whole(total))} overall "
            f"({part(total)} of {whole(total)}).",
            titles=[
                f"{label}: "
                + (f"{percent(part(b) / whole(b))}, {part(b)} of {whole(b)} {whose}" if whole(b) else nothing)
                for label, b in zip(long, buckets, strict=True)
            ],
            values=[part(b) / whole(b) if whole(b) else None for b in buckets],
            value_label=percent,
            top=1.0,
        )

    consent = share_chart(
        "chart-consent",
        f"Consent rate per {every}",
        "Share of callers who said yes at the consent question",
        "Said yes",
        lambda b: b.consent_granted,
        lambda b: b.consent_reached,
        "said yes",
        "nobody reached the consent question",
    )
    without_person = share_chart(
        "chart-without-person",
        f"Calls finished without a person, per {every}",
        "Share of calls the assistant finished itself rather than handing them to a person",
        "Finished by the assistant",
        lambda b: b.finished_by_assistant,
        lambda b: b.with_outcome,
        "finished by the assistant",
        "no call ended with a goodbye or a hand-over",
    )

    reasons = None
    if metrics.transfer_reasons:
        names = [_clip(reason_label(reason)) for reason, _ in metrics.transfer_reasons]
        counts = [count for _, count in metrics.transfer_reasons]
        transferred = sum(counts)
        reasons = bar_chart(
            id="chart-reasons",
            title="Why calls went to a person",
            description=f"Transfer reasons, {span}, {_plural(transferred, 'transfer')}: "
            + "; ".join(f"{name} {count}" for name, count in zip(names, counts, strict=True))
            + ".",
            value_axis_label="Transfers",
            labels=names,
            values=counts,
            value_label=lambda value: str(round(value)),
            titles=[
                f"{name}: {count} of {transferred} ({percent(count / transferred)})"
                for name, count in zip(names, counts, strict=True)
            ],
        )

    latency = (
        None
        if total.latency.count == 0
        else column_chart(
            id="chart-latency",
            title=f"Answer latency per {every}",
            description=f"Time from the end of the caller's speech to the first sound of the reply, per {every}, "
            f"{span}: median {seconds(total.latency.median_ms)} s and 90th percentile "
            f"{seconds(total.latency.p90_ms)} s over {_plural(total.latency.count, 'reply', 'replies')}.",
            value_axis_label="Seconds",
            category_axis_label=axis,
            categories=short,
            titles=[
                f"{label}: "
                + (
                    f"median {seconds(b.latency.median_ms)} s, 90th percentile "
                    f"{seconds(b.latency.p90_ms)} s, {_plural(b.latency.count, 'reply', 'replies')}"
                    if b.latency.count
                    else "no replies timed"
                )
                for label, b in zip(long, buckets, strict=True)
            ],
            values=[bucket.latency.median_ms for bucket in buckets],
            markers=[bucket.latency.p90_ms for bucket in buckets],
            value_label=seconds,
            column_legend="median (number above)",
            marker_legend="90th percentile",
        )
    )
    stages = None
    if metrics.stages:
        names = [STAGE_LABELS[stage] for stage, _ in metrics.stages]
        stages = bar_chart(
            id="chart-stages",
            title="Where an answer's time went",
            description=f"Median time of each stage of an answered turn, {span}: "
            + "; ".join(
                f"{name} {milliseconds(summary.median_ms)} ms (90th percentile {milliseconds(summary.p90_ms)} ms)"
                for name, (_, summary) in zip(names, metrics.stages, strict=True)
            )
            + ".",
            value_axis_label="Milliseconds (median)",
            labels=names,
            values=[round(summary.median_ms or 0) for _, summary in metrics.stages],
            value_label=milliseconds,
            titles=[
                f"{name}: median {milliseconds(summary.median_ms)} ms, "
                f"90th percentile {milliseconds(summary.p90_ms)} ms, "
                f"{_plural(summary.count, 'answer', 'answers')}"
                for name, (_, summary) in zip(names, metrics.stages, strict=True)
            ],
        )
    return Dashboard(
        metrics, calls, consent, without_person, reasons, latency, long, DECISION_LABELS, stages, STAGE_LABELS
    )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_REASON_LABEL else text[: MAX_REASON_LABEL - 1] + "…"


# -- the page -----------------------------------------------------------------------------------------------------


def end_of_turn_words(speech: SpeechSettings) -> str:
    """How the assistant decides that a caller has finished speaking, for the page's explanation."""
    if speech.end_of_turn == "smart_turn_and_words":
        return (
            f"after a pause of {seconds(speech.turn_pause_ms)} s that the Smart Turn model judged the end of the "
            f"turn and whose words the assistant could act on; after {seconds(speech.unfinished_words_silence_ms)} s "
            f"of silence when the words are not a request yet, {seconds(speech.unfinished_sound_silence_ms)} s when "
            f"only the words are, or at most {seconds(speech.turn_fallback_ms)} s of silence"
        )
    if speech.end_of_turn == "smart_turn":
        return (
            f"after a pause of {seconds(speech.turn_pause_ms)} s that the Smart Turn model judged the end of the "
            f"turn, or at most {seconds(speech.turn_fallback_ms)} s of silence"
        )
    return f"after {seconds(speech.end_of_turn_silence_ms)} s of silence"


@dashboard.get("/")
@role_required(Role.COMPLIANCE)
def overview() -> tuple[str, int]:
    services = _services()
    zone = services.settings.telephony.business_hours.timezone
    today = datetime.now(zone).date()
    page = {
        "zone": zone.key,
        "max_days": MAX_RANGE_DAYS,
        "default_days": DEFAULT_RANGE_DAYS,
        "end_of_turn": end_of_turn_words(services.settings.speech),
    }
    try:
        date_range = requested_range(today, zone)
    except ParameterError as error:
        fallback = default_range(zone, today)
        return render_template(
            "dashboard/overview.html",
            error=str(error),
            board=None,
            **page,
            form_from=request.args.get("from", "")[:10],
            form_to=request.args.get("to", "")[:10],
            default_from=fallback.first.isoformat(),
            default_to=fallback.last.isoformat(),
        ), 400
    audit.record(
        services.engine,
        current_user.username,
        audit.AuditAction.VIEW_DASHBOARD,
        {"from": date_range.first.isoformat(), "to": date_range.last.isoformat()},
    )
    board = build_dashboard(compute_metrics(services.engine, date_range))
    first, last = date_range.first.isoformat(), date_range.last.isoformat()
    return render_template(
        "dashboard/overview.html",
        error=None,
        board=board,
        **page,
        form_from=first,
        form_to=last,
        default_from=first,
        default_to=last,
    ), 200
