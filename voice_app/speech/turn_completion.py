"""Has the caller finished their turn? Pipecat's Smart Turn v3.2 judges it from the sound of the last words.

The model (a Whisper-tiny encoder with a classifier, int8 ONNX) takes the last 8 s of 16 kHz audio as 80-bin
Whisper log-mel features, zero-padded at the front when the turn is shorter, and the window normalised to zero mean
and unit variance first, and gives the probability that the turn is complete. One ONNX session serves every
call of the process: onnxruntime's `run` may be called from several threads at once.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnxruntime
from faster_whisper.feature_extractor import FeatureExtractor

from telephony.audio import PHONE_RATE, pcm16_to_float32, resample
from voice_app.speech.model_store import smart_turn_model

MODEL_RATE = 16000
WINDOW_SECONDS = 8
_WINDOW_SAMPLES = MODEL_RATE * WINDOW_SECONDS


class TurnCompletion:
    """The probability that a turn, given as the phone's 8 kHz PCM16, is complete."""

    def __init__(self, model_path: Path, *, threads: int = 1) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        features = self._session.get_inputs()[0]
        self._input_name = features.name
        frames = features.shape[-1]
        if features.shape[-2:] != [80, WINDOW_SECONDS * MODEL_RATE // 160] or not isinstance(frames, int):
            raise ValueError(f"{model_path} is not a Smart Turn v3 model: its input is {features.shape}")
        # The extractor keeps no state between calls but caches its filters; one per thread avoids sharing it.
        self._local = threading.local()

    def probability(self, pcm16: bytes) -> float:
        audio = resample(pcm16_to_float32(pcm16), PHONE_RATE, MODEL_RATE)
        return self.probability_16k(audio)

    def probability_16k(self, audio: np.ndarray) -> float:
        """The same for float32 audio at 16 kHz."""
        window = np.zeros(_WINDOW_SAMPLES, np.float32)
        tail = np.asarray(audio, np.float32)[-_WINDOW_SAMPLES:]
        window[_WINDOW_SAMPLES - len(tail) :] = tail
        # The whole window, padding included, as the model's reference pipeline does it.
        window = (window - window.mean()) / np.sqrt(window.var() + 1e-7)
        features = self._extractor()(window, padding=0)[np.newaxis].astype(np.float32)
        (scores,) = self._session.run(None, {self._input_name: features})
        return float(np.clip(scores.reshape(-1)[0], 0.0, 1.0))

    def _extractor(self) -> FeatureExtractor:
        extractor: FeatureExtractor | None = getattr(self._local, "extractor", None)
        if extractor is None:
            extractor = FeatureExtractor(feature_size=80, sampling_rate=MODEL_RATE, chunk_length=WINDOW_SECONDS)
            self._local.extractor = extractor
        return extractor


_shared: dict[Path, TurnCompletion] = {}
_shared_lock = threading.Lock()


def shared_turn_completion(model_cache_dir: Path) -> TurnCompletion:
    """The process's one Smart Turn session, loaded (and its file verified) on first use, not at every call."""
    with _shared_lock:
        if model_cache_dir not in _shared:
            _shared[model_cache_dir] = TurnCompletion(smart_turn_model(model_cache_dir))
        return _shared[model_cache_dir]
