"""Seeded text with Zipf-distributed words, as natural language has: a few words are most
of the text and most words are rare."""

from __future__ import annotations

import numpy as np

__all__ = ["generate_text"]

_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    """``size`` distinct lowercase words of 2 to 10 letters."""
    words: dict[str, None] = {}
    while len(words) < size:
        for length in rng.integers(2, 11, size=size):
            words.setdefault("".join(rng.choice(_LETTERS, size=int(length))), None)
            if len(words) == size:
                break
    return list(words)


def generate_text(
    words: int,
    rng: np.random.Generator,
    vocabulary: int = 20_000,
    exponent: float = 1.1,
    per_line: int = 12,
) -> list[str]:
    """Lines of ``per_line`` words separated by single spaces, ``words`` words in all,
    drawn from a Zipf law of ``exponent`` over ``vocabulary`` words."""
    vocab = np.array(_vocabulary(vocabulary, rng), dtype=object)
    weights = 1.0 / np.arange(1, vocabulary + 1) ** exponent
    drawn = vocab[rng.choice(vocabulary, size=words, p=weights / weights.sum())]
    return [" ".join(drawn[i : i + per_line]) for i in range(0, words, per_line)]
