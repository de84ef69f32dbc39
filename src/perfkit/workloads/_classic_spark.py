"""What the MLlib ports of the classic-ML workloads share: a split as two cached
DataFrames (``i``, ``features`` as an ML vector, ``label``), and a fitted model's
predictions on the test part, back in the test rows' order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from perfkit.datasets.tabular import Tabular

__all__ = ["SPARK_ITERATIONS", "SPARK_TOLERANCE", "feature_frames", "mllib_fit", "predictions"]

# MLlib's own stopping rule for its iterative fits (each iteration is a Spark job).
SPARK_ITERATIONS, SPARK_TOLERANCE = 100, 1e-6


def _frame(x: np.ndarray, y: np.ndarray) -> Any:
    import pandas as pd
    from pyspark.ml.feature import VectorAssembler

    from perfkit.backends._spark import spark_session
    from perfkit.workloads._spark import PARTITIONS

    names = [f"f{j}" for j in range(x.shape[1])]
    table = pd.DataFrame(x, columns=names)
    table.insert(0, "i", np.arange(len(x), dtype=np.int64))
    table["label"] = np.asarray(y, dtype=np.float64)
    assembled = VectorAssembler(inputCols=names, outputCol="features").transform(
        spark_session().createDataFrame(table)
    )
    frame = assembled.select("i", "features", "label").repartition(PARTITIONS).cache()
    frame.count()
    return frame


def feature_frames(data: Tabular) -> tuple[Any, Any]:
    """The training and test parts, cached and materialised outside every timed call."""
    return _frame(data.x_train, data.y_train), _frame(data.x_test, data.y_test)


def predictions(model: Any, test: Any, integer: bool) -> np.ndarray:
    rows = model.transform(test).select("i", "prediction").toPandas().sort_values("i")
    values = rows["prediction"].to_numpy()
    return np.asarray(values.astype(np.int64) if integer else values.astype(np.float64))


def mllib_fit(
    estimator: Any,
    data: Tabular,
    against: str = "default",
    coefficients: Callable[[Any], np.ndarray] | None = None,
    optimum: bool = True,
) -> Callable[[], Any]:
    """A classifier port's thunk: ``estimator`` fitted on the cached training part each
    call, predicting class indices of the cached test part (and giving the fitted
    model's ``coefficients``, where the workload holds ports to an optimum; ``optimum``
    False where the estimator minimises another objective)."""
    from perfkit.workloads._classic import Fitted

    train, test = feature_frames(data)

    def run() -> Fitted:
        model = estimator.fit(train)
        return Fitted(
            lambda: predictions(model, test, integer=True),
            against=against,
            coefficients=coefficients(model) if coefficients is not None else None,
            optimum=optimum,
        )

    return run
