"""A caller's voice message, recorded on this server from a Twilio media stream: Twilio's <Record> would keep the
audio at Twilio, this keeps it on our premises.

The caller chose a message (pressed 2 after a transfer nobody took); the choice reserved a slot for it and opened
this stream with its own stream token. The session plays the instructions (which say that the message is recorded
for a colleague) and a tone, keeps the caller's inbound mu-law audio from the moment the tone has played, and
stops at the hash key, at the configured longest message, after a few seconds of silence once the caller has
spoken, or when the caller hangs up (what was said until then is kept). Then it stores the message and closes the
stream; Twilio asks /twilio/after-voicemail what next, which thanks the caller and ends the call.

The message is not transcribed. It is stored only when the caller said something: silence, or a caller who hung up
during the instructions, leaves no row behind, and the callback request stands either way.

One thread reads the stream (with `telephony.media_stream`, as the conversation does) and feeds the message being
recorded (`voice_app.call.voice_message`, where the message's end is decided; its voice activity detection is
cheap); the outbound player paces the instructions in its own thread.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from telephony.audio import PHONE_RATE, tone_mulaw
from telephony.media_protocol import Dtmf, Mark, Media, ProtocolError, Start, Stop
from telephony.media_stream import StreamClosed, StreamEvent, StreamReader, Websocket
from telephony.outbound import OutboundPlayer
from voice_app import calls
from voice_app.call.stream_machine import PLAYBACK_GRACE_SECONDS
from voice_app.call.streams import call_of_start, voicemail_token
from voice_app.call.voice_message import VoiceMessage
from voice_app.dialogue.prompts import Prompt, prompt_text
from voice_app.handoff.voicemails import bind_voicemail_stream, discard_voicemail, store_voicemail
from voice_app.models import Call
from voice_app.services import Services

log = logging.getLogger(__name__)

INSTRUCTIONS_MARK = "voicemail-instructions"
TONE_MARK = "voicemail-tone"
TONE = tone_mulaw(1000, 0.4)


class VoicemailSession:
    def __init__(self, websocket: Websocket, services: Services):
        self.websocket = websocket
        self.services = services
        settings = services.settings.voicemail
        self.message = VoiceMessage(
            end_silence_seconds=settings.end_silence_seconds,
            max_seconds=settings.max_seconds,
            no_message_seconds=settings.no_message_seconds,
            vad_aggressiveness=services.settings.speech.vad_aggressiveness,
            min_speech_ms=services.settings.speech.min_speech_ms,
        )
        self.call: Call | None = None
        self.voicemail_id: int | None = None
        self.player: OutboundPlayer | None = None

    # -- reading ---------------------------------------------------------------------------------------------

    def run(self) -> None:
        ended_by: str | None = None
        reader = StreamReader(self.websocket, voicemail_token(self.services), self._admit)
        try:
            for event in reader.events():
                ended_by = self._on_event(event)
                if ended_by:
                    break
        except ProtocolError as error:
            log.warning("call %s: voice message stream protocol error: %s", self._call_label(), error)
            ended_by = "stream_error"
        except Exception:
            log.exception("call %s: voice message session failed", self._call_label())
            ended_by = "stream_error"
        finally:
            self._finish(ended_by or "stream_error")

    def _on_event(self, event: StreamEvent) -> str | None:
        """Handles one event; how the message ended, once it has."""
        match event:
            case Start():
                self._start(event)
            case Stop() | StreamClosed():
                return "hang_up"
            case Media():
                return self.message.media(event.track == "inbound", event.payload, time.monotonic())
            case Dtmf():
                return self.message.key(event.digit)
            case Mark() if event.name == TONE_MARK:
                self.message.tone_played()
        return None

    def _admit(self, start: Start) -> None:
        """Binds the stream to the voice message the caller chose; without one, or with it bound, it is refused."""
        call = call_of_start(self.services, start)
        voicemail_id = bind_voicemail_stream(self.services.engine, calls.id_of(call), start.stream_sid)
        if voicemail_id is None:
            raise ProtocolError("no voice message was chosen on this call, or another stream records it")
        self.call, self.voicemail_id = call, voicemail_id

    def _start(self, start: Start) -> None:
        call = self.call
        assert call is not None  # bound by _admit before the reader hands out the start
        instructions = self.services.speech.synthesizer.synthesize(
            prompt_text(Prompt.VOICEMAIL_INSTRUCTIONS, call.language), call.language
        )
        self.player = OutboundPlayer(
            self.websocket.send, start.stream_sid, lead_ms=self.services.settings.telephony.playback_lead_ms
        )
        self.player.play(instructions, INSTRUCTIONS_MARK)
        self.player.play(TONE, TONE_MARK)
        self.message.tone_queued(
            time.monotonic() + (len(instructions) + len(TONE)) / PHONE_RATE + PLAYBACK_GRACE_SECONDS
        )
        calls.add_event(self.services.engine, calls.id_of(call), "voicemail_started")
        self.services.observe(
            call.call_sid, "bot", prompt_text(Prompt.VOICEMAIL_INSTRUCTIONS, call.language), datetime.now(UTC)
        )
        log.info("call %s: voice message stream started", call.id)

    def _finish(self, ended_by: str) -> None:
        if self.player is not None:
            self.player.close()
        if self.voicemail_id is None or self.call is None:
            return
        engine, call_id = self.services.engine, calls.id_of(self.call)
        audio = self.message.kept(ended_by)
        if audio is None:
            discard_voicemail(engine, self.voicemail_id)
            calls.add_event(engine, call_id, "voicemail_empty", ended_by)
            log.info("call %s: no voice message left (%s)", call_id, ended_by)
            return
        seconds = len(audio) / PHONE_RATE
        if store_voicemail(engine, self.voicemail_id, audio, ended_by):
            calls.add_event(engine, call_id, "voicemail_recorded", f"{seconds:.1f} s, ended by {ended_by}")
            self.services.observe(
                self.call.call_sid, "end", f"voice message of {seconds:.1f} s ({ended_by})", datetime.now(UTC)
            )
            log.info("call %s: voice message of %.1f s stored (%s)", call_id, seconds, ended_by)

    def _call_label(self) -> str:
        return str(self.call.id) if self.call is not None else "-"
