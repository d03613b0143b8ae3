"""Twilio's side of the app: the voice webhook, the media streams, the follow-up requests of a transfer and the
status callbacks. The routes only parse (`telephony.webhooks`), dispatch (to a media session, or to the transfer
flow through `voice_app.call.follow_ups`) and render TwiML.

Every request is checked against Twilio's signature over the configured public URL before anything
else happens; the websocket handshake too.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import timedelta
from hashlib import sha256
from typing import TypeVar

from flask import Blueprint, Response, abort, current_app, g, request
from flask_sock import Sock
from sqlalchemy.exc import SQLAlchemyError

from telephony import twiml, webhooks
from telephony.audio import mulaw_wav
from telephony.signatures import public_url, websocket_url
from telephony.twiml import DialTarget
from voice_app import calls
from voice_app.call.follow_ups import follow_up
from voice_app.call.streams import conversation_token, voicemail_token
from voice_app.call.transfer_flow import (
    Answer,
    ArrivedWhileDraining,
    ConnectVoicemail,
    DialEnded,
    FlowEvent,
    Hangup,
    KeyChosen,
    OfferChoice,
    PlayThenHangup,
    QueueLeft,
    StreamOver,
    Transfer,
    VoicemailOver,
)
from voice_app.config import SUPPORTED_LANGUAGES
from voice_app.dialogue.prompts import Prompt, prompt_text
from voice_app.handoff.briefing import handoff_for_whisper, issue_whisper_token
from voice_app.handoff.queries import mark_agent_answered
from voice_app.media_session import MediaSession
from voice_app.models import Call, utcnow
from voice_app.observability import metrics
from voice_app.observability.logs import NO_CALL, bind_call, release_call
from voice_app.pseudonyms import normalise_phone_number, pseudonymise
from voice_app.services import Services
from voice_app.voicemail_session import VoicemailSession

log = logging.getLogger(__name__)

twilio_routes = Blueprint("twilio", __name__, url_prefix="/twilio")
handoff_audio = Blueprint("handoff_audio", __name__)
sock = Sock()
WHISPER_GRACE_SECONDS = 60
# The choice after a transfer nobody took: seconds to wait for a key once the prompt has played (Twilio's default).
CHOICE_TIMEOUT_SECONDS = 5
# The prompts Twilio fetches with <Play>; fixed texts, no personal data.
PLAYED_PROMPTS = (
    Prompt.AGENT_UNREACHED_CHOICE,
    Prompt.AFTER_HOURS_CHOICE,
    Prompt.CALLBACK_PROMISED,
    Prompt.AFTER_HOURS_CALLBACK_PROMISED,
    Prompt.VOICEMAIL_THANKS,
)
PROMPT_DIGEST_LENGTH = 12
PROMPT_CACHE_SECONDS = 24 * 3600

MEDIA_ENDPOINTS = {"twilio.media", "twilio.voicemail"}
Parsed = TypeVar("Parsed")


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
    call_sid = webhooks.call_sid_of(request.form) if request.method == "POST" else None
    g.call_log_token = bind_call(call_sid or NO_CALL)


@twilio_routes.teardown_request
def release_call_log_context(_error: BaseException | None) -> None:
    # Server threads serve one request after another: the next one must not name this call, nor the call a
    # media stream bound during this request.
    if "call_log_token" in g:
        release_call(g.call_log_token)


def _form(parse: Callable[[webhooks.Form], Parsed]) -> Parsed:
    """This request's form, read by one of `telephony.webhooks`' parsers; a form Twilio would not send gets 400."""
    try:
        return parse(request.form)
    except webhooks.FormError as error:
        abort(Response(f"{error}\n", status=400, mimetype="text/plain"))


def _xml(document: str) -> Response:
    return Response(document, mimetype="text/xml")


@twilio_routes.post("/voice")
def incoming_call() -> Response:
    """The number's voice webhook: register the call, then connect its audio to our media stream."""
    incoming = _form(webhooks.parse_incoming_call)
    call_sid, caller_number = incoming.call_sid, incoming.caller_number
    called_number = normalise_phone_number(incoming.called_number) or "unknown"
    settings = services().settings
    draining = services().drain.draining
    try:
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
            # This instance is shutting down and would hand the caller over mid-sentence: a person takes it now.
            return _follow_up(call_sid, ArrivedWhileDraining())
    except SQLAlchemyError as error:
        return _to_a_person_without_database("incoming call", error)
    log.info("call %s: incoming, greeting in %s", call.id, call.language)
    return _xml(
        twiml.connect_stream(
            action_url=public_url(settings.server.public_url, "/twilio/after-stream"),
            stream_url=websocket_url(settings.server.public_url, "/twilio/media"),
            parameters=conversation_token(services()).parameters(call_sid),
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
    call_sid = _form(webhooks.parse_call_request).call_sid
    try:
        return _follow_up(call_sid, StreamOver())
    except SQLAlchemyError as error:
        return _to_a_person_without_database("after stream", error)


def _to_a_person_without_database(request_name: str, error: SQLAlchemyError) -> Response:
    """The database does not answer: the caller goes straight to a person (with no assistant, so no consent is
    asked and nothing is recorded), rather than hearing Twilio's "application error" after a 500. No action URL
    follows the transfer: what it would do needs the database."""
    log.error("%s: database unavailable (%s); sending the caller to a person", request_name, type(error).__name__)
    metrics.error("database_unavailable")
    return _xml(_transfer(services().settings.telephony.agent_target))


@twilio_routes.errorhandler(SQLAlchemyError)
def follow_up_without_database(error: SQLAlchemyError) -> Response:
    """The database failed a follow-up request (the voice webhook and the Connect action handle it themselves):
    Twilio must never get a 500, which ends the call with its "application error". A status report is lost (and
    logged); an agent's whisper is skipped, so the agent is connected without the briefing; a transfer that
    reached someone ends; anything else sends the caller to a person."""
    log.error("%s: database unavailable (%s)", request.endpoint, type(error).__name__)
    metrics.error("database_unavailable")
    if request.endpoint == "twilio.status_callback":
        return Response(status=204)
    if request.endpoint == "twilio.whisper":
        return _xml(twiml.nothing())
    if request.endpoint in ("twilio.dial_status", "twilio.queue_status"):
        try:
            ended: webhooks.DialResult | webhooks.QueueResult = (
                webhooks.parse_dial_result(request.form)
                if request.endpoint == "twilio.dial_status"
                else webhooks.parse_queue_result(request.form)
            )
        except webhooks.FormError:
            return _xml(_transfer(services().settings.telephony.agent_target))
        if ended.connected:
            return _xml(twiml.hangup())
    return _xml(_transfer(services().settings.telephony.agent_target))


@twilio_routes.post("/dial-status")
def dial_status() -> Response:
    """How the transfer went. Not reached: a callback is requested with the call's context at once (so nothing is
    lost if the caller hangs up now), and the caller may leave a voice message instead of waiting for it."""
    dialled = _form(webhooks.parse_dial_result)
    return _follow_up(dialled.call.call_sid, DialEnded(dialled.status, dialled.connected))


@twilio_routes.post("/queue-status")
def queue_status() -> Response:
    """How a caller left the agents' queue (the <Enqueue> action): taken by an agent, hung up while waiting, or
    the queue failed them (full, error): then as for a Dial nobody answered."""
    left = _form(webhooks.parse_queue_result)
    return _follow_up(left.call.call_sid, QueueLeft(left.result, left.connected, left.caller_hung_up))


@twilio_routes.post("/choice")
def choice() -> Response:
    """The caller's key after the choice: a voice message recorded on our own server, or the callback."""
    gathered = _form(webhooks.parse_gather_result)
    return _follow_up(gathered.call.call_sid, KeyChosen(gathered.digits))


@sock.route("/voicemail", bp=twilio_routes)
def voicemail(websocket) -> None:
    VoicemailSession(websocket, services()).run()


@twilio_routes.post("/after-voicemail")
def after_voicemail() -> Response:
    """The voice message stream closed: thanks for a stored message, else the callback that stands."""
    return _follow_up(_form(webhooks.parse_call_request).call_sid, VoicemailOver())


def _follow_up(call_sid: str, event: FlowEvent) -> Response:
    call, answer = follow_up(services(), call_sid, event, _callback_number())
    return _xml(_render(answer, call))


def _callback_number() -> str | None:
    """The caller ID of this request in E.164, the number to call back; None when withheld or not a number."""
    raw = webhooks.parse_call_request(request.form).caller_number
    return normalise_phone_number(raw) if raw else None


def _render(answer: Answer, call: Call | None) -> str:
    """Twilio's answer as TwiML."""
    base = services().settings.server.public_url
    telephony = services().settings.telephony
    match answer:
        case Hangup():
            return twiml.hangup()
        case Transfer(follow_up=None):
            return _transfer(telephony.agent_target)
        case Transfer(follow_up="queue"):
            return _transfer(telephony.agent_target, action_url=public_url(base, "/twilio/queue-status"))
        case Transfer():
            assert call is not None  # the flow dials only for a call it knows
            ring_time = timedelta(seconds=telephony.agent_ring_seconds + WHISPER_GRACE_SECONDS)
            token = issue_whisper_token(services().engine, calls.id_of(call), ring_time)
            return _transfer(
                telephony.agent_target,
                action_url=public_url(base, "/twilio/dial-status"),
                whisper_url=public_url(base, f"/twilio/whisper/{token}"),
            )
    assert call is not None  # a call we do not know only hangs up or goes to a person
    match answer:
        case OfferChoice():
            return _offer_choice(call, after_hours=answer.after_hours)
        case PlayThenHangup():
            return twiml.play_then_hangup(_prompt_url(answer.prompt, call.language))
        case ConnectVoicemail():
            return twiml.connect_stream(
                action_url=public_url(base, "/twilio/after-voicemail"),
                stream_url=websocket_url(base, "/twilio/voicemail"),
                parameters=voicemail_token(services()).parameters(call.call_sid),
            )
    raise TypeError(f"unknown answer {answer!r}")


def _transfer(target: DialTarget, action_url: str | None = None, whisper_url: str | None = None) -> str:
    """The TwiML that hands the caller to the configured target: a Dial that rings it, or a queue to wait in."""
    if target.kind == "queue":
        return twiml.enqueue(target.address, action_url=action_url)
    return twiml.dial(
        target,
        timeout_seconds=services().settings.telephony.agent_ring_seconds,
        action_url=action_url,
        whisper_url=whisper_url,
    )


def _prompt_url(prompt: Prompt, language: str) -> str:
    """Where Twilio fetches a fixed prompt in our own voice. The text's digest is in the name, so that a changed
    text is a new URL and no cache at Twilio plays the old one."""
    digest = sha256(prompt_text(prompt, language).encode()).hexdigest()[:PROMPT_DIGEST_LENGTH]
    return public_url(services().settings.server.public_url, f"/prompt-audio/{language}/{prompt.value}-{digest}.wav")


def _offer_choice(call: Call, *, after_hours: bool) -> str:
    """Callback (press 1, or nothing: the default, so nothing is lost) or a voice message (press 2)."""
    choice = Prompt.AFTER_HOURS_CHOICE if after_hours else Prompt.AGENT_UNREACHED_CHOICE
    promise = Prompt.AFTER_HOURS_CALLBACK_PROMISED if after_hours else Prompt.CALLBACK_PROMISED
    return twiml.gather_digits(
        [_prompt_url(choice, call.language)],
        action_url=public_url(services().settings.server.public_url, "/twilio/choice"),
        timeout_seconds=CHOICE_TIMEOUT_SECONDS,
        then_play=[_prompt_url(promise, call.language)],
    )


@twilio_routes.post("/whisper/<token>")
def whisper(token: str) -> Response:
    """The agent answered: before the caller is connected, they hear who calls and why."""
    handoff = handoff_for_whisper(services().engine, token)
    if handoff is None:
        abort(404)
    mark_agent_answered(services().engine, handoff.call_id, utcnow())
    return _xml(twiml.play(public_url(services().settings.server.public_url, f"/handoff-audio/{token}.wav")))


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
    reported = _form(webhooks.parse_status_callback)
    if not calls.update_status(services().engine, reported.call_sid, reported.status):
        log.info("status callback for an unknown call ignored")
    return Response(status=204)
