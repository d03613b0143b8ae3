"""Paced playback of the app's audio into a Twilio media stream.

Twilio plays whatever it receives as soon as it can and buffers the rest, so dumping a whole prompt at
once would leave nothing to interrupt: a `clear` could only drop what Twilio has not played, and the
app would not know where playback is. Sending 20 ms frames at real-time speed, a little ahead
(`lead_ms`) to ride out network jitter, keeps the queued audio here, where `clear` can take it back.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from telephony.audio import FRAME_MS, split_frames
from telephony.media_protocol import clear_message, mark_message, media_message

_FRAME_SECONDS = FRAME_MS / 1000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Frame:
    mulaw: bytes
    on_sent: Callable[[], None] | None = None


@dataclass(frozen=True)
class _Mark:
    name: str


@dataclass(frozen=True)
class _Clear:
    pass


class OutboundPlayer:
    """Queues audio and marks and sends them from its own thread, paced to real time.

    The thread is the only caller of `send`, so a slow socket never blocks the caller of `play` or
    `clear`, and messages leave in exactly the order they were queued.
    """

    def __init__(
        self,
        send: Callable[[str], None],
        stream_sid: str,
        *,
        lead_ms: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(stream_sid, str) or not stream_sid:
            raise ValueError("stream_sid must be a non-empty string")
        # With less than one frame of lead Twilio's buffer would run dry between every two frames.
        if isinstance(lead_ms, bool) or not isinstance(lead_ms, int) or lead_ms < FRAME_MS:
            raise ValueError(f"lead_ms must be an integer of at least {FRAME_MS}, got {lead_ms!r}")
        self._send = send
        self._stream_sid = stream_sid
        self._lead_seconds = lead_ms / 1000
        self._clock = clock
        self._condition = threading.Condition()
        self._queue: collections.deque[_Frame | _Mark | _Clear] = collections.deque()
        self._queued_frames = 0
        self._closing = False
        self._failed: BaseException | None = None
        # Real-time origin of the current stretch of playback and how much audio has been sent in it.
        self._playback_started_at: float | None = None
        self._sent_seconds = 0.0
        self._thread = threading.Thread(target=self._run, name=f"outbound-{stream_sid}", daemon=True)
        self._thread.start()

    @property
    def queued_seconds(self) -> float:
        """Audio accepted by `play` and not yet handed to `send`."""
        with self._condition:
            return self._queued_frames * _FRAME_SECONDS

    @property
    def failed(self) -> BaseException | None:
        """What `send` raised, if it did; the player has stopped then."""
        with self._condition:
            return self._failed

    def play(self, mulaw: bytes, mark: str, on_start: Callable[[], None] | None = None) -> None:
        """Queues 8 kHz mu-law audio, followed by a mark Twilio echoes once that audio has played.

        `on_start`, if given, is called on the player's thread right after the first frame of this audio was
        handed to `send` (never if the audio is cleared first). It must return at once: it delays the frames
        after it.
        """
        if not isinstance(mulaw, (bytes, bytearray)):
            raise TypeError(f"audio must be mu-law bytes, got {type(mulaw).__name__}")
        if not isinstance(mark, str) or not mark:
            raise ValueError("mark must be a non-empty string")
        frames = [_Frame(frame) for frame in split_frames(bytes(mulaw))]
        if frames and on_start is not None:
            frames[0] = _Frame(frames[0].mulaw, on_start)
        with self._condition:
            if self._failed is not None or self._closing:
                return
            self._queue.extend(frames)
            self._queue.append(_Mark(mark))
            self._queued_frames += len(frames)
            self._condition.notify()

    def clear(self) -> list[str]:
        """Drops queued audio, tells Twilio to drop its buffer, and returns the marks that were dropped.

        Marks already sent are not returned: Twilio echoes those itself when it receives the clear.
        """
        with self._condition:
            if self._failed is not None or self._closing:
                return []
            dropped_marks = [item.name for item in self._queue if isinstance(item, _Mark)]
            self._queue.clear()
            self._queued_frames = 0
            self._queue.append(_Clear())
            self._condition.notify()
            return dropped_marks

    def close(self, timeout: float = 2) -> None:
        """Stops the thread; audio still queued is not sent (the call is ending)."""
        with self._condition:
            self._closing = True
            self._condition.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            message, on_sent = self._next_message()
            if message is None:
                return
            try:
                self._send(message)
            except BaseException as error:  # any failure of the transport ends playback
                with self._condition:
                    self._failed = error
                    self._queue.clear()
                    self._queued_frames = 0
                return
            if on_sent is not None:
                try:
                    on_sent()
                except Exception:  # the listener's failure is not the transport's: playback goes on
                    log.exception("on_start callback failed")

    def _next_message(self) -> tuple[str | None, Callable[[], None] | None]:
        """Waits until the head of the queue may be sent and returns it as a wire message, with what to call
        once it is sent; None when the player stops."""
        with self._condition:
            while True:
                if self._closing or self._failed is not None:
                    return None, None
                if not self._queue:
                    self._condition.wait()
                    continue
                item = self._queue[0]
                if isinstance(item, _Clear):
                    self._queue.popleft()
                    self._playback_started_at = None
                    return clear_message(self._stream_sid), None
                if isinstance(item, _Mark):
                    self._queue.popleft()
                    return mark_message(self._stream_sid, item.name), None
                wait = self._seconds_until_frame_may_go()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                self._queue.popleft()
                self._queued_frames -= 1
                self._sent_seconds += _FRAME_SECONDS
                return media_message(self._stream_sid, item.mulaw), item.on_sent

    def _seconds_until_frame_may_go(self) -> float:
        now = self._clock()
        if self._playback_started_at is None or now >= self._playback_started_at + self._sent_seconds:
            # Everything sent so far has played out: Twilio's buffer is empty, so start a new stretch.
            self._playback_started_at = now
            self._sent_seconds = 0.0
        elapsed = now - self._playback_started_at
        return (self._sent_seconds + _FRAME_SECONDS) - (elapsed + self._lead_seconds)
