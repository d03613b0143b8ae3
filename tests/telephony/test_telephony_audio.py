"""Phone audio helpers on real recordings: mu-law round trip, resampling, framing."""

from pathlib import Path

import numpy as np
import pytest

from telephony.audio import (
    MULAW_FRAME_BYTES,
    MULAW_SILENCE_BYTE,
    PHONE_RATE,
    float_to_phone_mulaw,
    load_audio_file,
    mulaw_duration_seconds,
    mulaw_to_pcm16,
    pcm16_to_float32,
    pcm16_to_mulaw,
    phone_mulaw_to_float,
    resample,
    split_frames,
)

AUDIO_DIR = Path("/work/shared/data/audio")


def _snr_db(reference: np.ndarray, actual: np.ndarray) -> float:
    noise = actual - reference
    return float(10 * np.log10(np.sum(reference**2) / np.sum(noise**2)))


def _dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def test_speech_survives_the_phone_codec_with_telephone_quality():
    samples, rate = load_audio_file(AUDIO_DIR / "one_two_three.wav")
    assert rate == 44100

    mulaw = float_to_phone_mulaw(samples, rate)

    assert mulaw_duration_seconds(mulaw) == pytest.approx(len(samples) / rate, abs=0.01)
    narrowband = resample(samples, rate, PHONE_RATE)
    decoded = phone_mulaw_to_float(mulaw, PHONE_RATE)
    assert len(decoded) == len(narrowband)
    # G.711 mu-law gives roughly 35-38 dB SNR on speech; a broken codec or byte order gives < 0 dB.
    assert _snr_db(narrowband, decoded) > 30


def test_pcm_to_mulaw_and_back_is_close_on_real_audio():
    samples, rate = load_audio_file(AUDIO_DIR / "one_two_three.wav")
    pcm = (np.clip(resample(samples, rate, PHONE_RATE), -1, 0.999) * 32768).astype("<i2").tobytes()

    round_tripped = mulaw_to_pcm16(pcm16_to_mulaw(pcm))

    assert len(round_tripped) == len(pcm)
    assert _snr_db(pcm16_to_float32(pcm), pcm16_to_float32(round_tripped)) > 30


def test_stereo_flac_is_mixed_to_mono_and_resampled_to_phone_rate():
    samples, rate = load_audio_file(AUDIO_DIR / "jfk.flac")
    assert samples.ndim == 1 and rate == 44100

    mulaw = float_to_phone_mulaw(samples, rate)

    assert mulaw_duration_seconds(mulaw) == pytest.approx(11.0, abs=0.01)
    decoded = phone_mulaw_to_float(mulaw, 16000)  # what speech recognition would receive
    assert len(decoded) == pytest.approx(11.0 * 16000, abs=16)
    assert np.sqrt(np.mean(decoded**2)) > 0.01  # speech, not silence


def test_resampling_keeps_speech_band_and_removes_what_a_phone_cannot_carry():
    rate = 44100
    t = np.arange(rate) / rate
    in_band = 0.5 * np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    above_nyquist = 0.5 * np.sin(2 * np.pi * 6000 * t).astype(np.float32)

    assert _dominant_frequency(resample(in_band, rate, PHONE_RATE), PHONE_RATE) == pytest.approx(1000, abs=5)
    # Without an anti-alias filter 6 kHz would fold down to 2 kHz at full strength.
    folded = resample(above_nyquist, rate, PHONE_RATE)
    assert np.sqrt(np.mean(folded**2)) < 0.01


def test_split_frames_cuts_20ms_frames_and_pads_the_last_with_silence():
    frames = split_frames(bytes(range(200)) * 2)  # 400 bytes = 2.5 frames

    assert [len(frame) for frame in frames] == [MULAW_FRAME_BYTES] * 3
    assert frames[2][:80] == (bytes(range(200)) * 2)[320:]
    assert set(frames[2][80:]) == {MULAW_SILENCE_BYTE}
    assert split_frames(b"") == []


def test_mulaw_wav_keeps_the_phone_audio_byte_for_byte_and_other_readers_agree():
    import io

    import soundfile

    from telephony.audio import mulaw_wav_file, read_mulaw_wav, tone_mulaw

    samples, rate = load_audio_file(AUDIO_DIR / "one_two_three.wav")
    mulaw = float_to_phone_mulaw(samples, rate)[:8001]  # an odd length needs RIFF's pad byte
    wav = mulaw_wav_file(mulaw)

    assert read_mulaw_wav(wav) == mulaw
    assert len(wav) < len(mulaw) + 64, "one byte a sample, not two"
    info = soundfile.info(io.BytesIO(wav))  # libsndfile reads it independently of our reader
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (8000, 1, 8001, "ULAW")
    decoded, _ = soundfile.read(io.BytesIO(wav), dtype="float32")
    assert np.allclose(decoded, pcm16_to_float32(mulaw_to_pcm16(mulaw)), atol=1e-4), "same G.711 decoding"

    beep = tone_mulaw(1000, 0.25)
    assert mulaw_duration_seconds(beep) == pytest.approx(0.25)
    assert _dominant_frequency(pcm16_to_float32(mulaw_to_pcm16(beep)), PHONE_RATE) == pytest.approx(1000, abs=10)


@pytest.mark.parametrize("broken", [b"", b"RIFF\0\0\0\0WAVE", b"not a wav file at all"])
def test_read_mulaw_wav_refuses_what_is_not_phone_mulaw(broken):
    import io
    import wave

    from telephony.audio import read_mulaw_wav

    with pytest.raises(ValueError):
        read_mulaw_wav(broken)
    pcm = io.BytesIO()
    with wave.open(pcm, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(b"\0\0" * 100)
    with pytest.raises(ValueError, match="not 8 kHz mono mu-law"):
        read_mulaw_wav(pcm.getvalue())
