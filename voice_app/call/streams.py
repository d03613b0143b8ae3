"""Which media stream may open for which call: the token the voice webhook (or the caller's choice) hands to
Twilio, and the call a stream's start names. Each kind of stream has its own token, so that one cannot open the
other."""

from __future__ import annotations

from telephony.media_protocol import ProtocolError, Start
from telephony.media_stream import StreamToken
from voice_app import calls
from voice_app.models import Call
from voice_app.services import Services

CONVERSATION = "stream"
VOICEMAIL = "voicemail"


def conversation_token(services: Services) -> StreamToken:
    return StreamToken(services.secret_key, CONVERSATION)


def voicemail_token(services: Services) -> StreamToken:
    return StreamToken(services.secret_key, VOICEMAIL)


def call_of_start(services: Services, start: Start) -> Call:
    """The call a start names (its token was checked already); a stream for no call of ours is refused."""
    call = calls.find_call(services.engine, start.call_sid)
    if call is None:
        raise ProtocolError("start for an unknown call or with a wrong stream token")
    return call
