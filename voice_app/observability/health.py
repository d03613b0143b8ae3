"""/healthz (the process answers), /readyz (it should be sent calls) and /metrics (Prometheus, behind a token)."""

from __future__ import annotations

import hmac
import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError

from flask import Flask, Response, abort, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.engine import Engine

from voice_app.observability import metrics
from voice_app.services import Services

log = logging.getLogger(__name__)

METRICS_TOKEN_VARIABLE = "VOICE_APP_METRICS_TOKEN"
# A balancer probes every few seconds; a database slower than this to answer one query is as good as down.
DATABASE_CHECK_SECONDS = 2.0


class DatabaseProbe:
    """`SELECT 1` with a time limit. One check at a time: while a hung one is still waiting for the database,
    the next probes say so instead of piling up threads."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness-db")
        self._pending: Future[None] | None = None

    def problem(self) -> str | None:
        if self._pending is None or self._pending.done():
            self._pending = self._executor.submit(self._query)
        try:
            self._pending.result(timeout=DATABASE_CHECK_SECONDS)
        except TimeoutError:
            return f"no answer within {DATABASE_CHECK_SECONDS:g} s"
        except Exception as error:  # whatever the driver raises, the instance is not ready
            return f"unreachable ({type(error).__name__})"
        return None

    def _query(self) -> None:
        with self._engine.connect() as connection:
            connection.execute(text("SELECT 1"))


def init_health(app: Flask, services: Services) -> None:
    probe = DatabaseProbe(services.engine)

    @app.get("/healthz")
    def health() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    def ready() -> ResponseReturnValue:
        # The model is loaded before a worker takes its first request (voice_app.server), so a worker that
        # answers has it; the database and the drain are what change while it runs.
        checks = {
            "model": "ok",
            "database": probe.problem() or "ok",
            "draining": "yes" if services.drain.draining else "no",
        }
        failed = checks["database"] != "ok" or services.drain.draining
        if failed:
            log.warning("not ready: %s", checks)
        return jsonify(status="not ready" if failed else "ready", checks=checks), 503 if failed else 200

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        expected = os.environ.get(METRICS_TOKEN_VARIABLE)
        if not expected:
            abort(404)
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            abort(
                Response(
                    "metrics need the bearer token\n",
                    status=401,
                    mimetype="text/plain",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            )
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    @app.teardown_request
    def count_failed_request(error: BaseException | None) -> None:
        if error is not None:
            metrics.error("request_exception")
