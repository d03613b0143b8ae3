"""Twilio's side of the app: the voice webhook, the media stream, the Connect action and status callbacks.

Every request is checked against Twilio's signature over the configured public URL before anything
else happens; the websocket handshake too.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from flask import Blueprint, Response, abort, current_app, request
from flask_sock import Sock

from telephony import twiml
from telephony.audio import mulaw_wav
from telephony.signatures import public_url, websocket_url
from voice_app import calls
from voice_app.media_session import MediaSession, stream_token
from voice_app.dialogue.prompts import Prompt, prompt_text
from voice_app.handoff.briefing import handoff_for_whisper, issue_whisper_token, record_transfer
from voice_app.handoff.models import HandoffOutcome
from voice_app.handoff.queries import finish_handoff, mark_agent_answered, request_callback
from voice_app.models import CallOutcome, HandoffReason, utcnow
from voice_app.pseudonyms import normalise_phone_number, pseudonymise
from voice_app.services import Services

log = logging.getLogger(__name__)

twilio_routes = Blueprint("twilio", __name__, url_prefix="/twilio")
handoff_audio = Blueprint("handoff_audio", __name__)
sock = Sock()
DIAL_STATUSES = {"completed", "answered", "busy", "no-answer", "failed", "canceled"}
WHISPER_GRACE_SECONDS = 60

CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
MAX_NUMBER_FIELD_LENGTH = 64
MEDIA_ENDPOINT = "twilio.media"


def services() -> Services:
    return current_app.extensions["voice_app"]


def _signed_url() -> str:
    base = services().settings.server.public_url
    if request.endpoint == MEDIA_ENDPOINT:
        return websocket_url(base, request.path)
    # Twilio signs the exact URL it requested, so the query string is appended as it came, not re-encoded.
    query = request.query_string.decode("latin-1")
    return public_url(base, request.path) + (f"?{query}" if query else "")


@twilio_routes.before_request
def require_twilio_signature() -> None:
    params = request.form if request.method == "POST" else {}
    if not services().signatures.is_valid(_signed_url(), params, request.headers.get("X-Twilio-Signature")):
        log.warning("rejected %s %s: missing or wrong Twilio signature", request.method, request.path)
        abort(403)
    expected_account = services().settings.secrets.twilio_account_sid
    if expected_account and request.method == "POST" and request.form.get("AccountSid") != expected_account:
        log.warning("rejected %s: request for another Twilio account", request.path)
        abort(403)


def _field(name: str, pattern: re.Pattern | None = None, max_length: int = MAX_NUMBER_FIELD_LENGTH) -> str:
    value = request.form.get(name, "")
    if not value or len(value) > max_length or (pattern and not pattern.match(value)):
        abort(Response(f"missing or malformed field {name}\n", status=400, mimetype="text/plain"))
    return value


def _xml(document: str) -> Response:
    return Response(document, mimetype="text/xml")


@twilio_routes.post("/voice")
def incoming_call() -> Response:
    """The number's voice webhook: register the call, then connect its audio to our media stream."""
    call_sid = _field("CallSid", CALL_SID)
    caller_number = _field("From")
    called_number = normalise_phone_number(_field("To")) or "unknown"
    settings = services().settings
    # Caller ID only points at an account; nothing of it is said before the caller proves who they are.
    customer = services().accounts.find_by_phone(caller_number)
    call = calls.register_call(
        services().engine,
        call_sid,
        caller=pseudonymise(caller_number, services().secret_key),
        called_number=called_number,
        language=customer.preferred_language if customer else settings.telephony.language_for(called_number),
        customer_ref=customer.customer_id if customer else None,
    )
    log.info("call %s: incoming, greeting in %s", call.id, call.language)
    return _xml(
        twiml.connect_stream(
            action_url=public_url(settings.server.public_url, "/twilio/after-stream"),
            stream_url=websocket_url(settings.server.public_url, "/twilio/media"),
            parameters={"stream_token": stream_token(services().secret_key, call_sid)},
        )
    )


@sock.route("/media", bp=twilio_routes)
def media(websocket) -> None:
    MediaSession(websocket, services()).run()


@twilio_routes.post("/after-stream")
def after_stream() -> Response:
    """Twilio asks what next once our server closed the stream: the stored outcome answers, whichever
    instance handled the stream."""
    call_sid = _field("CallSid", CALL_SID)
    telephony = services().settings.telephony
    engine = services().engine
    call = calls.find_call(engine, call_sid)
    if call is None:
        log.warning("Connect action for an unknown call; sending the caller to a person")
        return _xml(twiml.dial(telephony.agent_number, timeout_seconds=telephony.agent_ring_seconds))
    if call.outcome is None:
        calls.decide_outcome(engine, call.id, CallOutcome.TRANSFER, HandoffReason.STREAM_LOST)
        call = calls.find_call(engine, call_sid)
    log.info("call %s: after stream: %s (%s)", call.id, call.outcome, call.handoff_reason or "-")
    if call.outcome == CallOutcome.HANGUP:
        return _xml(twiml.hangup())
    # The media session stored the full briefing already; this only fills in for a stream that broke off.
    record_transfer(engine, call.id, reason=HandoffReason(call.handoff_reason), topic=call.handoff_topic,
                    customer_name=None, verified=False, dial_target=telephony.agent_number)
    if not telephony.business_hours.open_at(utcnow()):
        request_callback(engine, call.id)
        finish_handoff(engine, call.id, HandoffOutcome.AFTER_HOURS, utcnow())
        log.info("call %s: outside business hours, callback requested", call.id)
        return _xml(twiml.say_then_hangup(prompt_text(Prompt.AFTER_HOURS, call.language), call.language))
    token = issue_whisper_token(engine, call.id, timedelta(seconds=telephony.agent_ring_seconds + WHISPER_GRACE_SECONDS))
    base = services().settings.server.public_url
    return _xml(twiml.dial(
        telephony.agent_number,
        timeout_seconds=telephony.agent_ring_seconds,
        action_url=public_url(base, "/twilio/dial-status"),
        whisper_url=public_url(base, f"/twilio/whisper/{token}"),
    ))


@twilio_routes.post("/whisper/<token>")
def whisper(token: str) -> Response:
    """The agent answered: before the caller is connected, they hear who calls and why."""
    handoff = handoff_for_whisper(services().engine, token)
    if handoff is None:
        abort(404)
    mark_agent_answered(services().engine, handoff.call_id, utcnow())
    return _xml(twiml.play(public_url(services().settings.server.public_url, f"/handoff-audio/{token}.wav")))


@twilio_routes.post("/dial-status")
def dial_status() -> Response:
    """How the transfer went. Not reached: a callback is requested with the call's context, nothing is lost."""
    call_sid = _field("CallSid", CALL_SID)
    status = _field("DialCallStatus")
    if status not in DIAL_STATUSES:
        abort(Response(f"unknown DialCallStatus {status[:32]!r}\n", status=400, mimetype="text/plain"))
    call = calls.find_call(services().engine, call_sid)
    if call is None:
        return _xml(twiml.hangup())
    if status in ("completed", "answered"):
        finish_handoff(services().engine, call.id, HandoffOutcome.CONNECTED, utcnow())
        return _xml(twiml.hangup())
    request_callback(services().engine, call.id)
    finish_handoff(services().engine, call.id, HandoffOutcome.CALLBACK_REQUESTED, utcnow())
    log.info("call %s: agent not reached (%s), callback requested", call.id, status)
    return _xml(twiml.say_then_hangup(prompt_text(Prompt.CALLBACK_PROMISED, call.language), call.language))


@handoff_audio.get("/handoff-audio/<token>.wav")
def whisper_audio(token: str) -> Response:
    """The spoken summary for the agent, our own speech synthesis. The unguessable token that expires with the
    ring time is the only key: Twilio fetches <Play> audio without a signature we could rely on."""
    handoff = handoff_for_whisper(services().engine, token)
    if handoff is None:
        abort(404)
    audio = services().speech.synthesizer.synthesize(handoff.summary, handoff.language)
    response = Response(mulaw_wav(audio), mimetype="audio/wav")
    response.headers["Cache-Control"] = "no-store"
    return response


@twilio_routes.post("/status")
def status_callback() -> Response:
    call_sid = _field("CallSid", CALL_SID)
    status = _field("CallStatus")
    if status not in calls.KNOWN_STATUSES:
        abort(Response(f"unknown CallStatus {status[:32]!r}\n", status=400, mimetype="text/plain"))
    if not calls.update_status(services().engine, call_sid, status):
        log.info("status callback for an unknown call ignored")
    return Response(status=204)
