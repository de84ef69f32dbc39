"""Ratings in the MovieLens formats, a seeded low-rank generator, and the seeded
train/test split every ``als_recommend`` port shares.

Readers: ``u.data`` (``user<TAB>item<TAB>rating<TAB>time``), ``ratings.dat``
(``user::item::rating::time``, as the sample in the pyspark wheel), ``ratings.csv``
(``userId,movieId,rating,timestamp`` with its header). A line that is none of these is a
one-line error naming the file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perfkit.model.errors import UsageError

__all__ = [
    "GENERATED_NOISE",
    "Ratings",
    "generate_ratings",
    "movielens_sample",
    "read_ratings",
    "split_ratings",
]

GENERATED_NOISE = 0.5  # the generator's noise: no model can predict held-out data better
_TRUE_RANK = 5


@dataclass(frozen=True)
class Ratings:
    """Parallel arrays: dense user and item indices (0..users-1, 0..items-1), ratings."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    users: int
    items: int

    def __len__(self) -> int:
        return len(self.rating)


def movielens_sample() -> Path:
    """The MovieLens sample shipped in the pyspark wheel (1501 ratings, 30 users)."""
    try:
        import pyspark
    except ImportError:
        raise UsageError(
            "dataset movielens_sample ships with pyspark: pip install -e '.[spark]'"
        ) from None
    return Path(pyspark.__file__).parent / "data" / "mllib" / "als" / "sample_movielens_ratings.txt"


def _dense(raw_user: np.ndarray, raw_item: np.ndarray, rating: np.ndarray) -> Ratings:
    users, user = np.unique(raw_user, return_inverse=True)
    items, item = np.unique(raw_item, return_inverse=True)
    return Ratings(
        user.astype(np.int64), item.astype(np.int64), rating.astype(np.float64),
        len(users), len(items),
    )  # fmt: skip


def _fields(line: str) -> list[str]:
    for separator in ("::", "\t", ","):
        if separator in line:
            return line.split(separator)
    return line.split()


def check_ratings_file(path: Path, lines: int = 100) -> None:
    """Read the head of ``path`` as ratings: a one-line UsageError where it is not."""
    read_ratings(path, lines)


def read_ratings(path: Path, limit: int | None = None) -> Ratings:
    """Ratings from a MovieLens file (the format is told by its separator); with
    ``limit``, its first lines only."""
    users: list[int] = []
    items: list[int] = []
    values: list[float] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, raw in enumerate(f, 1):
            if limit is not None and number > limit:
                break
            line = raw.strip()
            if not line or (number == 1 and line.lower().startswith("userid")):
                continue
            fields = _fields(line)
            try:
                user, item, value = int(fields[0]), int(fields[1]), float(fields[2])
            except (IndexError, ValueError):
                raise UsageError(
                    f"{path}:{number}: not a MovieLens rating (user, item, rating): {line[:60]!r}"
                ) from None
            users.append(user)
            items.append(item)
            values.append(value)
    if not values:
        raise UsageError(f"{path}: no ratings in the file")
    return _dense(np.array(users), np.array(items), np.array(values))


def generate_ratings(count: int, rng: np.random.Generator) -> Ratings:
    """``count`` ratings of a rank-5 model plus Gaussian noise of ``GENERATED_NOISE``:
    users ~ count/100, items ~ count/200, each (user, item) pair at most once."""
    users, items = max(50, count // 100), max(50, count // 200)
    count = min(count, users * items // 2)
    u = rng.normal(0.0, 1.0 / np.sqrt(_TRUE_RANK), size=(users, _TRUE_RANK))
    v = rng.normal(0.0, 1.0, size=(items, _TRUE_RANK))
    pairs = rng.choice(users * items, size=count, replace=False)
    user, item = np.divmod(pairs, items)
    rating = 3.0 + np.einsum("ij,ij->i", u[user], v[item]) + rng.normal(0, GENERATED_NOISE, count)
    return Ratings(user.astype(np.int64), item.astype(np.int64), rating, users, items)


def split_ratings(
    ratings: Ratings, rng: np.random.Generator, test: float = 0.2
) -> tuple[Ratings, Ratings]:
    """A seeded train/test split; test ratings of a user or item the training part lacks
    are dropped (no model can place them: Spark's ``coldStartStrategy="drop"``)."""
    held = rng.random(len(ratings)) < test
    train = Ratings(ratings.user[~held], ratings.item[~held], ratings.rating[~held],
                    ratings.users, ratings.items)  # fmt: skip
    known_user = np.bincount(train.user, minlength=ratings.users) > 0
    known_item = np.bincount(train.item, minlength=ratings.items) > 0
    keep = held & known_user[ratings.user] & known_item[ratings.item]
    test_part = Ratings(ratings.user[keep], ratings.item[keep], ratings.rating[keep],
                        ratings.users, ratings.items)  # fmt: skip
    return train, test_part
