"""als_recommend on real ratings: the same file gives the same split and answer however it
is named, and the from-scratch ALS-WR's settings pass the quality band over many splits,
not one. (The MovieLens sample ships in the pyspark wheel: these run where it is.)"""

from __future__ import annotations

import numpy as np
import pytest

from perfkit.datasets import register_data_file
from perfkit.datasets.ratings import (
    GENERATED_NOISE,
    generate_ratings,
    movielens_sample,
    read_ratings,
    split_ratings,
)
from perfkit.workloads._als import als_wr, predict, rmse
from perfkit.workloads.als_recommend import (
    ITERATIONS,
    RANK,
    REAL_REG,
    REG,
    _band,
    _check,
    _inputs,
    reg_of,
)
from tests.conftest import spark_marks

pytestmark = spark_marks()


def _answer(inputs: dict[str, object], dataset: str) -> float:
    train, test = inputs["train"], inputs["test"]
    users, items = als_wr(train, RANK, reg_of({"dataset": dataset}), ITERATIONS, inputs["seed"])
    return rmse(predict(users, items, test), test.rating)  # type: ignore[attr-defined]


def test_the_named_sample_and_the_same_file_by_data_split_and_answer_alike() -> None:
    label = register_data_file(movielens_sample())  # what --data makes of the file
    named = _inputs({"n": 100_000, "dataset": "movielens_sample"}, np.random.default_rng(1))
    given = _inputs({"n": 100_000, "dataset": label}, np.random.default_rng(2))
    for part in ("train", "test"):
        for column in ("user", "item", "rating"):
            assert np.array_equal(getattr(named[part], column), getattr(given[part], column))
    assert named["seed"] == given["seed"]
    first, second = _answer(named, "movielens_sample"), _answer(given, label)
    assert first == second
    params = {"dataset": label}
    assert _check(second, _band(given, params), params).ok


def test_the_quality_band_holds_over_many_splits_of_the_sample() -> None:
    ratings = read_ratings(movielens_sample())
    lost = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        train, test = split_ratings(ratings, rng)
        users, items = als_wr(train, RANK, REAL_REG, ITERATIONS, int(rng.integers(0, 2**31 - 1)))
        error = rmse(predict(users, items, test), test.rating)
        mean = rmse(np.full(len(test), train.rating.mean()), test.rating)
        if error > mean:
            lost.append((seed, round(error, 3), round(mean, 3)))
    assert lost == []


@pytest.mark.slow
def test_the_quality_band_holds_over_splits_of_generated_ratings() -> None:
    for seed in range(3):
        rng = np.random.default_rng(1000 + seed)
        train, test = split_ratings(generate_ratings(100_000, rng), rng)
        users, items = als_wr(train, RANK, REG, ITERATIONS, int(rng.integers(0, 2**31 - 1)))
        error = rmse(predict(users, items, test), test.rating)
        assert error <= GENERATED_NOISE * 1.10, (seed, error)
