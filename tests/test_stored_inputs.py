"""Inputs kept between a run's worker processes: read back whole, fresh and private."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from perfkit.engine import stored_inputs
from perfkit.engine.stored_inputs import inputs_folder, load, store
from perfkit.engine.verify import InputCache
from perfkit.model import registry


def test_what_is_stored_is_read_back_in_fresh_writable_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = (
        {"a": np.arange(10_000, dtype=np.float32), "b": np.ones((3, 4)), "k": 7},
        [np.float64(2.5), "label"],
    )
    value[0]["a"].flags.writeable = False
    path = tmp_path / "x.inputs"
    assert store(path, value)
    allocated: list[int] = []
    fresh = np.empty

    def counted(size: int, dtype: object) -> np.ndarray:
        allocated.append(size)
        return fresh(size, dtype=dtype)

    monkeypatch.setattr(stored_inputs.np, "empty", counted)
    back = load(path)
    monkeypatch.undo()
    assert back is not None
    assert np.array_equal(back[0]["a"], value[0]["a"])
    assert back[0]["a"].dtype == np.float32
    assert back[0]["b"].shape == (3, 4)
    assert back[0]["k"] == 7
    assert back[1] == [2.5, "label"]
    # Its own memory, a fresh NumPy allocation (aligned as one), not a view of the file's
    # bytes; read-only where the stored array was, writable where it was.
    assert sorted(allocated) == [12 * 8, 10_000 * 4]
    for array in (back[0]["a"], back[0]["b"]):
        assert array.ctypes.data % 16 == 0
    assert not back[0]["a"].flags.writeable
    assert back[0]["b"].flags.writeable
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_a_value_that_cannot_be_kept_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not store(tmp_path / "f.inputs", {"f": lambda: 1})
    assert not (tmp_path / "f.inputs").exists()
    monkeypatch.setattr(stored_inputs, "LIMIT", 1000)
    assert not store(tmp_path / "big.inputs", np.zeros(1000))
    assert store(tmp_path / "small.inputs", np.zeros(10))
    (tmp_path / "bad.inputs").write_bytes(b"perfkit-inputs-1\n{not json\n")
    assert load(tmp_path / "bad.inputs") is None
    (tmp_path / "short.inputs").write_bytes((tmp_path / "small.inputs").read_bytes()[:-8])
    assert load(tmp_path / "short.inputs") is None
    assert load(tmp_path / "missing.inputs") is None


def test_a_later_process_reads_the_inputs_the_first_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loaded: None
) -> None:
    (case,) = registry.expand_cases(
        registry.get_workload("vector_add"), ["numpy"], {"n": [4096], "dtype": ["float32"]}
    )
    made, truth = InputCache(0, tmp_path).get(case)
    assert len(list(tmp_path.iterdir())) == 1

    def no_generator(*args: object, **kwargs: object) -> None:
        raise AssertionError("the inputs were made again")

    monkeypatch.setattr(np.random, "default_rng", no_generator)
    read, read_truth = InputCache(0, tmp_path).get(case)
    assert all(np.array_equal(read[k], made[k]) for k in made)
    assert np.array_equal(read_truth, truth)
    assert not any(array.flags.writeable for array in read.values())  # frozen, as made ones
    monkeypatch.undo()
    other_seed, _ = InputCache(1, tmp_path).get(case)  # another seed: other inputs
    assert not np.array_equal(other_seed["a"], made["a"])


def test_a_folder_is_private_removed_after_and_swept_after_a_kill(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    import tempfile

    stale = Path(tempfile.gettempdir()) / f"perfkit-inputs-{dead}-left"
    stale.mkdir(exist_ok=True)
    (stale / "x.inputs").write_bytes(b"x")
    with inputs_folder() as folder:
        assert folder.is_dir()
        assert folder.stat().st_mode & 0o777 == 0o700
        assert folder.name.startswith(f"perfkit-inputs-{os.getpid()}-")
        assert not stale.exists(), "a killed run's folder is swept"
    assert not folder.exists()
