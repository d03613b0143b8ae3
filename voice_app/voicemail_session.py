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

One thread reads the stream (with `telephony.media_stream`, as the conversation does) and does the (cheap) voice
activity detection; the outbound player paces the instructions in its own thread.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from telephony.audio import FRAME_MS, MULAW_FRAME_BYTES, PHONE_RATE, mulaw_to_pcm16, split_frames, tone_mulaw
from telephony.media_protocol import Dtmf, Mark, Media, ProtocolError, Start, Stop
from telephony.media_stream import StreamClosed, StreamEvent, StreamReader, Websocket
from telephony.outbound import OutboundPlayer
from voice_app import calls
from voice_app.call.stream_machine import PLAYBACK_GRACE_SECONDS
from voice_app.call.streams import call_of_start, voicemail_token
from voice_app.dialogue.prompts import Prompt, prompt_text
from voice_app.handoff.voicemails import bind_voicemail_stream, discard_voicemail, store_voicemail
from voice_app.models import Call
from voice_app.services import Services
from voice_app.speech.turns import SpeechStarted, TurnDetector, UtteranceEnded

log = logging.getLogger(__name__)

FRAMES_PER_SECOND = 1000 // FRAME_MS
INSTRUCTIONS_MARK = "voicemail-instructions"
TONE_MARK = "voicemail-tone"
TONE = tone_mulaw(1000, 0.4)
# Audio kept before the first word and after the last one, so that neither is clipped.
MARGIN_FRAMES = 15  # 300 ms
PREROLL_MS = 200  # TurnDetector's default: the audio before speech was recognised as such
START_FRAMES = 3


class VoicemailSession:
    def __init__(self, websocket: Websocket, services: Services):
        self.websocket = websocket
        self.services = services
        settings = services.settings.voicemail
        self.end_silence_frames = max(1, round(settings.end_silence_seconds * FRAMES_PER_SECOND))
        self.max_frames = settings.max_seconds * FRAMES_PER_SECOND
        self.no_message_frames = round(settings.no_message_seconds * FRAMES_PER_SECOND)
        self.turns = TurnDetector(
            end_silence_ms=self.end_silence_frames * FRAME_MS,
            vad_aggressiveness=services.settings.speech.vad_aggressiveness,
            min_speech_ms=services.settings.speech.min_speech_ms,
            max_utterance_ms=(settings.max_seconds + 1) * 1000,  # the length limit is ours, not the detector's
            preroll_ms=PREROLL_MS,
            start_frames=START_FRAMES,
        )
        self.call: Call | None = None
        self.voicemail_id: int | None = None
        self.player: OutboundPlayer | None = None
        self.recording = False
        self.tone_due: float | None = None  # when recording starts even if Twilio never echoes the tone's mark
        self.frames: list[bytes] = []  # 20 ms of caller audio each, from the end of the tone
        self.speech_from: int | None = None  # first frame of the first speech, with its preroll
        self.speech_until: int | None = None  # last voiced frame, when silence ended the message
        self.quiet_from = 0  # where the wait for a first word (re)starts: the tone, or the end of a blip

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
                if not self.recording and self.tone_due is not None and time.monotonic() >= self.tone_due:
                    self._begin_recording()
                if event.track != "inbound" or not self.recording:
                    return None
                for frame in split_frames(event.payload):
                    ended_by = self._record(frame)
                    if ended_by:
                        return ended_by
            case Dtmf():
                return "hash_key" if self.recording and event.digit == "#" else None
            case Mark():
                if event.name == TONE_MARK and not self.recording:
                    self._begin_recording()
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
        self.player = OutboundPlayer(self.websocket.send, start.stream_sid)
        self.player.play(instructions, INSTRUCTIONS_MARK)
        self.player.play(TONE, TONE_MARK)
        self.tone_due = time.monotonic() + (len(instructions) + len(TONE)) / PHONE_RATE + PLAYBACK_GRACE_SECONDS
        calls.add_event(self.services.engine, calls.id_of(call), "voicemail_started")
        self.services.observe(call.call_sid, "bot", prompt_text(Prompt.VOICEMAIL_INSTRUCTIONS, call.language),
                              datetime.now(UTC))
        log.info("call %s: voice message stream started", call.id)

    # -- recording -------------------------------------------------------------------------------------------

    def _begin_recording(self) -> None:
        self.recording = True
        self.turns.reset()

    def _record(self, frame: bytes) -> str | None:
        assert len(frame) == MULAW_FRAME_BYTES
        self.frames.append(frame)
        index = len(self.frames)
        was_in_utterance = self.turns.in_utterance
        turn = self.turns.push(mulaw_to_pcm16(frame))
        if isinstance(turn, SpeechStarted):
            if self.speech_from is None:
                self.speech_from = max(0, index - START_FRAMES - PREROLL_MS // FRAME_MS)
        elif isinstance(turn, UtteranceEnded):
            self.speech_until = index - self.end_silence_frames
            return "silence"
        elif was_in_utterance and not self.turns.in_utterance:
            self.quiet_from = index  # a cough or a click, not a message: wait for words again from here
        if index >= self.max_frames:
            return "max_length"
        if not self.turns.in_utterance and index - self.quiet_from >= self.no_message_frames:
            return "no_message"
        return None

    def _finish(self, ended_by: str) -> None:
        if self.player is not None:
            self.player.close()
        if self.voicemail_id is None or self.call is None:
            return
        engine, call_id = self.services.engine, calls.id_of(self.call)
        if ended_by == "no_message" or self.speech_from is None:
            discard_voicemail(engine, self.voicemail_id)
            calls.add_event(engine, call_id, "voicemail_empty", ended_by)
            log.info("call %s: no voice message left (%s)", call_id, ended_by)
            return
        start = max(0, self.speech_from - MARGIN_FRAMES)
        last = len(self.frames) if self.speech_until is None else self.speech_until + MARGIN_FRAMES
        audio = b"".join(self.frames[start:min(len(self.frames), last)])
        seconds = len(audio) / PHONE_RATE
        if store_voicemail(engine, self.voicemail_id, audio, ended_by):
            calls.add_event(engine, call_id, "voicemail_recorded", f"{seconds:.1f} s, ended by {ended_by}")
            self.services.observe(self.call.call_sid, "end", f"voice message of {seconds:.1f} s ({ended_by})",
                                  datetime.now(UTC))
            log.info("call %s: voice message of %.1f s stored (%s)", call_id, seconds, ended_by)

    def _call_label(self) -> str:
        return str(self.call.id) if self.call is not None else "-"
