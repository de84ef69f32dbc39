"""Tables for the classic-ML workloads: scikit-learn's bundled UCI sets, seeded synthetic
sets sized by ``n`` (rows) and ``d`` (features), or a CSV file a user gives (``--data
FILE.csv --target COLUMN``), all through one pipeline: a seeded split (stratified by
class for classification, ``TEST_FRACTION`` held out), then every feature standardised
with the mean and deviation of the training part only (a constant feature is left
centred). Classes become indices ``0 .. K-1`` in sorted order of their labels.

Bad data is a ``UsageError`` (one line, exit 2), never a model fitted on it: a missing
value, a feature that is not a number, a target column the file lacks, one class only."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from perfkit.datasets import GENERATED, data_file
from perfkit.datasets.classification import TEST_FRACTION, stratified_split
from perfkit.model.errors import UsageError

__all__ = [
    "CLASSIFICATION_SETS", "REGRESSION_SETS", "Tabular", "Task", "check_csv", "load_table",
    "read_csv", "split_table",
]  # fmt: skip

Task = Literal["classification", "regression"]
CLASSIFICATION_SETS = ("iris", "wine", "breast_cancer", "digits")
REGRESSION_SETS = ("diabetes",)
_MISSING = {"", "?", "na", "nan", "null", "none"}
_MIN_ROWS = 10


@dataclass(frozen=True, slots=True)
class Tabular:
    """A standardised split; ``classes`` is 0 for regression."""

    x_train: np.ndarray[Any, Any]
    y_train: np.ndarray[Any, Any]
    x_test: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]
    classes: int

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.x_train) + len(self.x_test), self.x_train.shape[1]


def _named(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return np.asarray(x, dtype=np.float64), np.asarray(y)


def _synthetic(
    task: Task, n: int, d: int, classes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Regression: ``y = x . w + noise``, the noise a ninth of the signal's variance
    (R^2 near 0.9). Classification: a random prototype per class, ~3 noise deviations
    from the next, plus unit noise on every feature."""
    x = rng.normal(0.0, 1.0, size=(n, d))
    if task == "regression":
        y = x @ rng.normal(0.0, 1.0, size=d)
        return x, y + rng.normal(0.0, np.sqrt(float(y.var()) / 9.0), size=n)
    prototypes = rng.normal(0.0, 3.0 / np.sqrt(d), size=(classes, d))
    labels = rng.integers(0, classes, size=n)
    return x + prototypes[labels], labels


def split_table(x: np.ndarray, y: np.ndarray, task: Task, rng: np.random.Generator) -> Tabular:
    if task == "classification":
        found, codes = np.unique(y, return_inverse=True)
        split = stratified_split(x, codes.reshape(-1), rng)
        parts = (split.x_train, split.y_train, split.x_test, split.y_test)
        classes = len(found)
    else:
        order = rng.permutation(len(y))
        test, train = order[: round(len(y) * TEST_FRACTION)], order[round(len(y) * TEST_FRACTION) :]
        parts = (x[train], y[train].astype(np.float64), x[test], y[test].astype(np.float64))
        classes = 0
    x_train, y_train, x_test, y_test = parts
    mean, deviation = x_train.mean(axis=0), x_train.std(axis=0)
    deviation[deviation == 0.0] = 1.0
    arrays = ((x_train - mean) / deviation, y_train, (x_test - mean) / deviation, y_test)
    for array in arrays:
        array.flags.writeable = False
    return Tabular(*arrays, classes=classes)


def load_table(
    dataset: str, task: Task, rng: np.random.Generator, *, n: int, d: int, classes: int = 2,
    target: str = "",
) -> Tabular:  # fmt: skip
    """``dataset``: ``generated`` (``n`` x ``d``, ``classes`` for classification), a
    bundled set's name, or a CSV file's path (``target`` names its label column)."""
    if dataset == GENERATED:
        x, y = _synthetic(task, n, d, classes, rng)
    elif dataset in CLASSIFICATION_SETS + REGRESSION_SETS:
        x, y = _named(dataset)
    else:
        x, y = read_csv(data_file(dataset) or Path(dataset), target, task)
    return split_table(x, y, task, rng)


def read_csv(path: Path, target: str, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Features and target of a CSV file with a header row: ``target`` is the label column
    (the last column where it is empty); every other column must hold numbers."""
    where = f"--data {path}"
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            rows = [row for row in csv.reader(f) if row]
    except OSError as exc:
        raise UsageError(f"{where}: cannot be read: {exc.strerror or exc}") from None
    if len(rows) < 2:
        raise UsageError(f"{where}: needs a header row and at least {_MIN_ROWS} rows of data")
    header = [name.strip() for name in rows[0]]
    column = _target_column(header, target, where)
    x = np.empty((len(rows) - 1, len(header) - 1))
    labels: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UsageError(
                f"{where}: line {line} has {len(row)} fields, the header {len(header)}"
            )
        cells = [cell.strip() for cell in row]
        for position, cell in enumerate(cells):
            if cell.lower() in _MISSING:
                raise UsageError(
                    f"{where}: line {line}, column {header[position]!r} is missing ({cell!r}); "
                    "fill or drop such rows first"
                )
        labels.append(cells[column])
        features = cells[:column] + cells[column + 1 :]
        try:
            x[line - 2] = [float(cell) for cell in features]
        except ValueError:
            bad = next(i for i, cell in enumerate(features) if not _is_number(cell))
            name = (header[:column] + header[column + 1 :])[bad]
            raise UsageError(
                f"{where}: line {line}, column {name!r} is not a number: {features[bad]!r}"
            ) from None
    if not np.all(np.isfinite(x)):
        raise UsageError(f"{where}: a feature holds an infinite value or NaN")
    return x, _target_values(labels, task, where, header[column])


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _target_column(header: list[str], target: str, where: str) -> int:
    if len(header) < 2:
        raise UsageError(f"{where}: needs a target column and at least one feature")
    if not target:
        return len(header) - 1
    if target not in header:
        raise UsageError(
            f"{where}: no column {target!r} (--target); the columns are: {', '.join(header)}"
        )
    return header.index(target)


def _target_values(labels: list[str], task: Task, where: str, name: str) -> np.ndarray:
    if len(labels) < _MIN_ROWS:
        raise UsageError(f"{where}: {len(labels)} rows; at least {_MIN_ROWS} are needed")
    if task == "regression":
        try:
            values = np.array([float(label) for label in labels])
        except ValueError:
            raise UsageError(f"{where}: the target {name!r} is not numeric (regression)") from None
        if not np.all(np.isfinite(values)):
            raise UsageError(f"{where}: the target {name!r} holds an infinite value or NaN")
        return values
    found = np.array(labels)
    if len(np.unique(found)) < 2:
        raise UsageError(f"{where}: the target {name!r} has one class only ({labels[0]!r})")
    return found


def check_csv(path: Path, target: str, task: Task) -> None:
    """The whole file read as the workload will read it; a UsageError where it cannot."""
    read_csv(path, target, task)
