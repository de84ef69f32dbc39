"""A seeded synthetic text corpus with a learnable signal, and perfkit's own tokenizer.

Each document is a run of filler words (a Zipf-distributed vocabulary, as real text has)
with a few keywords of its class put in at random places: a sequence model must find them
wherever they fall and carry them to the end. The tokenizer numbers the training part's
words by frequency (0 pads, 1 is a word it never saw) and pads or truncates every
document to one length, padding at the front so the last step sees the last words."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Tokenizer", "generate_corpus"]

PAD, UNKNOWN = 0, 1
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _words(count: int, rng: np.random.Generator, prefix: str = "") -> list[str]:
    lengths = rng.integers(3, 9, size=count)
    found: dict[str, None] = {}
    while len(found) < count:
        for length in lengths[: count - len(found)]:
            found.setdefault(prefix + "".join(rng.choice(_LETTERS, size=int(length))))
    return list(found)


def generate_corpus(
    documents: int,
    classes: int,
    length: int,
    rng: np.random.Generator,
    *,
    vocabulary: int = 5000,
    keywords: int = 8,
    per_document: int = 3,
) -> tuple[list[str], np.ndarray[Any, Any]]:
    """``documents`` texts of ``length // 2`` to ``length`` words and their labels: each
    holds ``per_document`` keywords of its class (``keywords`` words per class)."""
    filler = np.array(_words(vocabulary, rng))
    weights = 1.0 / np.arange(1, vocabulary + 1)
    weights /= weights.sum()
    signal = np.array(_words(classes * keywords, rng, prefix="k")).reshape(classes, keywords)
    labels = rng.integers(0, classes, size=documents)
    texts = []
    for label in labels:
        words = list(rng.choice(filler, size=int(rng.integers(length // 2, length + 1)), p=weights))
        for keyword in rng.choice(signal[label], size=per_document):
            words.insert(int(rng.integers(0, len(words) + 1)), str(keyword))
        texts.append(" ".join(words))
    return texts, labels.astype(np.int64)


@dataclass(frozen=True, slots=True)
class Tokenizer:
    ids: dict[str, int]

    @classmethod
    def fit(cls, texts: Sequence[str], max_words: int | None = None) -> Tokenizer:
        """Number the words of ``texts`` by frequency (ties alphabetically) from 2."""
        counts = Counter(word for text in texts for word in text.split())
        ranked = sorted(counts, key=lambda word: (-counts[word], word))[:max_words]
        return cls({word: i + 2 for i, word in enumerate(ranked)})

    @property
    def size(self) -> int:
        """Ids in use, the padding and unknown ones included (an embedding's rows)."""
        return len(self.ids) + 2

    def encode(self, texts: Sequence[str], length: int) -> np.ndarray[Any, Any]:
        """(documents, length) int64 ids, each row padded at the front or keeping its last
        ``length`` words."""
        out = np.full((len(texts), length), PAD, dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.ids.get(word, UNKNOWN) for word in text.split()][-length:]
            if ids:
                out[row, length - len(ids) :] = ids
        return out
