"""The agents' console: the live list of transfers and callback requests, one transfer's context, the number to
call back and the caller's voice message, and closing a callback.

The list updates by server-sent events. Each open list holds one stream that looks at the database once a
second and pushes the re-rendered list only when it changed. Looking at the database, rather than at events
inside this process, means any instance can serve any agent, whichever instance handled the call. A stream
ends after a minute and the browser reconnects by itself. That bounds the thread each stream holds on the
threaded server, and it re-checks the sign-in: a deactivated agent or expired session stops receiving within
a minute.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy.engine import Engine
from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from consent import audit
from telephony.audio import mulaw_wav
from voice_app.handoff.models import CALLBACK_NOTE_MAX_LENGTH, HandoffOutcome
from voice_app.handoff.queries import (
    find_callback,
    handoff_detail,
    mark_callback_done,
    open_callbacks,
    recent_handoffs,
)
from voice_app.handoff.voicemails import play_voicemail
from voice_app.users.management import usernames_by_id
from voice_app.users.models import Role
from voice_app.web.auth import role_required

LIST_LIMIT = 50
EVENT_POLL_SECONDS = 1.0
EVENT_STREAM_SECONDS = 60
HEARTBEAT_SECONDS = 15  # a comment line now and then, so proxies keep a quiet stream open
RECONNECT_DELAY_MS = 1000
MAX_LAST_EVENT_ID_LENGTH = 64
# Database ids are 32-bit integers in PostgreSQL; anything larger cannot exist and would only fail in the driver.
ID = "int(min=1, max=2147483647)"

# Keyed by the stored values rather than the enum, so that a reason renamed later still shows (humanised by
# reason_label) on the transfers stored before.
REASON_LABELS = {
    "caller_asked": "Caller asked for a person",
    "consent_refused": "Caller refused consent",
    "consent_unclear": "Consent answer unclear",
    "consent_silence": "No answer to the consent question",
    "consent_withdrawn": "Caller withdrew consent",
    "sensitive_topic": "Sensitive topic",
    "out_of_scope": "Outside what the assistant handles",
    "verification_failed": "Verification failed",
    "unclear_twice": "Assistant did not understand twice",
    "silence": "Caller stayed silent",
    "stream_error": "Audio stream error",
    "stream_lost": "Audio stream lost",
    "internal_error": "Assistant error",
    "server_shutdown": "Assistant server shut down",
    "caller_frustrated": "Caller frustrated",
}
OUTCOME_LABELS: dict[str, str] = {
    HandoffOutcome.CONNECTED: "Connected",
    HandoffOutcome.NO_ANSWER: "No agent answered",
    HandoffOutcome.BUSY: "Agents busy",
    HandoffOutcome.FAILED: "Transfer failed",
    HandoffOutcome.AFTER_HOURS: "After hours",
    HandoffOutcome.CALLBACK_REQUESTED: "Callback requested",
    HandoffOutcome.VOICEMAIL: "Voicemail",
}
CONSENT_LABELS = {
    "granted": "Granted",
    "refused": "Refused",
    "no_answer": "No answer given",
    "withdrawn": "Withdrawn",
}

agent_console = Blueprint("agent_console", __name__, url_prefix="/agent")


class CallbackDoneForm(FlaskForm):
    note = TextAreaField(
        "Note (optional)",
        validators=[
            Optional(),
            Length(max=CALLBACK_NOTE_MAX_LENGTH, message=f"Keep the note to {CALLBACK_NOTE_MAX_LENGTH} characters."),
        ],
    )


def _engine() -> Engine:
    return current_app.extensions["voice_app"].engine


@agent_console.after_request
def _not_cached(response: Response) -> Response:
    # Pages hold caller details: no copies in browser or proxy caches.
    response.headers["Cache-Control"] = "no-store"
    return response


@agent_console.app_template_filter("timestamp")
def timestamp(value: datetime | None) -> Markup:
    """A `<time>` element in UTC; base.html's script shows it in the agent's own time zone."""
    if value is None:
        return Markup('<span class="muted">not yet</span>')
    # SQLite hands timestamps back without a zone; they were written in UTC.
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return Markup('<time datetime="{}">{}</time>').format(
        moment.isoformat(timespec="seconds"), moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    )


@agent_console.app_template_filter("reason_label")
def reason_label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason.replace("_", " "))


@agent_console.app_template_filter("outcome_label")
def outcome_label(outcome: str) -> str:
    return OUTCOME_LABELS.get(outcome, outcome.replace("_", " "))


@agent_console.app_template_filter("consent_label")
def consent_label(decision: str | None) -> str:
    return CONSENT_LABELS.get(decision, decision) if decision else "Not given yet"


@agent_console.app_template_filter("duration")
def duration(seconds: float) -> str:
    """A message's length as people read it: 0:42, 2:00."""
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


@agent_console.app_template_filter("event_label")
def event_label(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def _render_feed(engine: Engine) -> tuple[Markup, str]:
    """The list as HTML and a version of it, the same for the same content."""
    html = render_template(
        "agent/_feed.html",
        handoffs=recent_handoffs(engine, LIST_LIMIT),
        callbacks=open_callbacks(engine, LIST_LIMIT),
        list_limit=LIST_LIMIT,
    )
    return Markup(html), hashlib.sha256(html.encode()).hexdigest()[:16]


def _server_sent_event(name: str, data: str, event_id: str) -> str:
    # Each line of data needs its own "data:" field; a bare line break would end the event early.
    data_lines = "".join(f"data: {line}\n" for line in data.splitlines())
    return f"event: {name}\nid: {event_id}\n{data_lines}\n"


def _feed_stream(engine: Engine, last_sent_version: str) -> Iterator[str]:
    yield f"retry: {RECONNECT_DELAY_MS}\n\n"
    ends_at = time.monotonic() + EVENT_STREAM_SECONDS
    last_write = time.monotonic()
    while True:
        html, version = _render_feed(engine)
        if version != last_sent_version:
            yield _server_sent_event("feed", html, version)
            last_sent_version, last_write = version, time.monotonic()
        elif time.monotonic() - last_write >= HEARTBEAT_SECONDS:
            yield ": still here\n\n"
            last_write = time.monotonic()
        if time.monotonic() >= ends_at:
            return
        time.sleep(EVENT_POLL_SECONDS)


@agent_console.get("/")
@role_required(Role.AGENT)
def handoff_list() -> str:
    feed, version = _render_feed(_engine())
    return render_template("agent/list.html", feed=feed, version=version)


@agent_console.get("/events")
@role_required(Role.AGENT)
def events() -> Response:
    # The browser sends back the version it has when it reconnects; an unchanged list is then not sent again.
    last_event_id = request.headers.get("Last-Event-ID", "")[:MAX_LAST_EVENT_ID_LENGTH]
    return Response(
        stream_with_context(_feed_stream(_engine(), last_event_id)),
        mimetype="text/event-stream",
        headers={"X-Accel-Buffering": "no"},  # nginx would otherwise hold events back in its buffer
    )


def _render_detail(handoff_id: int, form: CallbackDoneForm, status: int = 200) -> tuple[str, int]:
    engine = _engine()
    detail = handoff_detail(engine, handoff_id)
    if detail is None:
        abort(404)
    people = {callback.done_by for callback in detail.callbacks if callback.done_by}
    people |= {voicemail.listened_by for voicemail in detail.voicemails.values() if voicemail.listened_by}
    closers = usernames_by_id(engine, people)
    return render_template("agent/detail.html", detail=detail, form=form, closers=closers), status


@agent_console.get(f"/handoffs/<{ID}:handoff_id>")
@role_required(Role.AGENT)
def handoff(handoff_id: int) -> tuple[str, int]:
    page = _render_detail(handoff_id, CallbackDoneForm())
    audit.record(_engine(), current_user.username, audit.AuditAction.VIEW_HANDOFF, {"handoff_id": handoff_id})
    return page


@agent_console.post(f"/callbacks/<{ID}:callback_id>/done")
@role_required(Role.AGENT)
def callback_done(callback_id: int) -> ResponseReturnValue:
    callback = find_callback(_engine(), callback_id)
    if callback is None:
        abort(404)
    form = CallbackDoneForm()
    if not form.validate_on_submit():
        return _render_detail(callback.handoff_id, form, status=400)
    if mark_callback_done(_engine(), callback_id, current_user.id, form.note.data or ""):
        flash("Callback marked done.", "success")
    else:
        flash("This callback had already been marked done.", "info")
    return redirect(url_for("agent_console.handoff", handoff_id=callback.handoff_id), code=303)


@agent_console.get(f"/voicemails/<{ID}:voicemail_id>.wav")
@role_required(Role.AGENT)
def voicemail_audio(voicemail_id: int) -> ResponseReturnValue:
    """A caller's voice message for the browser's player: 16-bit PCM WAV (browsers do not all play the stored
    mu-law form), never cached. The first agent to play it is recorded as having listened."""
    audio = play_voicemail(_engine(), voicemail_id, current_user.id)
    if audio is None:
        abort(404)
    if request.headers.get("Range", "bytes=0-").startswith("bytes=0-"):  # once per playback, not per seek
        audit.record(
            _engine(), current_user.username, audit.AuditAction.PLAY_VOICE_MESSAGE, {"voicemail_id": voicemail_id}
        )
    response = Response(mulaw_wav(audio), mimetype="audio/wav")
    response.headers["Cache-Control"] = "no-store"
    # Byte ranges let the player seek; the body is in memory, so werkzeug can cut them.
    return response.make_conditional(request, accept_ranges=True, complete_length=response.content_length)
