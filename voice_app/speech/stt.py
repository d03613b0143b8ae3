"""Speech to text for one caller utterance, with faster-whisper on the CPU.

Decisions, each measured with base (int8, beam 1) on 8 kHz mu-law audio: 16 hotline phrases per
language spoken by espeak-ng (tests/speech/hotline_phrases.json) and jfk.flac.

- Domain vocabulary goes in as a per-language initial prompt, not as hotwords. The prompt cut the
  English WER from 0.33 to 0.26 and the German one from 1.18 to 0.75; hotwords did about as well
  (0.26 / 0.77) but made the model insert domain words that were not said ("Kandidatin
  Ratenzahlung" for "kann ich in Raten zahlen"), which would mislead intent detection. Beam 5
  gained nothing consistent (0.28 / 0.69) for more time.
- The prompt is given only for utterances of at least 1.2 s: on "yes", "ja" or "nein" Whisper tends
  to answer with the prompt itself ("ja" came back as "Der Anrufer fragt nach ... dem Kontostand").
  Should a longer utterance still come back with four prompt words in a row, it is decoded again
  without the prompt.
- No Silero VAD filter: the utterance is already cut by our own VAD (speech.turns). With the filter
  English results were identical; German ones were worse in two of four hint settings, better in
  one, the same in one.
- Greedy decoding at temperature 0 only, with a token budget from the audio's length: Whisper's
  temperature fallback re-decoded noise and garbled German up to six times (19 s for 2 s of noise,
  11 s for one German phrase) without a better WER; loops are dropped by their compression ratio.
- The encoder sees the utterance plus 1 s, at least 10 s, not faster-whisper's fixed 30 s window
  (benchmarks/transcription_window.py). Floors of 1, 3 and 5 s made German worse than the full
  window (WER 0.84-0.94 against 0.81 over espeak-ng phrases; English 0.29-0.44 against 0.31);
  10 s did not (German 0.82, English 0.26), at a tenth of the encoder time or less. What a sized window
  decodes into a loop or with low log-probability is decoded again from the full window; language
  detection reads the same encoder output instead of encoding the audio a second time.
- Utterances that wait for the model at the same time (many calls at once) are decoded as one batch
  (`batch_size`): each encoded on its own, then one CTranslate2 `generate` per window and prompt length,
  with the decoding options faster-whisper uses, so each transcript is the one it would get alone
  (tests/speech/test_batching.py). A batch starts as soon as the model is free: a lone utterance
  does not wait for company. What needs the full window is decoded again in a second batch; output
  that echoes the prompt, may have been cut by its token budget or leaves audio after the first
  window is decoded again alone, through faster-whisper's own segment loop.
- Text on silence and noise is dropped (see _is_hallucination): segments Whisper itself rates as
  not speech, loops, subtitle credits, and the phrases Whisper invents on silence ("you",
  "Thank you", "Vielen Dank") when a sign of "not speech" is there, so a real "thank you" stays.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import Segment, TranscriptionOptions, get_compression_ratio, get_suppressed_tokens

from voice_app.speech.model_store import BUNDLED_MODELS, ModelUnavailable

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100  # Whisper's log-mel frames: one per 10 ms
FULL_WINDOW_SECONDS = 30  # what Whisper was trained on, and what faster-whisper pads every input to
TIME_PRECISION = 0.02  # seconds per timestamp token
ENCODER_WINDOWS = ("utterance", "full")

DEFAULT_DOMAIN_PROMPTS: Mapping[str, str] = MappingProxyType(
    {
        "en": "The caller asks about an invoice, a payment, a refund, instalments or the balance.",
        "de": "Der Anrufer fragt nach einer Rechnung, einer Zahlung, einer Rückerstattung, Raten oder dem Kontostand.",
    }
)
# Off: measured no better than the prompts and prone to inserting unsaid domain words (see above).
# The lists tried were "invoice instalment refund payment balance agent" and
# "Rechnung Ratenzahlung Rate Rückerstattung Zahlung Kontostand Mitarbeiter".
DEFAULT_HOTWORDS: Mapping[str, str] = MappingProxyType({})

PROMPT_MIN_SECONDS = 1.2
PROMPT_ECHO_WORDS = 4  # this many prompt words in a row in the output count as the prompt echoed
# Language switching when the language is not given: another supported language replaces the
# fallback only when detected with at least this probability. Wrongly switching the bot's language
# costs more than staying in it. On 8 kHz espeak audio, English phrases were detected as English with
# 0.38-0.92, German ones as German with 0.02-0.99, and "ich möchte mit einem Mitarbeiter sprechen"
# as English with 0.71: 0.75 switched on none of the wrong ones, and on 10/16 English and 3/16 German.
SWITCH_MIN_PROBABILITY = 0.75
# Greedy decoding only, no temperature fallback: the fallback re-decoded noise and garbled German
# up to six times (19 s for 2 s of noise, 11 s for one German phrase) without a better WER over our
# phrases; loops are bounded by the token budget below and dropped by their compression ratio.
TEMPERATURE = 0.0
# Token budget per decode, from the audio's length: fast German runs about 5 tokens a second.
MAX_TOKENS_PER_SECOND = 6
MIN_TOKENS = 16
MAX_TOKENS = 200  # the prompt may take up to 223 of Whisper's 448 positions
SILENCE_RMS_DBFS = -55.0  # quieter than this is line hiss: no need to ask the model
# Whisper's own "no speech" rule, applied per segment (faster-whisper applies it per 30 s window).
NO_SPEECH_PROB = 0.6
LOW_AVG_LOGPROB = -1.0
MAX_COMPRESSION_RATIO = 2.4  # gzip ratio above which a segment is a loop ("a refund, a refund, ...")
# A phrase Whisper is known to invent on silence is dropped when either sign of "not speech" is
# there. Measured: noise gave "you" with no_speech 0.71-0.75 and logprob -1.3; a real espeak
# "thank you" had 0.24 and -0.66, "bye" 0.19 and -0.54.
SUSPECT_NO_SPEECH_PROB = 0.5
# The encoder window sized to the utterance (see benchmarks/transcription_window.py for the numbers):
# the audio plus a margin, never shorter than the floor. Whatever comes back looping or with a low
# average log-probability is decoded again from the full 30 s window.
DEFAULT_ENCODER_FLOOR_SECONDS = 10.0
DEFAULT_ENCODER_MARGIN_SECONDS = 1.0
REPEATED_WORDS = 3  # a word said this often in a row, or a group of words this often at all, is a loop

_ALWAYS_HALLUCINATED = re.compile(r"untertitel|amara\.org|www\.|\.com\b|zdf|copyright", re.IGNORECASE)
_SILENCE_PHRASES = frozenset(
    {
        "you",
        "thank you",
        "thank you very much",
        "thank you so much",
        "thanks for watching",
        "thank you for watching",
        "thank you so much for watching",
        "please subscribe",
        "bye",
        "bye bye",
        "vielen dank",
        "danke",
        "danke schön",
        "vielen dank fürs zuschauen",
        "danke fürs zuschauen",
        "bis zum nächsten mal",
        "tschüss",
    }
)


@dataclass(frozen=True)
class Transcript:
    """What was heard in one utterance.

    confidence = exp(avg_logprob) * (1 - no_speech_prob), 0 when no text was kept: the geometric mean
    of the kept tokens' probabilities, discounted by how likely Whisper thinks there was no speech.
    Measured on phone audio: jfk.flac 0.78; espeak phrases 0.3-0.85 (lower when misheard); single
    words such as "yes" or "nein" 0.15-0.35, since Whisper is unsure short clips hold speech at all;
    time-reversed speech (sound of speech, no words) 0.1-0.2. Noise gives no text, so 0.

    language_probability is 1.0 when the caller of transcribe() gave the language, else the
    detected probability of the reported language. When no text is kept, avg_logprob is -inf,
    no_speech_prob 1.0, and language the given language or the fallback.

    encoder_window_seconds is the encoder window the kept output came from: 30 for the full window
    (configured, or fallen back to), less when sized to the utterance; 0 when the model was not asked.
    batch_size is how many utterances were decoded together with this one, itself included: 1 alone,
    0 when the model was not asked.
    """

    text: str
    language: str
    language_probability: float
    avg_logprob: float
    no_speech_prob: float
    confidence: float
    audio_seconds: float
    processing_seconds: float
    encoder_window_seconds: float = 0.0
    batch_size: int = 0


@dataclass(frozen=True)
class _Heard:
    """The model's answer for one utterance, before the hallucination filter."""

    language: str
    language_probability: float
    segments: list[Segment]
    window_seconds: float
    batch_size: int


@dataclass
class _Waiting:
    """An utterance handed to the batcher, and the answer its caller waits for."""

    features: np.ndarray
    language: str | None
    fallback: str
    done: threading.Event = field(default_factory=threading.Event)
    heard: _Heard | None = None
    error: Exception | None = None


class _Batcher:
    """Decodes what waits together: `workers` threads, each taking up to `batch_size` waiting utterances
    as soon as one is there (no waiting for a batch to fill), then one of the model's slots.

    The threads are daemons, yet the process cannot exit in the middle of a decode (CTranslate2 aborts if it does):
    every utterance being decoded has a caller waiting for it, on a recogniser thread, which is not a daemon."""

    def __init__(
        self,
        decode: Callable[[list[_Waiting]], list[_Heard]],
        slots: threading.BoundedSemaphore,
        *,
        workers: int,
        batch_size: int,
    ) -> None:
        self._decode = decode
        self._slots = slots
        self._batch_size = batch_size
        self._waiting: deque[_Waiting] = deque()
        self._arrived = threading.Condition()
        for number in range(workers):
            threading.Thread(target=self._serve, name=f"stt-batcher-{number}", daemon=True).start()

    def decode(self, waiting: _Waiting) -> _Heard:
        """Blocks until the utterance's batch is decoded; raises what failed that batch."""
        with self._arrived:
            self._waiting.append(waiting)
            self._arrived.notify()
        waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error
        assert waiting.heard is not None
        return waiting.heard

    def _serve(self) -> None:
        while True:
            with self._arrived:
                self._arrived.wait_for(lambda: bool(self._waiting))
                batch = [self._waiting.popleft() for _ in range(min(self._batch_size, len(self._waiting)))]
            try:
                with self._slots:
                    for waiting, heard in zip(batch, self._decode(batch), strict=True):
                        waiting.heard = heard
            except Exception as exc:  # fails this batch's utterances only; the next batch gets a fresh start
                for waiting in batch:
                    waiting.error = exc
            finally:
                for waiting in batch:
                    if waiting.heard is None and waiting.error is None:
                        waiting.error = RuntimeError("the batch was abandoned")
                    waiting.done.set()


_models: dict[tuple[str, str, int, int], tuple[WhisperModel, threading.BoundedSemaphore]] = {}
_models_lock = threading.Lock()


def _shared_model(
    model_path: str, compute_type: str, cpu_threads: int, workers: int
) -> tuple[WhisperModel, threading.BoundedSemaphore]:
    """One loaded model per process and configuration: 150 MB and 0.6 s to load, not per call."""
    key = (model_path, compute_type, cpu_threads, workers)
    with _models_lock:
        if key not in _models:
            try:
                model = WhisperModel(
                    model_path,
                    device="cpu",
                    compute_type=compute_type,
                    cpu_threads=cpu_threads,
                    num_workers=workers,
                    local_files_only=True,
                )
            except Exception as exc:
                raise ModelUnavailable(
                    f"cannot load speech model {model_path!r} ({type(exc).__name__}: {exc}). Use a bundled "
                    f"model ({', '.join(BUNDLED_MODELS)}), a CTranslate2 model directory, or a model already "
                    "in the local Hugging Face cache: nothing is downloaded at run time"
                ) from exc
            _models[key] = (model, threading.BoundedSemaphore(workers))
        return _models[key]


class Transcriber:
    """Transcribes utterances with a process-wide shared model; safe to call from many threads.

    `workers` decodes run at once (CTranslate2's num_workers); further callers wait for a free slot.
    `domain_prompts` and `hotwords` map a language code to its hint text; None means the defaults.
    `encoder_window` "utterance" encodes the audio plus `encoder_margin_seconds`, at least
    `encoder_floor_seconds`, and falls back to the full window when that output loops or is unsure;
    "full" always encodes Whisper's 30 s window, as faster-whisper does.
    `batch_size` above 1 decodes up to that many utterances that wait at the same time as one batch
    (see the module's notes); 1 decodes each on its own, in turn.
    """

    def __init__(
        self,
        model_path: str,
        *,
        compute_type: str = "int8",
        cpu_threads: int = 0,
        workers: int = 1,
        beam_size: int = 1,
        domain_prompts: Mapping[str, str] | None = None,
        hotwords: Mapping[str, str] | None = None,
        supported_languages: Sequence[str] = ("de", "en"),
        encoder_window: str = "utterance",
        encoder_floor_seconds: float = DEFAULT_ENCODER_FLOOR_SECONDS,
        encoder_margin_seconds: float = DEFAULT_ENCODER_MARGIN_SECONDS,
        batch_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if cpu_threads < 0:
            raise ValueError(f"cpu_threads must be >= 0 (0 lets CTranslate2 choose), got {cpu_threads}")
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if not supported_languages:
            raise ValueError("supported_languages must name at least one language")
        if encoder_window not in ENCODER_WINDOWS:
            raise ValueError(f"encoder_window must be one of {', '.join(ENCODER_WINDOWS)}, got {encoder_window!r}")
        if not 0 < encoder_floor_seconds <= FULL_WINDOW_SECONDS:
            raise ValueError(
                f"encoder_floor_seconds must be in (0, {FULL_WINDOW_SECONDS}], got {encoder_floor_seconds}"
            )
        if not 0 <= encoder_margin_seconds <= FULL_WINDOW_SECONDS:
            raise ValueError(
                f"encoder_margin_seconds must be in [0, {FULL_WINDOW_SECONDS}], got {encoder_margin_seconds}"
            )
        self._model, self._slots = _shared_model(model_path, compute_type, cpu_threads, workers)
        if not self._model.model.is_multilingual and tuple(supported_languages) != ("en",):
            raise ValueError(f"{model_path} is an English-only model: pass supported_languages=('en',)")
        self._beam_size = beam_size
        self._prompts = dict(DEFAULT_DOMAIN_PROMPTS if domain_prompts is None else domain_prompts)
        self._hotwords = dict(DEFAULT_HOTWORDS if hotwords is None else hotwords)
        self._languages = tuple(supported_languages)
        self._sized_window = encoder_window == "utterance"
        self._floor_seconds = encoder_floor_seconds
        self._margin_seconds = encoder_margin_seconds
        self._batcher = (
            _Batcher(self._decode_batch, self._slots, workers=workers, batch_size=batch_size)
            if batch_size > 1
            else None
        )

    @property
    def supported_languages(self) -> tuple[str, ...]:
        return self._languages

    def warm_up(self) -> None:
        """Decodes a short tone in each window size used, so the first caller does not pay for lazy initialisation."""
        tone = 0.1 * np.sin(2 * np.pi * 220 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE).astype(np.float32)
        features = self.log_mel(tone)
        with self._slots:
            # Both windows: the first full-window fallback would otherwise pay for it during a call.
            for window in {self.window_seconds(tone.size / SAMPLE_RATE), FULL_WINDOW_SECONDS}:
                self._decode(features, self.encode(features, window), self._languages[0])

    def transcribe(
        self, audio_16k: np.ndarray, language: str | None = None, *, fallback_language: str | None = None
    ) -> Transcript:
        """Transcribes mono float audio at 16 kHz.

        With `language` given, decodes in that language (language_probability is then 1.0). Without
        it, detects the language: the most probable supported language is used if its probability is
        at least SWITCH_MIN_PROBABILITY, otherwise `fallback_language` (default: the first supported
        language) is used. So the dialogue passes its current language as the fallback and
        learns from `Transcript.language` when the caller clearly speaks another supported language.
        Detection reads the same encoder output the decoder uses, so it costs one decoder step, not
        another encoder pass. An empty transcript reports the given or fallback language, since
        nothing was heard to switch on.
        """
        started = time.perf_counter()
        audio = self._validate_audio(audio_16k)
        fallback = self._validate_language(fallback_language or self._languages[0], "fallback_language")
        if language is not None:
            self._validate_language(language, "language")
        audio_seconds = audio.size / SAMPLE_RATE
        if audio.size == 0 or _rms_dbfs(audio) < SILENCE_RMS_DBFS:
            return _empty(language or fallback, audio_seconds, started)
        features = self.log_mel(audio)
        if self._batcher is None:
            with self._slots:
                heard = self._decode_alone(features, language, fallback)
        else:
            heard = self._batcher.decode(_Waiting(features, language, fallback))
        kept = [s for s in heard.segments if not _is_hallucination(s)]
        text = " ".join(s.text.strip() for s in kept).strip()
        if not text:
            return replace(
                _empty(language or fallback, audio_seconds, started, heard.window_seconds), batch_size=heard.batch_size
            )
        weights = [max(s.end - s.start, 0.01) for s in kept]
        avg_logprob = float(np.average([s.avg_logprob for s in kept], weights=weights))
        no_speech_prob = max(s.no_speech_prob for s in kept)
        return Transcript(
            text=text,
            language=heard.language,
            language_probability=heard.language_probability,
            avg_logprob=avg_logprob,
            no_speech_prob=no_speech_prob,
            confidence=_confidence(avg_logprob, no_speech_prob),
            audio_seconds=audio_seconds,
            processing_seconds=time.perf_counter() - started,
            encoder_window_seconds=heard.window_seconds,
            batch_size=heard.batch_size,
        )

    def _decode_alone(self, features: np.ndarray, language: str | None, fallback: str) -> _Heard:
        window = self.window_seconds((features.shape[-1] - 1) / FRAMES_PER_SECOND)
        chosen, language_probability, segments = self._transcribe_window(features, window, language, fallback)
        if window < FULL_WINDOW_SECONDS and needs_full_window(segments):
            return self._full_window(features, language, fallback)
        return _Heard(chosen, language_probability, segments, window, 1)

    def _full_window(self, features: np.ndarray, language: str | None, fallback: str) -> _Heard:
        chosen, language_probability, segments = self._transcribe_window(
            features, FULL_WINDOW_SECONDS, language, fallback
        )
        return _Heard(chosen, language_probability, segments, FULL_WINDOW_SECONDS, 1)

    def _decode_batch(self, batch: list[_Waiting]) -> list[_Heard]:
        """The batched counterpart of _decode_alone: what needs the full window is decoded again in a second batch."""
        heard = self._decode_windows(
            batch, {i: self.window_seconds((w.features.shape[-1] - 1) / FRAMES_PER_SECOND) for i, w in enumerate(batch)}
        )
        again = {
            index: float(FULL_WINDOW_SECONDS)
            for index, found in heard.items()
            if found.window_seconds < FULL_WINDOW_SECONDS and needs_full_window(found.segments)
        }
        if again:
            heard.update(self._decode_windows(batch, again))
        return [replace(heard[index], batch_size=len(batch)) for index in range(len(batch))]

    def _decode_windows(self, batch: list[_Waiting], windows: Mapping[int, float]) -> dict[int, _Heard]:
        """Decodes batch[i] from an encoder window of windows[i] seconds: per window length, language detection
        from the encoder output, then _decode_together."""
        by_window: defaultdict[float, list[int]] = defaultdict(list)
        for index, window in windows.items():
            by_window[window].append(index)
        heard = {}
        for window, indices in by_window.items():
            # Encoded one by one: a batched encoder pass took up to twice as long on this CPU (16 utterances,
            # 10 s windows: 2.4 s against 1.0 s), while a batched generate took a third of the time.
            rows = np.stack([np.asarray(self.encode(batch[i].features, window))[0] for i in indices])
            undetected = any(batch[i].language is None for i in indices) and len(self._languages) > 1
            detected = self._model.model.detect_language(_storage(rows)) if undetected else None
            choices = []
            for row, index in enumerate(indices):
                given = batch[index].language
                if given is not None:
                    choices.append((given, 1.0))
                elif detected is None:
                    choices.append((self._languages[0], 1.0))
                else:
                    choices.append(self._pick_language(detected[row], batch[index].fallback))
            decoded = self._decode_together(
                [(batch[i].features, rows[row], choices[row][0]) for row, i in enumerate(indices)]
            )
            for index, (language, probability), segments in zip(indices, choices, decoded, strict=True):
                heard[index] = _Heard(language, probability, segments, window, 1)
        return heard

    def _decode_together(self, items: list[tuple[np.ndarray, np.ndarray, str]]) -> list[list[Segment]]:
        """_decode for several utterances (features, encoder output row, language) at once."""
        plans = [self._plan(features, language) for features, _, language in items]
        by_prompt_length: defaultdict[int, list[int]] = defaultdict(list)
        for index, plan in enumerate(plans):
            by_prompt_length[len(plan.prompt_tokens)].append(index)
        segments: list[list[Segment]] = [[] for _ in items]
        for indices in by_prompt_length.values():
            results = self._model.model.generate(
                _storage(np.stack([items[i][1] for i in indices])),
                [plans[i].prompt_tokens for i in indices],
                max_length=max(len(plans[i].prompt_tokens) + plans[i].options.max_new_tokens for i in indices),
                **_generate_options(plans[indices[0]].options),
            )
            for index, result in zip(indices, results, strict=True):
                features, encoder_rows, language = items[index]
                plan = plans[index]
                if len(result.sequences_ids[0]) >= plan.options.max_new_tokens - 1:
                    # It may have been cut by its own token budget alone: decode it as alone.
                    found = self._run(features, _storage(encoder_rows), language, plan.prompt, plan.hotwords)
                else:
                    found = self._segments_from(features, plan, result)
                hints = " ".join(h for h in (plan.prompt, plan.hotwords) if h)
                if hints and _echoes(" ".join(s.text for s in found), hints):
                    found = self._run(features, _storage(encoder_rows), language, None, None)
                segments[index] = found
        return segments

    def _plan(self, features: np.ndarray, language: str) -> _DecodePlan:
        audio_seconds = (features.shape[-1] - 1) / FRAMES_PER_SECOND
        prompt = self._prompts.get(language) if audio_seconds >= PROMPT_MIN_SECONDS else None
        hotwords = self._hotwords.get(language)
        tokenizer = self._tokenizer(language)
        options = self._options(tokenizer, audio_seconds, prompt, hotwords)
        previous = tokenizer.encode(" " + prompt.strip()) if prompt is not None else []
        prompt_tokens = self._model.get_prompt(tokenizer, previous, without_timestamps=False, hotwords=hotwords)
        return _DecodePlan(tokenizer, options, prompt, hotwords, prompt_tokens)

    def _segments_from(
        self, features: np.ndarray, plan: _DecodePlan, result: ctranslate2.models.WhisperGenerationResult
    ) -> list[Segment]:
        """The first window of faster-whisper's segment loop (generate_segments), from a generate result; the
        rest of the audio, should the output end before it does, goes through that loop itself."""
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) ** plan.options.length_penalty / (len(tokens) + 1)
        compression_ratio = get_compression_ratio(plan.tokenizer.decode(tokens).strip())
        content_frames = features.shape[-1] - 1
        segment_size = min(self._model.feature_extractor.nb_max_frames, content_frames)
        if result.no_speech_prob > NO_SPEECH_PROB and not avg_logprob > LOW_AVG_LOGPROB:
            pieces, seek = [], segment_size  # Whisper's "no speech": the window is skipped
        else:
            pieces, seek, _ = self._model._split_segments_by_timestamps(
                tokenizer=plan.tokenizer,
                tokens=tokens,
                time_offset=0.0,
                segment_size=segment_size,
                segment_duration=segment_size * self._model.feature_extractor.time_per_frame,
                seek=0,
            )
        segments: list[Segment] = []
        for piece in pieces:
            text = plan.tokenizer.decode(piece["tokens"])
            if piece["start"] == piece["end"] or not text.strip():
                continue
            segments.append(
                Segment(
                    id=len(segments) + 1,
                    seek=0,
                    start=piece["start"],
                    end=piece["end"],
                    text=text,
                    tokens=piece["tokens"],
                    avg_logprob=avg_logprob,
                    compression_ratio=compression_ratio,
                    no_speech_prob=result.no_speech_prob,
                    words=None,
                    temperature=TEMPERATURE,
                )
            )
        if seek < content_frames:
            # As faster-whisper: the initial prompt only for the first window (condition_on_previous_text off).
            rest = replace(plan.options, initial_prompt=None, clip_timestamps=[seek / FRAMES_PER_SECOND])
            segments += self._model.generate_segments(features, plan.tokenizer, rest, False, None)
        return segments

    def window_seconds(self, audio_seconds: float) -> float:
        """The encoder window for an utterance this long: sized to it, or Whisper's full 30 s."""
        if not self._sized_window:
            return FULL_WINDOW_SECONDS
        return min(FULL_WINDOW_SECONDS, max(self._floor_seconds, audio_seconds + self._margin_seconds))

    def _transcribe_window(
        self, features: np.ndarray, window_seconds: float, language: str | None, fallback: str
    ) -> tuple[str, float, list[Segment]]:
        encoded = self.encode(features, window_seconds)
        if language is None:
            chosen, language_probability = self._choose_language(encoded, fallback)
        else:
            chosen, language_probability = language, 1.0
        return chosen, language_probability, self._decode(features, encoded, chosen)

    def log_mel(self, audio_16k: np.ndarray) -> np.ndarray:
        """The model's log-mel features of the audio (mels x frames, one frame more than 10 ms steps)."""
        return self._model.feature_extractor(self._validate_audio(audio_16k))

    def encode(self, features: np.ndarray, window_seconds: float) -> ctranslate2.StorageView:
        """One encoder pass over `log_mel` features, padded or cut to a window of this length."""
        return self._model.encode(self._window_features(features, window_seconds))

    @staticmethod
    def _window_features(features: np.ndarray, window_seconds: float) -> np.ndarray:
        # Whisper's first convolution halves the frames: an even count keeps every frame.
        frames = 2 * math.ceil(window_seconds * FRAMES_PER_SECOND / 2)
        return pad_or_trim(features[:, :-1], frames)

    def _choose_language(self, encoded: ctranslate2.StorageView, fallback: str) -> tuple[str, float]:
        if len(self._languages) == 1:
            return self._languages[0], 1.0
        return self._pick_language(self._model.model.detect_language(encoded)[0], fallback)

    def _pick_language(self, detected: Sequence[tuple[str, float]], fallback: str) -> tuple[str, float]:
        probs = {token.strip("<|>"): p for token, p in detected}
        best = max(self._languages, key=lambda code: probs.get(code, 0.0))
        if best != fallback and probs.get(best, 0.0) >= SWITCH_MIN_PROBABILITY:
            return best, probs[best]
        return fallback, probs.get(fallback, 0.0)

    def _decode(self, features: np.ndarray, encoded: ctranslate2.StorageView, language: str) -> list[Segment]:
        audio_seconds = (features.shape[-1] - 1) / FRAMES_PER_SECOND
        prompt = self._prompts.get(language) if audio_seconds >= PROMPT_MIN_SECONDS else None
        hotwords = self._hotwords.get(language)
        segments = self._run(features, encoded, language, prompt, hotwords)
        hints = " ".join(h for h in (prompt, hotwords) if h)
        if hints and _echoes(" ".join(s.text for s in segments), hints):
            segments = self._run(features, encoded, language, None, None)
        return segments

    def _run(
        self,
        features: np.ndarray,
        encoded: ctranslate2.StorageView,
        language: str,
        prompt: str | None,
        hotwords: str | None,
    ) -> list[Segment]:
        """faster-whisper's own segment loop, handed the encoder output of the first window."""
        tokenizer = self._tokenizer(language)
        options = self._options(tokenizer, (features.shape[-1] - 1) / FRAMES_PER_SECOND, prompt, hotwords)
        return list(self._model.generate_segments(features, tokenizer, options, False, encoded))

    def _tokenizer(self, language: str) -> Tokenizer:
        return Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual, "transcribe", language)

    def _options(
        self, tokenizer: Tokenizer, audio_seconds: float, prompt: str | None, hotwords: str | None
    ) -> TranscriptionOptions:
        return TranscriptionOptions(
            beam_size=self._beam_size,
            best_of=1,
            patience=1.0,
            length_penalty=1.0,
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            log_prob_threshold=LOW_AVG_LOGPROB,
            no_speech_threshold=NO_SPEECH_PROB,
            compression_ratio_threshold=MAX_COMPRESSION_RATIO,
            condition_on_previous_text=False,
            prompt_reset_on_temperature=0.5,
            temperatures=[TEMPERATURE],
            initial_prompt=prompt,
            prefix=None,
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1]) or ()),
            without_timestamps=False,
            max_initial_timestamp=1.0,
            word_timestamps=False,
            prepend_punctuations="\"'“¿([{-",
            append_punctuations="\"'.。,，!！?？:：”)]}、",
            multilingual=False,
            max_new_tokens=_token_budget(audio_seconds),
            clip_timestamps="0",
            hallucination_silence_threshold=None,
            hotwords=hotwords,
        )

    def _validate_language(self, code: str, what: str) -> str:
        if code not in self._languages:
            raise ValueError(f"{what} {code!r} is not supported; supported: {', '.join(self._languages)}")
        return code

    @staticmethod
    def _validate_audio(audio: np.ndarray) -> np.ndarray:
        audio = np.asarray(audio)
        if audio.ndim != 1:
            raise ValueError(f"audio must be mono (1-D), got shape {audio.shape}")
        if not np.issubdtype(audio.dtype, np.floating):
            raise ValueError(f"audio must be float samples in -1..1 at 16 kHz, got dtype {audio.dtype}")
        audio = audio.astype(np.float32, copy=False)
        if not np.all(np.isfinite(audio)):
            raise ValueError("audio contains NaN or infinite samples")
        return audio


@dataclass(frozen=True)
class _DecodePlan:
    tokenizer: Tokenizer
    options: TranscriptionOptions
    prompt: str | None
    hotwords: str | None
    prompt_tokens: list[int]


def _generate_options(options: TranscriptionOptions) -> dict[str, object]:
    """CTranslate2 generate options as faster-whisper's generate_with_fallback passes them at temperature 0."""
    return {
        "beam_size": options.beam_size,
        "patience": options.patience,
        "length_penalty": options.length_penalty,
        "repetition_penalty": options.repetition_penalty,
        "no_repeat_ngram_size": options.no_repeat_ngram_size,
        "return_scores": True,
        "return_no_speech_prob": True,
        "suppress_blank": options.suppress_blank,
        "suppress_tokens": options.suppress_tokens,
        "max_initial_timestamp_index": round(options.max_initial_timestamp / TIME_PRECISION),
    }


def _storage(rows: np.ndarray) -> ctranslate2.StorageView:
    """Encoder output, one row per utterance (or a single utterance's), as the model takes it."""
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(rows if rows.ndim == 3 else rows[np.newaxis]))


def _token_budget(seconds: float) -> int:
    return min(MAX_TOKENS, MIN_TOKENS + math.ceil(MAX_TOKENS_PER_SECOND * min(seconds, 30.0)))


def _confidence(avg_logprob: float, no_speech_prob: float) -> float:
    return float(min(1.0, math.exp(avg_logprob)) * (1.0 - no_speech_prob))


def _is_hallucination(segment: Segment) -> bool:
    text = segment.text.strip()
    if not text:
        return True
    if segment.no_speech_prob > NO_SPEECH_PROB and segment.avg_logprob < LOW_AVG_LOGPROB:
        return True
    if segment.compression_ratio > MAX_COMPRESSION_RATIO:
        return True
    if _ALWAYS_HALLUCINATED.search(text):
        return True
    return _normalise(text) in _SILENCE_PHRASES and (
        segment.no_speech_prob > SUSPECT_NO_SPEECH_PROB or segment.avg_logprob < LOW_AVG_LOGPROB
    )


def needs_full_window(segments: Sequence[Segment]) -> bool:
    """Whether a sized window's output looks broken: looping, or decoded with low confidence.

    Text-free output is left alone: noise comes back empty from either window, and the full window
    would only cost time on it.
    """
    return any(
        segment.compression_ratio > MAX_COMPRESSION_RATIO
        or segment.avg_logprob < LOW_AVG_LOGPROB
        or _repeats(_normalise(segment.text).split())
        for segment in segments
        if segment.text.strip()
    )


def _repeats(words: list[str]) -> bool:
    """A loop: one word said REPEATED_WORDS times in a row, or a group of words that often anywhere."""
    if any(len(set(words[i : i + REPEATED_WORDS])) == 1 for i in range(len(words) - REPEATED_WORDS + 1)):
        return True
    for size in range(2, len(words) // REPEATED_WORDS + 1):
        groups = Counter(tuple(words[i : i + size]) for i in range(len(words) - size + 1))
        if max(groups.values()) >= REPEATED_WORDS:
            return True
    return False


def _echoes(text: str, hints: str) -> bool:
    words, hint_words = _normalise(text).split(), _normalise(hints).split()
    n = PROMPT_ECHO_WORDS
    hint_grams = {tuple(hint_words[i : i + n]) for i in range(len(hint_words) - n + 1)}
    return any(tuple(words[i : i + n]) in hint_grams for i in range(len(words) - n + 1))


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _rms_dbfs(audio: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20 * math.log10(max(rms, 1e-10))


def _empty(language: str, audio_seconds: float, started: float, window_seconds: float = 0.0) -> Transcript:
    return Transcript(
        text="",
        language=language,
        language_probability=0.0,
        avg_logprob=float("-inf"),
        no_speech_prob=1.0,
        confidence=0.0,
        audio_seconds=audio_seconds,
        processing_seconds=time.perf_counter() - started,
        encoder_window_seconds=window_seconds,
    )
