"""Audio as the phone network carries it: 8 kHz mono G.711 mu-law in 20 ms frames.

Conversions between mu-law, 16-bit PCM and float samples, resampling (soxr) and framing.
"""

from __future__ import annotations

import io
import sys
import warnings
import wave
from pathlib import Path

import numpy as np
import soundfile
import soxr

with warnings.catch_warnings():
    # audioop is the C implementation of G.711 in the standard library up to 3.12;
    # from 3.13 on the audioop-lts package provides the same module.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

PHONE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = PHONE_RATE * FRAME_MS // 1000
MULAW_FRAME_BYTES = FRAME_SAMPLES  # one byte per sample
PCM16_FRAME_BYTES = FRAME_SAMPLES * 2
MULAW_SILENCE_BYTE = 0xFF
MULAW_SILENCE_FRAME = bytes([MULAW_SILENCE_BYTE]) * MULAW_FRAME_BYTES

assert sys.byteorder == "little", "PCM16 here is little-endian, as audioop and the wire expect"


def mulaw_to_pcm16(mulaw: bytes) -> bytes:
    return audioop.ulaw2lin(mulaw, 2)


def pcm16_to_mulaw(pcm16: bytes) -> bytes:
    if len(pcm16) % 2:
        raise ValueError("PCM16 audio must have an even number of bytes")
    return audioop.lin2ulaw(pcm16, 2)


def pcm16_to_float32(pcm16: bytes) -> np.ndarray:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0


def float32_to_pcm16(samples: np.ndarray) -> bytes:
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 32767.0 / 32768.0)
    return (clipped * 32768.0).astype("<i2").tobytes()


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of mono float samples."""
    samples = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate or samples.size == 0:
        return samples
    return soxr.resample(samples, from_rate, to_rate, quality="HQ").astype(np.float32)


def to_mono(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def float_to_phone_mulaw(samples: np.ndarray, rate: int) -> bytes:
    """Any mono float audio to what a phone line carries: 8 kHz mu-law."""
    return pcm16_to_mulaw(float32_to_pcm16(resample(samples, rate, PHONE_RATE)))


def phone_mulaw_to_float(mulaw: bytes, to_rate: int) -> np.ndarray:
    """Phone audio to float samples at `to_rate` (16 kHz for speech recognition)."""
    return resample(pcm16_to_float32(mulaw_to_pcm16(mulaw)), PHONE_RATE, to_rate)


def load_audio_file(path: str | Path) -> tuple[np.ndarray, int]:
    """Reads WAV, FLAC or OGG into mono float samples and their rate."""
    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    return to_mono(samples), int(rate)


def split_frames(mulaw: bytes) -> list[bytes]:
    """Cuts mu-law audio into 20 ms frames; the last one is padded with silence."""
    frames = [mulaw[i : i + MULAW_FRAME_BYTES] for i in range(0, len(mulaw), MULAW_FRAME_BYTES)]
    if frames and len(frames[-1]) < MULAW_FRAME_BYTES:
        frames[-1] = frames[-1] + bytes([MULAW_SILENCE_BYTE]) * (MULAW_FRAME_BYTES - len(frames[-1]))
    return frames


def mulaw_duration_seconds(mulaw: bytes) -> float:
    return len(mulaw) / PHONE_RATE


def mulaw_wav(mulaw: bytes) -> bytes:
    """Phone audio as a WAV file (16-bit PCM at 8 kHz), the form Twilio's <Play> takes."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(PHONE_RATE)
        file.writeframes(mulaw_to_pcm16(mulaw))
    return buffer.getvalue()
