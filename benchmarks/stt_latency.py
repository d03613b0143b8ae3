"""Transcription latency and accuracy on phone audio, for the bundled models.

For base and tiny.en: the time to transcribe utterances of 1, 2, 4 and 8 s (espeak-ng speech from
our Synthesizer, 8 kHz mu-law as on the line; median of three runs, after a warm-up), the extra
time of language detection (base), and the WER over tests/speech/hotline_phrases.json.

    .venv/bin/python benchmarks/stt_latency.py [--cache var/models]

Runs in about two minutes on two cores. Numbers vary with whatever else runs on the machine.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

import jiwer
import numpy as np

from telephony.audio import PHONE_RATE, phone_mulaw_to_float
from voice_app.speech.model_store import resolve_model
from voice_app.speech.stt import SAMPLE_RATE, Transcriber
from voice_app.speech.tts import Synthesizer

ROOT = Path(__file__).resolve().parents[1]
PHRASES = json.loads((ROOT / "tests" / "speech" / "hotline_phrases.json").read_text(encoding="utf-8"))
DURATIONS_S = (1, 2, 4, 8)
RUNS = 3


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower().replace("-", " ")).split())


def wer(references: list[str], hypotheses: list[str]) -> float:
    return jiwer.wer([normalise(r) for r in references], [normalise(h) or "<nothing>" for h in hypotheses])


def utterance_of(seconds: float, synthesizer: Synthesizer) -> np.ndarray:
    """English hotline phrases, back to back, cut to `seconds` of 16 kHz audio."""
    mulaw = b""
    phrases = PHRASES["en"][2:]  # skip "yes" and "no": too short to fill time usefully
    i = 0
    while len(mulaw) < seconds * PHONE_RATE:
        mulaw += synthesizer.synthesize(phrases[i % len(phrases)], "en")
        i += 1
    return phone_mulaw_to_float(mulaw[: int(seconds * PHONE_RATE)], SAMPLE_RATE)


def median_seconds(transcriber: Transcriber, audio: np.ndarray, language: str | None) -> float:
    """language=None measures a call with language detection, as when the dialogue asks for it."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        transcriber.transcribe(audio, language, fallback_language="en")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "models", help="where base is assembled")
    args = parser.parse_args()

    synthesizer = Synthesizer()
    clips = {seconds: utterance_of(seconds, synthesizer) for seconds in DURATIONS_S}
    phrase_audio = {
        language: [phone_mulaw_to_float(synthesizer.synthesize(t, language), SAMPLE_RATE) for t in texts]
        for language, texts in PHRASES.items()
        if language in ("en", "de")
    }
    synthesizer.close()

    rows = []
    for name, languages in (("base", ("de", "en")), ("tiny.en", ("en",))):
        started = time.perf_counter()
        transcriber = Transcriber(resolve_model(name, args.cache), supported_languages=languages)
        load_s = time.perf_counter() - started
        transcriber.warm_up()
        latency = {s: median_seconds(transcriber, clips[s], "en") for s in DURATIONS_S}
        detect = {s: median_seconds(transcriber, clips[s], None) for s in (2, 8)} if len(languages) > 1 else {}
        word_error = {
            language: wer(PHRASES[language], [transcriber.transcribe(a, language).text for a in phrase_audio[language]])
            for language in languages
        }
        rows.append((name, load_s, latency, detect, word_error))

    header = " ".join(f"{f'{s} s':>7}" for s in DURATIONS_S)
    print(f"{'model':8} {'load':>6} {header}  detect(2 s/8 s)  WER en   WER de")
    for name, load_s, latency, detect, word_error in rows:
        detect_text = f"{detect[2]:.2f}/{detect[8]:.2f} s" if detect else "-"
        print(
            f"{name:8} {load_s:5.2f}s "
            + " ".join(f"{latency[s]:6.2f}s" for s in DURATIONS_S)
            + f"  {detect_text:>15}  {word_error['en']:6.3f}   "
            + (f"{word_error['de']:6.3f}" if "de" in word_error else "     -")
        )
    print(f"(median of {RUNS} runs per duration; 'detect' is the whole call with language=None)")


if __name__ == "__main__":
    main()
