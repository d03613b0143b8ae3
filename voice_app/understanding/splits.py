"""Stratified folds of training examples: those whose out-of-fold scores calibrate the classifier, and those of
a cross-validation (benchmarks/intent_accuracy.py --cv).

They keep every (intent, language, weight) group in proportion on every side, so each intent of both languages
is represented, and Banking77 rows and our own utterances are never lumped together.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from voice_app.understanding.training_data import Example
from voice_app.understanding.vocabulary import Intent


def _shuffled_groups(examples: Sequence[Example], seed: int) -> list[list[Example]]:
    """The examples grouped by (intent, language, weight), the groups in sorted order, each shuffled."""
    groups: dict[tuple[Intent, str, float], list[Example]] = defaultdict(list)
    for example in examples:
        groups[(example.intent, example.language, example.weight)].append(example)
    rng = random.Random(seed)
    shuffled = []
    for key in sorted(groups):
        members = groups[key][:]
        rng.shuffle(members)
        shuffled.append(members)
    return shuffled


def stratified_folds(examples: Sequence[Example], folds: int, seed: int) -> list[list[Example]]:
    """`folds` disjoint parts that together hold every example, each with about the same share of every
    (intent, language, weight) group: the folds of a stratified cross-validation."""
    if folds < 2:
        raise ValueError(f"folds must be 2 or more, not {folds}")
    parts: list[list[Example]] = [[] for _ in range(folds)]
    offset = 0
    for members in _shuffled_groups(examples, seed):
        for index, example in enumerate(members):
            # Groups continue where the last one stopped, so small groups do not all pile into the first fold.
            parts[(offset + index) % folds].append(example)
        offset += len(members)
    return parts
