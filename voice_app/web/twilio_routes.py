"""Twilio's side of the app: the voice webhook, the media stream, the Connect action and status callbacks.

Every request is checked against Twilio's signature over the configured public URL before anything
else happens; the websocket handshake too.
"""

from __future__ import annotations

import hmac
import logging
import re
from datetime import timedelta
from hashlib import sha256

from flask import Blueprint, Response, abort, current_app, g, request
from flask_sock import Sock

from telephony import twiml
from telephony.audio import mulaw_wav
from telephony.signatures import public_url, websocket_url
from telephony.twiml import DialTarget
from voice_app import calls
from voice_app.config import SUPPORTED_LANGUAGES
from voice_app.media_session import MediaSession, stream_token
from voice_app.dialogue.prompts import Prompt, prompt_text
from voice_app.handoff.briefing import handoff_for_whisper, issue_whisper_token, record_transfer
from voice_app.handoff.models import CallbackRequest, HandoffOutcome
from voice_app.handoff.queries import (
    finish_handoff,
    handoff_of_call,
    mark_agent_answered,
    request_callback,
)
from voice_app.handoff.voicemails import reserve_voicemail, voicemail_of_call
from voice_app.models import Call, CallOutcome, HandoffReason, utcnow
from voice_app.observability import metrics
from voice_app.observability.logs import NO_CALL, bind_call, release_call
from voice_app.pseudonyms import normalise_phone_number, pseudonymise
from voice_app.services import Services
from voice_app.voicemail_session import STREAM_PURPOSE as VOICEMAIL_STREAM_PURPOSE
from voice_app.voicemail_session import VoicemailSession

log = logging.getLogger(__name__)

twilio_routes = Blueprint("twilio", __name__, url_prefix="/twilio")
handoff_audio = Blueprint("handoff_audio", __name__)
sock = Sock()
DIAL_STATUSES = {"completed", "answered", "busy", "no-answer", "failed", "canceled"}
# Every QueueResult Twilio documents for the <Enqueue> action; the first three mean an agent took the call.
QUEUE_CONNECTED = {"bridged", "bridging-in-process", "redirected-from-bridged"}
QUEUE_RESULTS = QUEUE_CONNECTED | {"hangup", "leave", "redirected", "queue-full", "error", "system-error"}
WHISPER_GRACE_SECONDS = 60
# The choice after a transfer nobody took: seconds to wait for a key once the prompt has played (Twilio's default).
CHOICE_TIMEOUT_SECONDS = 5
CALLBACK_KEY, VOICEMAIL_KEY = "1", "2"
# The prompts Twilio fetches with <Play>; fixed texts, no personal data.
PLAYED_PROMPTS = (Prompt.AGENT_UNREACHED_CHOICE, Prompt.AFTER_HOURS_CHOICE, Prompt.CALLBACK_PROMISED,
                  Prompt.AFTER_HOURS_CALLBACK_PROMISED, Prompt.VOICEMAIL_THANKS)
PROMPT_DIGEST_LENGTH = 12
PROMPT_CACHE_SECONDS = 24 * 3600

CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
MAX_NUMBER_FIELD_LENGTH = 64
MEDIA_ENDPOINTS = {"twilio.media", "twilio.voicemail"}


def services() -> Services:
    return current_app.extensions["voice_app"]


def _signed_url() -> str:
    base = services().settings.server.public_url
    if request.endpoint in MEDIA_ENDPOINTS:
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
    call_sid = request.form.get("CallSid", "") if request.method == "POST" else ""
    g.call_log_token = bind_call(call_sid if CALL_SID.match(call_sid) else NO_CALL)


@twilio_routes.teardown_request
def release_call_log_context(_error: BaseException | None) -> None:
    # Server threads serve one request after another: the next one must not name this call, nor the call a
    # media stream bound during this request.
    if "call_log_token" in g:
        release_call(g.call_log_token)


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
    draining = services().drain.draining
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
    if draining:
        # This instance is shutting down and would hand the caller over mid-sentence: a person takes the call now.
        calls.decide_outcome(services().engine, call.id, CallOutcome.TRANSFER, HandoffReason.SERVER_SHUTDOWN)
        calls.add_event(services().engine, call.id, "handed_over", HandoffReason.SERVER_SHUTDOWN.value)
        log.info("call %s: incoming while the server drains, straight to a person", call.id)
        return _next_after_stream(calls.find_call(services().engine, call_sid))
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
    session = MediaSession(websocket, services())
    with metrics.call_in_progress(), services().drain.serving(session):
        session.run()


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
        return _xml(_transfer(telephony.agent_target))
    if call.outcome is None:
        metrics.error(HandoffReason.STREAM_LOST.value)
        calls.decide_outcome(engine, call.id, CallOutcome.TRANSFER, HandoffReason.STREAM_LOST)
        call = calls.find_call(engine, call_sid)
    log.info("call %s: after stream: %s (%s)", call.id, call.outcome, call.handoff_reason or "-")
    return _next_after_stream(call)


def _next_after_stream(call: Call) -> Response:
    """What the caller gets once the assistant is done: goodbye, or a person (or, after hours, a choice)."""
    telephony = services().settings.telephony
    engine = services().engine
    if call.outcome == CallOutcome.HANGUP:
        return _xml(twiml.hangup())
    # The media session stored the full briefing already; this only fills in for a stream that broke off.
    record_transfer(engine, call.id, reason=_reason(call), topic=call.handoff_topic,
                    customer_name=None, verified=False, dial_target=telephony.agent_target.label)
    if not telephony.business_hours.open_at(utcnow()):
        _open_callback(call)
        finish_handoff(engine, call.id, HandoffOutcome.AFTER_HOURS, utcnow())
        log.info("call %s: outside business hours, callback requested, caller offered a voice message", call.id)
        return _offer_choice(call, after_hours=True)
    base = services().settings.server.public_url
    if not telephony.agent_target.whisper_possible:
        return _xml(_transfer(telephony.agent_target, action_url=public_url(base, "/twilio/queue-status")))
    token = issue_whisper_token(engine, call.id, timedelta(seconds=telephony.agent_ring_seconds + WHISPER_GRACE_SECONDS))
    return _xml(_transfer(
        telephony.agent_target,
        action_url=public_url(base, "/twilio/dial-status"),
        whisper_url=public_url(base, f"/twilio/whisper/{token}"),
    ))


def _transfer(target: DialTarget, action_url: str | None = None, whisper_url: str | None = None) -> str:
    """The TwiML that hands the caller to the configured target: a Dial that rings it, or a queue to wait in."""
    if target.kind == "queue":
        return twiml.enqueue(target.address, action_url=action_url)
    return twiml.dial(target, timeout_seconds=services().settings.telephony.agent_ring_seconds,
                      action_url=action_url, whisper_url=whisper_url)


def _reason(call: Call) -> HandoffReason:
    reasons = {reason.value for reason in HandoffReason}
    return HandoffReason(call.handoff_reason) if call.handoff_reason in reasons else HandoffReason.STREAM_LOST


def _callback_number() -> str | None:
    """The caller ID of this request in E.164, the number to call back; None when withheld or not a number.
    Personal data: stored on the callback request only, never logged."""
    raw = request.form.get("From", "")
    return normalise_phone_number(raw) if 0 < len(raw) <= MAX_NUMBER_FIELD_LENGTH else None


def _open_callback(call: Call) -> CallbackRequest:
    """The call's callback request with the number to call back, opened once; a hand-over record is filled in
    first if the call has none (a request that reached us without the stream's outcome)."""
    engine = services().engine
    record_transfer(engine, call.id, reason=_reason(call), topic=call.handoff_topic, customer_name=None,
                    verified=False, dial_target=services().settings.telephony.agent_target.label)
    return request_callback(engine, call.id, _callback_number())


def _prompt_url(prompt: Prompt, language: str) -> str:
    """Where Twilio fetches a fixed prompt in our own voice. The text's digest is in the name, so that a changed
    text is a new URL and no cache at Twilio plays the old one."""
    digest = sha256(prompt_text(prompt, language).encode()).hexdigest()[:PROMPT_DIGEST_LENGTH]
    return public_url(services().settings.server.public_url, f"/prompt-audio/{language}/{prompt.value}-{digest}.wav")


def _callback_promise(call: Call) -> Prompt:
    handoff = handoff_of_call(services().engine, call.id)
    after_hours = handoff is not None and handoff.outcome == HandoffOutcome.AFTER_HOURS
    return Prompt.AFTER_HOURS_CALLBACK_PROMISED if after_hours else Prompt.CALLBACK_PROMISED


def _offer_choice(call: Call, *, after_hours: bool) -> Response:
    """Callback (press 1, or nothing: the default, so nothing is lost) or a voice message (press 2)."""
    choice = Prompt.AFTER_HOURS_CHOICE if after_hours else Prompt.AGENT_UNREACHED_CHOICE
    promise = Prompt.AFTER_HOURS_CALLBACK_PROMISED if after_hours else Prompt.CALLBACK_PROMISED
    return _xml(twiml.gather_digits(
        [_prompt_url(choice, call.language)],
        action_url=public_url(services().settings.server.public_url, "/twilio/choice"),
        timeout_seconds=CHOICE_TIMEOUT_SECONDS,
        then_play=[_prompt_url(promise, call.language)],
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
    """How the transfer went. Not reached: a callback is requested with the call's context at once (so nothing is
    lost if the caller hangs up now), and the caller may leave a voice message instead of waiting for it."""
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
    return _agent_not_reached(call, status)


@twilio_routes.post("/queue-status")
def queue_status() -> Response:
    """How a caller left the agents' queue (the <Enqueue> action): taken by an agent, hung up while waiting, or
    the queue failed them (full, error): then as for a Dial nobody answered."""
    call_sid = _field("CallSid", CALL_SID)
    result = _field("QueueResult")
    if result not in QUEUE_RESULTS:
        abort(Response(f"unknown QueueResult {result[:32]!r}\n", status=400, mimetype="text/plain"))
    call = calls.find_call(services().engine, call_sid)
    if call is None:
        return _xml(twiml.hangup())
    if result in QUEUE_CONNECTED:
        finish_handoff(services().engine, call.id, HandoffOutcome.CONNECTED, utcnow())
        return _xml(twiml.hangup())
    response = _agent_not_reached(call, f"queue {result}")
    # A caller who hung up in the queue is gone; the callback request is what is left.
    return _xml(twiml.hangup()) if result == "hangup" else response


def _agent_not_reached(call: Call, how: str) -> Response:
    _open_callback(call)
    finish_handoff(services().engine, call.id, HandoffOutcome.CALLBACK_REQUESTED, utcnow())
    calls.add_event(services().engine, call.id, "agent_not_reached", how)
    log.info("call %s: agent not reached (%s), callback requested, caller offered a voice message", call.id, how)
    return _offer_choice(call, after_hours=False)


@twilio_routes.post("/choice")
def choice() -> Response:
    """The caller's key after the choice: 2 records a voice message on our own server; 1, anything else, or a
    request we cannot read, keeps the callback request (already stored), the safe default."""
    call_sid = _field("CallSid", CALL_SID)
    engine = services().engine
    call = calls.find_call(engine, call_sid)
    if call is None:
        return _xml(twiml.hangup())
    digits = request.form.get("Digits", "")
    _open_callback(call)
    if digits == VOICEMAIL_KEY:
        if reserve_voicemail(engine, call.id) is not None:
            calls.add_event(engine, call.id, "caller_choice", "voicemail")
            base = services().settings.server.public_url
            return _xml(twiml.connect_stream(
                action_url=public_url(base, "/twilio/after-voicemail"),
                stream_url=websocket_url(base, "/twilio/voicemail"),
                parameters={"stream_token": stream_token(services().secret_key, call_sid, VOICEMAIL_STREAM_PURPOSE)},
            ))
        log.info("call %s: a voice message was already recorded; the callback stands", call.id)
    elif digits != CALLBACK_KEY:
        # Not logged as typed: a caller may key in anything, a phone number too.
        log.info("call %s: choice not understood (%d keys), the callback stands", call.id, len(digits))
    calls.add_event(engine, call.id, "caller_choice", "callback")
    return _xml(twiml.play_then_hangup(_prompt_url(_callback_promise(call), call.language)))


@sock.route("/voicemail", bp=twilio_routes)
def voicemail(websocket) -> None:
    VoicemailSession(websocket, services()).run()


@twilio_routes.post("/after-voicemail")
def after_voicemail() -> Response:
    """The voice message stream closed: thanks for a stored message, else the callback that stands."""
    call_sid = _field("CallSid", CALL_SID)
    call = calls.find_call(services().engine, call_sid)
    if call is None:
        return _xml(twiml.hangup())
    if voicemail_of_call(services().engine, call.id) is not None:
        return _xml(twiml.play_then_hangup(_prompt_url(Prompt.VOICEMAIL_THANKS, call.language)))
    return _xml(twiml.play_then_hangup(_prompt_url(_callback_promise(call), call.language)))


@handoff_audio.get("/prompt-audio/<language>/<name>.wav")
def prompt_audio(language: str, name: str) -> Response:
    """A fixed prompt of the choice after a transfer, in our own voice. Holds no personal data, so no key is
    needed; only the prompts Twilio is sent to fetch are served, each under its text's digest."""
    prompt_name, _, digest = name.rpartition("-")
    prompt = next((prompt for prompt in PLAYED_PROMPTS if prompt.value == prompt_name), None)
    if language not in SUPPORTED_LANGUAGES or prompt is None:
        abort(404)
    text = prompt_text(prompt, language)
    if not hmac.compare_digest(digest, sha256(text.encode()).hexdigest()[:PROMPT_DIGEST_LENGTH]):
        abort(404)
    response = Response(mulaw_wav(services().speech.synthesizer.synthesize(text, language)), mimetype="audio/wav")
    response.headers["Cache-Control"] = f"public, max-age={PROMPT_CACHE_SECONDS}"
    return response


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
