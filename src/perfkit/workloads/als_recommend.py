"""als_recommend: fit a rank-8 matrix factorisation of ratings with ALS-WR on a seeded
training split, predict the held-out ratings, and report their RMSE.

Data: ``generated`` (a rank-5 model plus noise of 0.5, sized by ``n``), the MovieLens
sample in the pyspark wheel (``movielens_sample``), or a MovieLens file (``--data``).
The answer is checked against a band, not a value (factorisations from different starting
points differ): on generated data the held-out RMSE must be within 10% of the noise, the
best any model can do; on real data it must beat predicting the training mean.

A real data set is split (and the factors started) by a seed taken from its ratings, not
from how it was named, so the MovieLens sample gives the same split and answer as
``movielens_sample`` and as ``--data`` of the same file. Lambda suits the data: 0.03 on the
dense generated ratings, 0.1 on real ones, where 0.03 overfits: on the sample it lost to
the training mean in 23 of 30 splits, 0.1 in none (a test holds this over splits)."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from perfkit.datasets import (
    GENERATED,
    dataset_axis,
    named_or_file,
    only_first_size,
    register_file_check,
)
from perfkit.datasets.ratings import (
    GENERATED_NOISE,
    Ratings,
    check_ratings_file,
    generate_ratings,
    movielens_sample,
    read_ratings,
    split_ratings,
)
from perfkit.model.axes import Axis, Params, ParamSpace
from perfkit.model.registry import register_workload
from perfkit.model.workload import CheckResult, Thunk, Work, workload
from perfkit.workloads._als import als_wr, predict, rmse

RANK, ITERATIONS = 8, 10
REG, REAL_REG = 0.03, 0.1  # lambda on generated data, and on real data (the module's doc)
_SIZES = (100_000, 300_000, 1_000_000)
_NOISE_BAND = 1.10  # generated data: RMSE within 10% of the generator's noise


def _inputs(params: Params, rng: np.random.Generator) -> dict[str, Any]:
    dataset = str(params["dataset"])
    if dataset == GENERATED:
        ratings = generate_ratings(int(params["n"]), rng)
    else:
        named = {dataset: movielens_sample()} if dataset == "movielens_sample" else {}
        path = named_or_file(params, named)
        assert path is not None  # not generated: a named set or a file
        ratings = read_ratings(path)
        rng = np.random.default_rng(content_seed(ratings))  # the data's, not its name's
    train, test = split_ratings(ratings, rng)
    return {"train": train, "test": test, "seed": int(rng.integers(0, 2**31 - 1))}


def content_seed(ratings: Ratings) -> int:
    """A seed from the ratings themselves: the same data, however named, splits alike."""
    digest = zlib.crc32(np.ascontiguousarray(ratings.user).tobytes())
    digest = zlib.crc32(np.ascontiguousarray(ratings.item).tobytes(), digest)
    return zlib.crc32(np.ascontiguousarray(ratings.rating).tobytes(), digest)


def reg_of(params: Params) -> float:
    """Lambda for the case's data (the module's doc)."""
    return REG if params["dataset"] == GENERATED else REAL_REG


def _band(inputs: dict[str, Any], params: Params) -> dict[str, float]:
    """The highest held-out RMSE that passes, and what it is measured against."""
    if params["dataset"] == GENERATED:
        return {"limit": GENERATED_NOISE * _NOISE_BAND, "floor": GENERATED_NOISE}
    train, test = inputs["train"], inputs["test"]
    baseline = rmse(np.full(len(test), train.rating.mean()), test.rating)
    return {"limit": baseline, "floor": 0.0}


def _check(output: Any, truth: Any, params: Params) -> CheckResult:
    value = float(output)
    if not np.isfinite(value):
        return CheckResult(False, None, "the held-out RMSE is not finite")
    if value <= truth["limit"]:
        return CheckResult(True, value)
    against = (
        f"{_NOISE_BAND:.2f} x the noise {truth['floor']:g}"
        if truth["floor"]
        else "predicting the training mean"
    )
    return CheckResult(
        False, value, f"held-out RMSE {value:.4f} > {truth['limit']:.4f} ({against})"
    )


ALS_RECOMMEND = workload(
    name="als_recommend",
    doc=f"ALS-WR (rank {RANK}, lambda {REG} or {REAL_REG} on real data, {ITERATIONS} sweeps) "
    "fit, then held-out RMSE",
    space=ParamSpace(
        (
            Axis("n", _SIZES, quick=(100_000,), doc="ratings (generated data only)"),
            dataset_axis(
                ("movielens_sample",),
                doc="generated, movielens_sample (in the pyspark wheel), or a MovieLens "
                "file (--data: u.data, ratings.dat, ratings.csv)",
            ),
        ),
        exclude=only_first_size(_SIZES[0]),
    ),
    make_inputs=_inputs,
    expected=_band,
    check=_check,
    work=lambda params: Work(items=float(params["n"]) if params["dataset"] == GENERATED else 0.0),
    suite="data",
    version=2,  # 2: real data split by its content's seed, lambda 0.1 on it
)


@ALS_RECOMMEND.port("numpy", "als_wr", reference=True)
def _numpy(inputs: dict[str, Any], params: Params) -> Thunk:
    """ALS-WR from scratch: batched normal equations (``bincount``) and ``solve``."""
    train, test, seed = inputs["train"], inputs["test"], inputs["seed"]

    def run() -> float:
        users, items = als_wr(train, RANK, reg_of(params), ITERATIONS, seed)
        return rmse(predict(users, items, test), test.rating)

    return run


def _frame(part: Ratings) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "user": part.user.astype(np.int32),
            "item": part.item.astype(np.int32),
            "rating": part.rating.astype(np.float64),
        }
    )


@ALS_RECOMMEND.port("spark_local", "mllib")
def _spark(inputs: dict[str, Any], params: Params) -> Thunk:
    """MLlib ``ALS`` (the same ALS-WR objective: lambda scaled by each row's count) on
    cached DataFrames, one block of users and items per partition; the RMSE by
    ``RegressionEvaluator``."""
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.recommendation import ALS

    from perfkit.backends._spark import spark_session
    from perfkit.workloads._spark import PARTITIONS

    spark = spark_session()
    train = spark.createDataFrame(_frame(inputs["train"])).repartition(PARTITIONS).cache()
    test = spark.createDataFrame(_frame(inputs["test"])).repartition(PARTITIONS).cache()
    train.count(), test.count()
    als = ALS(
        rank=RANK, maxIter=ITERATIONS, regParam=reg_of(params), seed=inputs["seed"],
        userCol="user", itemCol="item", ratingCol="rating", coldStartStrategy="drop",
        numUserBlocks=PARTITIONS, numItemBlocks=PARTITIONS,
    )  # fmt: skip
    evaluator = RegressionEvaluator(metricName="rmse", labelCol="rating")

    def run() -> float:
        return float(evaluator.evaluate(als.fit(train).transform(test)))

    return run


register_workload(ALS_RECOMMEND)
register_file_check(ALS_RECOMMEND.name, lambda path, target: check_ratings_file(path))
