"""Tables for the classic-ML workloads: the split and its standardisation, CSV files given
with --data and --target, and bad data refused with one line and exit code 2."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from perfkit.datasets.tabular import load_table, read_csv
from perfkit.model.errors import UsageError
from perfkit.records.run_record import load_record
from tests.conftest import perfkit


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _wine_csv(path: Path) -> Path:
    """The wine set with its classes as names, in the first column."""
    from sklearn.datasets import load_wine

    found = load_wine()
    names = np.array(["barolo", "grignolino", "barbera"])[found.target]
    rows = [[name, *values] for name, values in zip(names, found.data, strict=True)]
    return _write(path, ["cultivar", *found.feature_names], rows)


def test_standardisation_is_fitted_on_the_training_part_only() -> None:
    data = load_table("breast_cancer", "classification", np.random.default_rng(0), n=0, d=0)
    assert np.allclose(data.x_train.mean(axis=0), 0.0, atol=1e-12)
    assert np.allclose(data.x_train.std(axis=0), 1.0)
    assert not np.allclose(data.x_test.mean(axis=0), 0.0, atol=1e-3)
    assert data.shape == (569, 30)


def test_the_split_is_stratified_seeded_and_holds_a_fifth_out() -> None:
    a = load_table("iris", "classification", np.random.default_rng(4), n=0, d=0)
    b = load_table("iris", "classification", np.random.default_rng(4), n=0, d=0)
    c = load_table("iris", "classification", np.random.default_rng(5), n=0, d=0)
    assert np.array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)
    assert np.array_equal(np.bincount(a.y_test), [10, 10, 10])
    regression = load_table("diabetes", "regression", np.random.default_rng(4), n=0, d=0)
    assert len(regression.y_test) == round(442 * 0.2)
    assert regression.classes == 0


def test_generated_tables_have_the_asked_shape_and_classes() -> None:
    data = load_table("generated", "classification", np.random.default_rng(0), n=5000, d=7,
                      classes=8)  # fmt: skip
    assert data.shape == (5000, 7)
    assert data.classes == 8
    regression = load_table("generated", "regression", np.random.default_rng(0), n=500, d=3)
    assert regression.shape == (500, 3)


def test_a_csv_target_may_be_any_column_with_names_for_classes(tmp_path: Path) -> None:
    x, y = read_csv(_wine_csv(tmp_path / "wine.csv"), "cultivar", "classification")
    assert x.shape == (178, 13)
    assert sorted(set(y)) == ["barbera", "barolo", "grignolino"]
    last = _write(tmp_path / "last.csv", ["a", "b", "y"], [[i, i * i, i % 2] for i in range(20)])
    x, y = read_csv(last, "", "regression")
    assert x.shape == (20, 2)
    assert y[3] == 1.0


@pytest.mark.parametrize(
    ("rows", "target", "task", "message"),
    [
        ([[1, 2, "x"]] * 20, "y", "classification", "one class only"),
        ([[1, "nan", 0], *[[i, i, i % 2] for i in range(20)]], "y", "classification", "missing"),
        ([[1, "?", 0], *[[i, i, i % 2] for i in range(20)]], "y", "classification", "missing"),
        ([[1, "abc", 0], *[[i, i, i % 2] for i in range(20)]], "y", "classification",
         "not a number"),
        ([[i, i, i % 2] for i in range(20)], "label", "classification", "no column 'label'"),
        ([[i, i, "big"] for i in range(20)], "y", "regression", "not numeric"),
        ([[i, i, i % 2] for i in range(5)], "y", "classification", "at least 10"),
        ([[1, 2], *[[i, i, i % 2] for i in range(20)]], "y", "classification", "fields"),
    ],
)  # fmt: skip
def test_bad_tables_are_usage_errors(
    tmp_path: Path, rows: list[list[object]], target: str, task: str, message: str
) -> None:
    path = _write(tmp_path / "bad.csv", ["a", "b", "y"], rows)
    with pytest.raises(UsageError, match=message):
        read_csv(path, target, task)  # type: ignore[arg-type]


@pytest.mark.slow
def test_bad_data_on_the_command_line_is_one_line_and_exit_2(tmp_path: Path) -> None:
    rows: list[list[object]] = [[1, "NaN", 0]]
    rows += [[i, i, i % 2] for i in range(20)]
    with_nan = _write(tmp_path / "nan.csv", ["a", "b", "y"], rows)
    one_class = _write(tmp_path / "one.csv", ["a", "y"], [[i, "same"] for i in range(20)])
    for args, message in (
        (("-w", "decision_tree", "--data", str(with_nan), "--target", "y"), "is missing"),
        (("-w", "svm", "--data", str(one_class)), "one class only"),
        (("-w", "kmeans", "--data", str(with_nan), "--target", "label"), "no column 'label'"),
        (("-w", "kmeans", "--target", "y"), "give --data too"),
        (("-w", "matmul", "--data", str(one_class)), "takes no data file"),
    ):
        done = perfkit("compare", *args, "-b", "numpy", "--no-report", cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_a_csv_runs_through_the_same_pipeline_and_records_quality(tmp_path: Path) -> None:
    path = _wine_csv(tmp_path / "wine.csv")
    record = tmp_path / "wine.json"
    done = perfkit(
        "compare", "-w", "logistic_regression", "-b", "numpy:irls,sklearn",
        "--data", str(path), "--target", "cultivar", "--budget", "0.1", "--processes", "1",
        "--extra-processes", "0", "--no-report", "--no-calibrate", "-o", str(record),
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = load_record(record).results
    assert {r.implementation for r in results} == {"numpy:irls", "sklearn:default"}
    for result in results:
        assert result.status == "ok", (result.case_id, result.reason)
        assert "target=cultivar" in result.case_id
        accuracy = result.metric("quality/accuracy")
        assert accuracy is not None
        assert accuracy > 0.9
        assert (result.metric("time/predict") or 0) > 0
