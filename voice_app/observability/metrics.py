"""The Prometheus metrics of the assistant, fed by small calls where things already happen (during a call, by
its observers: `voice_app.call.observers`).

Under gunicorn every worker is its own process: `voice-app serve` sets PROMETHEUS_MULTIPROC_DIR before
prometheus_client is first imported, so these metrics are kept in files there and /metrics adds up all
workers. Without that variable (the in-process LocalServer) they live in the default registry.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from voice_app.models import STAGES

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Answers and transcriptions take from a tenth of a second to a few seconds (README, "Speech").
SECONDS_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, float("inf"))

CALLS_IN_PROGRESS = Gauge(
    "voice_app_calls_in_progress", "Media streams of calls now being served", multiprocess_mode="livesum"
)
CALLS = Counter("voice_app_calls", "Calls by how the assistant ended them", ["outcome"])
TRANSFERS = Counter("voice_app_transfers", "Calls handed to a person, by reason", ["reason"])
CONSENT_DECISIONS = Counter("voice_app_consent_decisions", "Consent decisions recorded in the ledger", ["decision"])
ANSWER_LATENCY = Histogram(
    "voice_app_answer_latency_seconds",
    "From the caller's last word to the first audio of the reply",
    buckets=SECONDS_BUCKETS,
)
TRANSCRIPTION_TIME = Histogram(
    "voice_app_transcription_seconds", "Speech recognition of one caller utterance", buckets=SECONDS_BUCKETS
)
STAGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 3.0, float("inf"))
TURN_STAGE_TIME = Histogram(
    "voice_app_turn_stage_seconds",
    "Where an answered turn's time went: end_of_turn, transcription, understanding, account_lookup, synthesis, "
    "first_frame",
    ["stage"],
    buckets=STAGE_BUCKETS,
)
for _stage in STAGES:  # every stage's series exists from the start, at zero
    TURN_STAGE_TIME.labels(_stage)
ERRORS = Counter("voice_app_errors", "Failures, by kind", ["kind"])


def call_ended(outcome: str, handoff_reason: str | None) -> None:
    CALLS.labels(outcome).inc()
    if handoff_reason is not None:
        TRANSFERS.labels(handoff_reason).inc()


def consent_decided(decision: str) -> None:
    CONSENT_DECISIONS.labels(decision).inc()


def answered(latency_seconds: float) -> None:
    ANSWER_LATENCY.observe(latency_seconds)


def turn_stages(seconds: Mapping[str, float]) -> None:
    for stage, value in seconds.items():
        TURN_STAGE_TIME.labels(stage).observe(value)


def error(kind: str) -> None:
    ERRORS.labels(kind).inc()


@contextmanager
def call_in_progress() -> Iterator[None]:
    with CALLS_IN_PROGRESS.track_inprogress():
        yield


def transcribed(seconds: float) -> None:
    TRANSCRIPTION_TIME.observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The text /metrics answers with: every worker's values when running under gunicorn."""
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def forget_worker(pid: int) -> None:
    """A worker exited: its share of the live gauges no longer counts."""
    multiprocess.mark_process_dead(pid)
