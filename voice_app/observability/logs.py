"""Log lines: one per event, each naming the call it belongs to, as text or as one JSON object per line.

The call's id is Twilio's CallSid, carried in a context variable that the request (or the media session)
sets, so that a line logged anywhere inside a call names it without every call site passing it. What callers
say, their numbers and their dates of birth are never logged by the code; nothing here adds them.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

LOG_FORMATS = ("text", "json")
NO_CALL = "-"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [call %(call_sid)s]: %(message)s"

_call_sid: contextvars.ContextVar[str] = contextvars.ContextVar("call_sid", default=NO_CALL)


def bind_call(call_sid: str) -> contextvars.Token:
    """Every line logged from now on in this context (this thread, or a context copied from it) names the call,
    until `release_call` with the returned token. A media stream binds its call once its start frame names it,
    inside the request whose end releases what the request bound."""
    return _call_sid.set(call_sid)


def release_call(token: contextvars.Token) -> None:
    _call_sid.reset(token)


class CallIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.call_sid = _call_sid.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "call_id": getattr(record, "call_sid", NO_CALL),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def dress_handler(handler: logging.Handler, log_format: str) -> None:
    """Gives a handler the chosen format and the call's id."""
    handler.setFormatter(make_formatter(log_format))
    handler.addFilter(CallIdFilter())


def configure_logging(log_format: str, level: int) -> None:
    """The root logger writes to stderr in the chosen format (unless something, such as a test runner, set it up
    already); warnings go through it too, so that with json every line on stderr stays a JSON object."""
    handler = logging.StreamHandler()
    dress_handler(handler, log_format)
    logging.basicConfig(level=level, handlers=[handler])
    logging.captureWarnings(True)
