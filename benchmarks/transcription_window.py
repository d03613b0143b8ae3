"""Encoder window: Whisper's full 30 s window against one sized to the utterance, in the same run.

Clips, all as 8 kHz mu-law the way a phone line delivers them: jfk.flac (11 s of real speech with an
840 ms pause) and one_two_three.wav (2.7 s) from ../shared/data/audio, and the hotline phrases of
tests/speech/hotline_phrases.json in English and German, spoken by our Synthesizer (espeak-ng).
For every clip each setting runs in turn, so a busy machine slows them alike. Per setting and clip
group: the encoder pass alone and the whole transcription (p50), the whole transcription with
language detection as at the consent question (fallback language: the other one), the word error
rate, how often detection picked the spoken language, and how often the sized window fell back to
the full one. Prints Markdown.

Then, with `--batch N`, every clip at once (one thread each, language given), one by one against batches of up to N
(speech.stt_batch_size): word error rate per group, how many transcripts differ, and the time to transcribe them all.

    .venv/bin/python benchmarks/transcription_window.py [--floors 10] [--margins 1] [--batch 16] [--cache var/models]

Several floors and margins may be given (comma-separated): every combination runs against "full".
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import jiwer
import numpy as np
from num2words import num2words

from telephony.audio import float_to_phone_mulaw, load_audio_file, phone_mulaw_to_float
from voice_app.speech.model_store import resolve_model
from voice_app.speech.stt import (
    DEFAULT_ENCODER_FLOOR_SECONDS,
    DEFAULT_ENCODER_MARGIN_SECONDS,
    FULL_WINDOW_SECONDS,
    SAMPLE_RATE,
    Transcriber,
    Transcript,
)
from voice_app.speech.tts import Synthesizer

ROOT = Path(__file__).resolve().parents[1]
SHARED_AUDIO = ROOT.parent / "shared" / "data" / "audio"
PHRASES = json.loads((ROOT / "tests" / "speech" / "hotline_phrases.json").read_text(encoding="utf-8"))
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
REAL_CLIPS = (("jfk.flac", JFK_TEXT), ("one_two_three.wav", "one, two, three"))
OTHER_LANGUAGE = {"en": "de", "de": "en"}


@dataclass(frozen=True)
class Clip:
    group: str
    language: str
    text: str
    audio: np.ndarray


@dataclass
class Tally:
    encode_s: list[float] = field(default_factory=list)
    total_s: list[float] = field(default_factory=list)
    detect_s: list[float] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    detected_right: int = 0
    fallbacks: int = 0


def normalise(text: str, language: str) -> str:
    """Lower case without punctuation, numbers as words: Whisper writes "one, two, three" as "1, 2, 3"."""
    words = re.sub(r"[^\w\s']", " ", text.lower().replace("-", " ")).split()
    return " ".join(num2words(int(word), lang=language) if word.isdigit() else word for word in words)


def wer(references: list[str], hypotheses: list[str]) -> float:
    return jiwer.wer(references, [h or "<nothing>" for h in hypotheses])


def load_clips() -> list[Clip]:
    clips = []
    for name, text in REAL_CLIPS:
        samples, rate = load_audio_file(SHARED_AUDIO / name)
        audio = phone_mulaw_to_float(float_to_phone_mulaw(samples, rate), SAMPLE_RATE)
        clips.append(Clip(name, "en", text, audio))
    synthesizer = Synthesizer()
    try:
        for language in ("en", "de"):
            for text in PHRASES[language]:
                audio = phone_mulaw_to_float(synthesizer.synthesize(text, language), SAMPLE_RATE)
                clips.append(Clip(f"espeak-ng {language} ({len(PHRASES[language])} phrases)", language, text, audio))
    finally:
        synthesizer.close()
    return clips


def measure(transcriber: Transcriber, clip: Clip, tally: Tally) -> str:
    features = transcriber.log_mel(clip.audio)
    started = time.perf_counter()
    transcriber.encode(features, transcriber.window_seconds(clip.audio.size / SAMPLE_RATE))
    tally.encode_s.append(time.perf_counter() - started)

    result = transcriber.transcribe(clip.audio, clip.language)
    tally.total_s.append(result.processing_seconds)
    tally.references.append(normalise(clip.text, clip.language))
    tally.heard.append(normalise(result.text, clip.language))
    tally.fallbacks += (
        result.encoder_window_seconds == FULL_WINDOW_SECONDS > transcriber.window_seconds(result.audio_seconds)
    )

    detected = transcriber.transcribe(clip.audio, None, fallback_language=OTHER_LANGUAGE[clip.language])
    tally.detect_s.append(detected.processing_seconds)
    tally.detected_right += detected.language == clip.language
    return f"{result.text!r} (window {result.encoder_window_seconds:g} s, confidence {result.confidence:.2f})"


def all_at_once(transcriber: Transcriber, clips: list[Clip]) -> tuple[list[Transcript], float]:
    """Every clip from a thread of its own, released together; the transcripts and the seconds until the last."""
    start = threading.Barrier(len(clips) + 1)
    found: dict[int, Transcript] = {}

    def transcribe(index: int) -> None:
        start.wait()
        found[index] = transcriber.transcribe(clips[index].audio, clips[index].language)

    threads = [threading.Thread(target=transcribe, args=(i,)) for i in range(len(clips))]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return [found[i] for i in range(len(clips))], time.perf_counter() - started


def compare_batching(model: str, batch_size: int, clips: list[Clip]) -> None:
    runs = {
        "one by one": Transcriber(model),
        f"batches of up to {batch_size}": Transcriber(model, batch_size=batch_size),
    }
    results = {}
    for name, transcriber in runs.items():
        transcriber.warm_up()
        results[name] = all_at_once(transcriber, clips)
    groups = sorted({clip.group for clip in clips})
    print(f"\nAll {len(clips)} clips at once, language given:\n")
    print("| transcription | " + " | ".join(f"WER {group}" for group in groups) + " | all clips took | batch sizes |")
    print("|---|" + "---|" * len(groups) + "---|---|")
    for name, (transcripts, seconds) in results.items():
        rates = []
        for group in groups:
            pairs = [(c, t) for c, t in zip(clips, transcripts, strict=True) if c.group == group]
            references = [normalise(c.text, c.language) for c, _ in pairs]
            rates.append(f"{wer(references, [normalise(t.text, c.language) for c, t in pairs]):.2f}")
        sizes = Counter(t.batch_size for t in transcripts)
        print(f"| {name} | " + " | ".join(rates) + f" | {seconds:.1f} s | {dict(sorted(sizes.items()))} |")
    alone, together = (transcripts for transcripts, _ in results.values())
    differ = sum((a.text, a.language) != (b.text, b.language) for a, b in zip(alone, together, strict=True))
    print(f"\nTranscripts that differ between the two: {differ} of {len(clips)}")


def ms(seconds: list[float]) -> str:
    return f"{1000 * statistics.median(seconds):.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "models", help="where base is assembled")
    parser.add_argument("--floors", default=str(DEFAULT_ENCODER_FLOOR_SECONDS), help="floors in seconds, a,b,...")
    parser.add_argument("--margins", default=str(DEFAULT_ENCODER_MARGIN_SECONDS), help="margins in seconds, a,b,...")
    parser.add_argument("--show-text", action="store_true", help="print every clip's transcript per setting")
    parser.add_argument("--batch", type=int, default=0, help="also compare batches of up to N with one by one")
    parser.add_argument("--only-batch", action="store_true", help="skip the window comparison")
    args = parser.parse_args()

    model = resolve_model("base", args.cache)
    clips = load_clips()
    if args.only_batch:
        compare_batching(model, args.batch or 16, clips)
        return
    settings = {"full": Transcriber(model, encoder_window="full")}
    for floor in (float(f) for f in args.floors.split(",")):
        for margin in (float(m) for m in args.margins.split(",")):
            settings[f"utterance, floor {floor:g} s, margin {margin:g} s"] = Transcriber(
                model, encoder_floor_seconds=floor, encoder_margin_seconds=margin
            )
    for transcriber in settings.values():
        transcriber.warm_up()

    tallies: dict[tuple[str, str], Tally] = {}
    for clip in clips:
        for name, transcriber in settings.items():
            heard = measure(transcriber, clip, tallies.setdefault((name, clip.group), Tally()))
            if args.show_text:
                print(f"{clip.text!r} [{name}]: {heard}", flush=True)

    columns = ["window", "clips", "encode p50", "total p50", "with language detection p50", "WER"]
    columns += ["switched to the spoken language", "fell back to full"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for (name, group), tally in tallies.items():
        print(
            f"| {name} | {group} | {ms(tally.encode_s)} | {ms(tally.total_s)} | {ms(tally.detect_s)} "
            f"| {wer(tally.references, tally.heard):.2f} | {tally.detected_right}/{len(tally.total_s)} "
            f"| {tally.fallbacks}/{len(tally.total_s)} |"
        )
    print(f"\n(base, int8, beam 1; {len(clips)} clips, each setting in turn per clip; p50 over the clips of a group)")
    if args.batch:
        compare_batching(model, args.batch, clips)


if __name__ == "__main__":
    main()
