"""Everything the running server logs at its most verbose, kept for a test to search."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from voice_app.observability.logs import dress_handler


class _Keep(logging.Handler):
    def __init__(self, log_format: str) -> None:
        super().__init__(level=logging.DEBUG)
        dress_handler(self, log_format)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def everything_logged(log_format: str = "text") -> Iterator[list[str]]:
    """The lines logged meanwhile, formatted as `voice-app serve --log-format` formats them, with the root logger
    at DEBUG (as `--log-level debug` sets it) and werkzeug's access log on. Loggers the app itself sets quieter
    stay so: what they hold back never reaches a log in production either."""
    handler = _Keep(log_format)
    root, access_log = logging.getLogger(), logging.getLogger("werkzeug")
    # Loggers that do not hand their lines to the root's handlers get the handler of their own.
    loggers = [
        root,
        *(
            logger
            for logger in logging.root.manager.loggerDict.values()
            if isinstance(logger, logging.Logger) and not logger.propagate
        ),
    ]
    levels = {root: root.level, access_log: access_log.level}
    root.setLevel(logging.DEBUG)
    access_log.setLevel(logging.INFO)
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        for logger, level in levels.items():
            logger.setLevel(level)
