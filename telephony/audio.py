"""Audio as the phone network carries it: 8 kHz mono G.711 mu-law in 20 ms frames.

Conversions between mu-law, 16-bit PCM and float samples, resampling (soxr) and framing.
"""

from __future__ import annotations

import io
import struct
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


# espeak-ng's pauses are digital silence; -45 dBFS keeps the soft onsets of its words.
_SYNTHETIC_SILENCE_LEVEL = 10 ** (-45 / 20)


def trim_silence(samples: np.ndarray, rate: int, keep_seconds: float = 0.1) -> np.ndarray:
    """Cuts leading and trailing silence of synthetic speech down to `keep_seconds`, so it starts promptly on the
    line; empty if there is no sound at all."""
    loud = np.flatnonzero(np.abs(samples) > _SYNTHETIC_SILENCE_LEVEL)
    if loud.size == 0:
        return samples[:0]
    keep = int(keep_seconds * rate)
    return samples[max(0, loud[0] - keep) : loud[-1] + 1 + keep]


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


WAVE_FORMAT_MULAW = 7


def mulaw_wav_file(mulaw: bytes) -> bytes:
    """Phone audio kept exactly as it came: a WAV file of G.711 mu-law (format 7), 8 kHz mono, 8 bits a sample,
    half the size of 16-bit PCM. Not every player reads format 7; `mulaw_wav` makes the PCM form for those."""
    if not isinstance(mulaw, (bytes, bytearray)):
        raise TypeError(f"audio must be mu-law bytes, got {type(mulaw).__name__}")
    fmt = struct.pack("<HHIIHHH", WAVE_FORMAT_MULAW, 1, PHONE_RATE, PHONE_RATE, 1, 8, 0)
    fact = struct.pack("<I", len(mulaw))  # non-PCM WAV files carry their sample count in a fact chunk
    data = bytes(mulaw) + (b"\0" if len(mulaw) % 2 else b"")  # RIFF chunks are padded to an even length
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<I", len(fact))
        + fact
        + b"data"
        + struct.pack("<I", len(mulaw))
        + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def read_mulaw_wav(wav: bytes) -> bytes:
    """The samples of an 8 kHz mono mu-law WAV file (as `mulaw_wav_file` writes them); ValueError for any other."""
    if len(wav) < 12 or wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    position, fmt, samples = 12, None, None
    while position + 8 <= len(wav):
        name, size = wav[position : position + 4], struct.unpack("<I", wav[position + 4 : position + 8])[0]
        chunk = wav[position + 8 : position + 8 + size]
        if len(chunk) < size:
            raise ValueError(f"WAV chunk {name!r} is cut short")
        if name == b"fmt ":
            if size < 16:
                raise ValueError("WAV fmt chunk too short")
            fmt = struct.unpack("<HHIIHH", chunk[:16])
        elif name == b"data":
            samples = chunk
        position += 8 + size + (size % 2)
    if fmt is None or samples is None:
        raise ValueError("WAV file without fmt or data chunk")
    format_tag, channels, rate, _, _, bits = fmt
    if (format_tag, channels, rate, bits) != (WAVE_FORMAT_MULAW, 1, PHONE_RATE, 8):
        raise ValueError(f"not 8 kHz mono mu-law: format {format_tag}, {channels} channels, {rate} Hz, {bits} bits")
    return samples


def tone_mulaw(frequency_hz: float, seconds: float, level: float = 0.3) -> bytes:
    """A sine tone as phone audio, with 10 ms fades so that it starts and stops without a click."""
    if not 0 < frequency_hz < PHONE_RATE / 2 or not 0 < seconds <= 10 or not 0 < level <= 1:
        raise ValueError("a tone needs a frequency below 4 kHz, up to 10 seconds and a level in (0, 1]")
    count = int(PHONE_RATE * seconds)
    samples = level * np.sin(2 * np.pi * frequency_hz * np.arange(count) / PHONE_RATE)
    fade = min(count // 2, PHONE_RATE // 100)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        samples[:fade] *= ramp
        samples[-fade:] *= ramp[::-1]
    return pcm16_to_mulaw(float32_to_pcm16(samples))
