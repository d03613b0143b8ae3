"""Everything the running server logs at its most verbose, kept for a test to search."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from voice_app.observability.logs import LOG_FORMATS, CallIdFilter, make_formatter


class _Keep(logging.Handler):
    """Each line as every `voice-app serve --log-format` would write it: JSON escapes what text does not, and
    both add tracebacks."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(CallIdFilter())
        self.formatters = [make_formatter(log_format) for log_format in LOG_FORMATS]
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += [formatter.format(record) for formatter in self.formatters]


@contextmanager
def everything_logged() -> Iterator[list[str]]:
    """The lines logged meanwhile, with the root logger at DEBUG (as `--log-level debug` sets it), werkzeug's
    access log on and warnings logged. The clients in the test process (requests, the simulated Twilio) log
    into the same lines: what they send is what the server's access log would show. Loggers the app itself
    sets quieter stay so: what they hold back never reaches a log in production either."""
    handler = _Keep()
    root, access_log = logging.getLogger(), logging.getLogger("werkzeug")
    # Loggers that do not hand their lines on to the root's handlers get the handler of their own.
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
    logging.captureWarnings(True)
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        logging.captureWarnings(False)
        for logger, level in levels.items():
            logger.setLevel(level)
