"""Speech synthesis for the phone: pyttsx3 on espeak-ng, rendered to 8 kHz mu-law and cached.

Why one worker thread: espeak-ng keeps its voice, rate and output callback in process-wide state,
and pyttsx3's engine object is not thread-safe. One thread owns it; callers hand it requests through
a queue and wait, with a time limit, only for their own result, so a slow synthesis never blocks
another call's audio.

Why not `engine.save_to_file()` + `runAndWait()` (read from pyttsx3 2.99's espeak driver, and seen
here): `say()` renders and then shells out to `aplay`, useless on a server; `save_to_file()` writes
the WAV from inside espeak's callback when the message ends, but under CPU load it came back with a
file holding no audio. The driver's loop calls `stop()` at the end of every queued batch, which
cancels espeak if it still reports itself busy, and reports a cancelled message as "finished" like
a complete one; it also swallows exceptions of queued commands (an unknown voice silently keeps the
previous one), and prints "Audio saved to ..." on stdout for every render.

The robust way, still through pyttsx3: `pyttsx3.init("espeak")` initialises espeak-ng exactly once
per process (pyttsx3 guards that; espeak cannot be initialised twice), its driver sets voice and
rate directly, and its ctypes binding (`pyttsx3.drivers._espeak`) renders: we install our own
synthesis callback that collects every sample buffer, call `Synth`, and `Synchronize`, which
returns once espeak has delivered all audio (whether this espeak-ng build runs the callback on its
own thread or not). The end-of-message event confirms the audio is complete.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from types import MappingProxyType
from typing import Any

from telephony.audio import float_to_phone_mulaw, pcm16_to_float32, trim_silence

log = logging.getLogger(__name__)

DEFAULT_VOICES: Mapping[str, str] = MappingProxyType({"en": "gmw/en-us", "de": "gmw/de"})
MAX_TEXT_CHARS = 1000  # one render holds the single espeak worker; long texts belong in several prompts
_MIN_RATE_WPM, _MAX_RATE_WPM = 80, 450  # espeak-ng's usable range
_ESPEAK_LOCK = threading.Lock()  # espeak-ng state is per process, even across Synthesizer objects


class SynthesisError(RuntimeError):
    """Speech could not be synthesized (espeak-ng missing, failed or too slow)."""


class Synthesizer:
    """Text to phone audio (8 kHz mu-law bytes, no header), one espeak worker thread, LRU cache."""

    def __init__(
        self,
        voices: Mapping[str, str] = DEFAULT_VOICES,
        *,
        rate_wpm: int = 165,
        cache_size: int = 256,
        timeout_seconds: float = 10.0,
    ) -> None:
        if not voices:
            raise ValueError("voices must map at least one language code to an espeak voice id")
        if not _MIN_RATE_WPM <= rate_wpm <= _MAX_RATE_WPM:
            raise ValueError(f"rate_wpm must be within {_MIN_RATE_WPM}..{_MAX_RATE_WPM}, got {rate_wpm}")
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds}")
        self._voices = dict(voices)
        self._rate_wpm = rate_wpm
        self._cache_size = cache_size
        self._timeout = timeout_seconds
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._kept: dict[tuple[str, str], bytes] = {}  # out of the LRU's reach, served even once synthesis fails
        self._in_flight: dict[tuple[str, str], Future[bytes]] = {}
        self._lock = threading.Lock()
        self._requests: queue.SimpleQueue[tuple[tuple[str, str], Future[bytes]] | None] = queue.SimpleQueue()
        self._closed = False
        self.cache_hits = 0
        self.renders = 0
        ready: Future[None] = Future()
        self._worker = threading.Thread(target=self._run, args=(ready,), name="tts-espeak", daemon=True)
        self._worker.start()
        try:
            ready.result(timeout=self._timeout)
        except FutureTimeout:
            self.close()
            raise SynthesisError("espeak-ng did not start in time") from None
        except BaseException:
            self._worker.join(timeout=self._timeout)
            raise

    def synthesize(self, text: str, language: str) -> bytes:
        """Renders `text` in `language`'s voice; the same text again comes from the cache."""
        key = self._key(text, language)
        with self._lock:
            if self._closed:
                raise SynthesisError("the synthesizer is closed")
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.cache_hits += 1
                return cached
            future = self._in_flight.get(key)
            if future is None:
                # Identical requests that arrive together share one render.
                future = Future()
                self._in_flight[key] = future
                self._requests.put((key, future))
        try:
            return future.result(timeout=self._timeout)
        except FutureTimeout:
            raise SynthesisError(f"speech synthesis took longer than {self._timeout:g} s") from None

    def is_cached(self, text: str, language: str) -> bool:
        """Whether `text` would come from the cache now (a fixed prompt, or said a moment ago)."""
        with self._lock:
            return self._key(text, language) in self._cache

    def prerender(self, items: Iterable[tuple[str, str]]) -> None:
        """Renders fixed prompts, given as (text, language), ahead of the first call that needs them."""
        for text, language in items:
            self.synthesize(text, language)

    def keep(self, text: str, language: str) -> None:
        """Renders `text` now and keeps it for `kept`: what must still play once synthesis fails (the apology
        of a call that goes wrong)."""
        audio = self.synthesize(text, language)
        with self._lock:
            self._kept[self._key(text, language)] = audio

    def kept(self, text: str, language: str) -> bytes:
        """Audio rendered by `keep`, without asking espeak-ng: works when the worker has failed or closed.
        KeyError if it was never kept."""
        key = self._key(text, language)
        with self._lock:
            return self._kept[key]

    def close(self) -> None:
        """Stops the worker; pending and later requests fail with SynthesisError."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._requests.put(None)
        self._worker.join(timeout=self._timeout)

    def _key(self, text: str, language: str) -> tuple[str, str]:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text to synthesize must be a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"text to synthesize is {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
        if language not in self._voices:
            raise ValueError(f"no voice for language {language!r}; configured: {', '.join(self._voices)}")
        return language, text.strip()

    def _run(self, ready: Future[None]) -> None:
        try:
            espeak = _Espeak(self._voices)
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        while (request := self._requests.get()) is not None:
            key, future = request
            if not future.set_running_or_notify_cancel():
                continue
            try:
                audio = espeak.render(key[1], self._voices[key[0]], self._rate_wpm)
            except Exception as exc:
                log.warning("speech synthesis failed (%s)", type(exc).__name__)
                self._finish(key, future, error=exc)
            else:
                self._finish(key, future, audio=audio)
        self._fail_pending()

    def _finish(
        self, key: tuple[str, str], future: Future[bytes], *, audio: bytes = b"", error: Exception | None = None
    ) -> None:
        with self._lock:
            self._in_flight.pop(key, None)
            if error is None:
                self.renders += 1
                if self._cache_size:
                    self._cache[key] = audio
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        if error is None:
            future.set_result(audio)
        else:
            future.set_exception(error if isinstance(error, SynthesisError) else SynthesisError(str(error)))

    def _fail_pending(self) -> None:
        with self._lock:
            pending = list(self._in_flight.values())
            self._in_flight.clear()
        for future in pending:
            if not future.done():
                future.set_exception(SynthesisError("the synthesizer is closed"))


class _Espeak:
    """espeak-ng through pyttsx3's espeak driver; used only from the worker thread."""

    def __init__(self, voices: Mapping[str, str]) -> None:
        try:
            import pyttsx3
            from pyttsx3.drivers import _espeak
            from pyttsx3.drivers.espeak import EspeakDriver

            with _ESPEAK_LOCK:
                # Kept referenced: when pyttsx3's engine is collected its driver unhooks espeak's callback.
                self._engine = pyttsx3.init("espeak")
                available = {voice.id for voice in EspeakDriver.getProperty("voices")}
                get_rate = _espeak.dll.espeak_ng_GetSampleRate
                get_rate.restype = ctypes.c_int
                self._sample_rate = int(get_rate())
        except Exception as exc:
            raise SynthesisError(
                f"espeak-ng could not be loaded through pyttsx3 ({exc}); install it with `apt-get install espeak-ng`"
            ) from exc
        unknown = sorted({voice for voice in voices.values() if voice not in available})
        if unknown:
            raise ValueError(f"espeak-ng has no voice {', '.join(unknown)}; `espeak-ng --voices` lists ids like gmw/de")
        self._espeak: Any = _espeak
        self._driver: Any = EspeakDriver

    def render(self, text: str, voice: str, rate_wpm: int) -> bytes:
        espeak = self._espeak
        chunks: list[bytes] = []
        finished = threading.Event()

        def on_audio(wav: Any, num_samples: int, events: Any) -> int:
            if num_samples > 0:
                chunks.append(ctypes.string_at(wav, num_samples * ctypes.sizeof(ctypes.c_short)))
            i = 0
            while events[i].type != espeak.EVENT_LIST_TERMINATED:
                if events[i].type == espeak.EVENT_MSG_TERMINATED:
                    finished.set()
                i += 1
            return 0  # 0 = go on synthesizing

        with _ESPEAK_LOCK:
            self._driver.setProperty("voice", voice)
            self._driver.setProperty("rate", rate_wpm)
            espeak.SetSynthCallback(on_audio)
            status = espeak.Synth(text, flags=espeak.CHARS_UTF8)
            espeak.Synchronize()
        if status != 0:
            raise SynthesisError(f"espeak-ng refused the text (status {status})")
        if not finished.is_set():
            raise SynthesisError("espeak-ng stopped before the end of the text")
        samples = trim_silence(pcm16_to_float32(b"".join(chunks)), self._sample_rate)
        if samples.size == 0:
            raise SynthesisError("espeak-ng produced no audio for this text")
        return float_to_phone_mulaw(samples, self._sample_rate)
