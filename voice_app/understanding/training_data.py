"""What the intent classifier learns from: our own utterances and Banking77, as weighted examples.

The training data are our own hand-written utterances (data/intents.*.tsv) plus Banking77's train.csv mapped
through the reviewed table data/banking77_mapping.tsv; Banking77 gives the model thousands of real questions it
must NOT answer. Each Banking77 row weighs BANKING77_WEIGHT of one of our examples so that ten thousand written
English banking questions cannot drown out our spoken, bilingual phrasing. The frozen held-out set
(data/heldout.*.tsv) is read here too, but only for evaluation.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from voice_app.config import PROJECT_ROOT
from voice_app.understanding.text import clean_text
from voice_app.understanding.vocabulary import Intent

DATA_DIR = Path(__file__).resolve().parent / "data"
BANKING77_DIR_ENV = "VOICE_APP_BANKING77_DIR"
DEFAULT_BANKING77_DIR = PROJECT_ROOT.parent / "shared" / "data" / "banking77"
# The languages we have utterances for, in the order their files are read: the order of the examples is part of
# what training sees, so changing it would change the model.
LANGUAGES = ("de", "en")
BANKING77_WEIGHT = 0.05
# The random choices of the data (the generated noise, the language sample, the calibration folds) use this
# seed, so that every training at start sees the same examples.
TRAINING_SEED = 7


@dataclass(frozen=True)
class Example:
    text: str
    intent: Intent
    language: str
    # How much this example counts in training relative to one of our own utterances.
    weight: float = 1.0


def _read_tsv(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        if reader.fieldnames != list(columns):
            raise ValueError(f"{path}: expected columns {list(columns)}, found {reader.fieldnames}")
        rows = list(reader)
    for number, row in enumerate(rows, start=2):
        if any(not (row.get(column) or "").strip() for column in columns):
            raise ValueError(f"{path}:{number}: empty field")
    return rows


def _intent(value: str, where: str) -> Intent:
    try:
        return Intent(value)
    except ValueError:
        raise ValueError(f"{where}: unknown intent {value!r}") from None


def load_examples(path: Path, language: str) -> list[Example]:
    """Our utterances: a TSV with columns intent, text."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    return [
        Example(clean_text(row["text"]), _intent(row["intent"], f"{path}:{number}"), language)
        for number, row in enumerate(_read_tsv(path, ("intent", "text")), start=2)
    ]


def load_banking77_mapping(path: Path = DATA_DIR / "banking77_mapping.tsv") -> dict[str, Intent]:
    return {
        row["category"]: _intent(row["intent"], f"{path}:{number}")
        for number, row in enumerate(_read_tsv(path, ("category", "intent", "reason")), start=2)
    }


def load_banking77(path: Path, mapping: dict[str, Intent], weight: float = BANKING77_WEIGHT) -> list[Example]:
    """Banking77 rows (columns text, category) as examples of the intent their category maps to."""
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    unmapped = {row["category"] for row in rows} - mapping.keys()
    if unmapped:
        raise ValueError(f"{path}: categories missing from the mapping table: {sorted(unmapped)}")
    return [Example(clean_text(row["text"]), mapping[row["category"]], "en", weight) for row in rows]


def banking77_dir() -> Path:
    return Path(os.environ.get(BANKING77_DIR_ENV) or DEFAULT_BANKING77_DIR)


def own_examples() -> list[Example]:
    """Our training utterances (data/intents.*.tsv). Never includes the frozen held-out set."""
    return [
        example for language in LANGUAGES for example in load_examples(DATA_DIR / f"intents.{language}.tsv", language)
    ]


def held_out_examples() -> list[Example]:
    """The frozen evaluation set (data/heldout.*.tsv): our utterances that no model is ever trained on.

    Drawn once as the stratified 20 % (seed 2020) of our examples as they stood before it was frozen, minus
    four lines that were verbatim Banking77 train.csv queries; benchmarks/intent_accuracy.py scores on
    exactly these lines, so adding training data no longer redraws it. Only for evaluation: nothing in the
    classifier's training path reads these files."""
    return [
        example for language in LANGUAGES for example in load_examples(DATA_DIR / f"heldout.{language}.tsv", language)
    ]


def default_training_examples(banking77: Path | None = None) -> list[Example]:
    """Our examples plus Banking77's train.csv; its test.csv is kept for evaluation only."""
    train_csv = (banking77 or banking77_dir()) / "train.csv"
    if not train_csv.is_file():
        raise FileNotFoundError(
            f"Banking77 training data not found at {train_csv}; the classifier needs it to learn what not to "
            f"answer. Point {BANKING77_DIR_ENV} at the folder holding train.csv."
        )
    return own_examples() + load_banking77(train_csv, load_banking77_mapping())
