"""Data for the data workloads: seeded generators, named data sets that ship inside a
package, and readers of real files a user gives with ``--data PATH``.

A workload that takes data has a ``dataset`` axis: ``generated`` (sized by its ``n`` axis),
a named set, or the absolute path of a file (what ``--data`` adds). With a file or a named
set, ``n`` means nothing, so only its first value is kept.

It imports ``model`` only."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from perfkit.model.axes import Axis, Params, ParamValue
from perfkit.model.errors import UsageError
from perfkit.model.workload import Workload

__all__ = [
    "GENERATED", "apply_data_option", "dataset_axis", "named_or_file", "only_first_size",
    "read_lines", "register_file_check",
]  # fmt: skip

GENERATED = "generated"
# Per workload: a look at a data file (with the case's ``target`` parameter, "" where it
# has none), a UsageError when it is not its format.
FileCheck = Callable[[Path, str], None]
_FILE_CHECKS: dict[str, FileCheck] = {}


def register_file_check(workload: str, check: FileCheck) -> None:
    _FILE_CHECKS[workload] = check


def dataset_axis(named: tuple[str, ...] = (), doc: str = "") -> Axis:
    """The ``dataset`` axis: ``generated`` and the named sets by default; a file's path
    is accepted too (no ``choices``), checked by ``apply_data_option``."""
    return Axis("dataset", (GENERATED, *named), quick=(GENERATED,), doc=doc)


def only_first_size(first: int) -> Callable[[Params], bool]:
    """A ParamSpace ``exclude``: with a file or a named set, one size (``n``) only."""

    def exclude(params: Params) -> bool:
        return params["dataset"] != GENERATED and params["n"] != first

    return exclude


def apply_data_option(
    workload: Workload,
    overrides: dict[str, list[ParamValue]],
    data: Path | None,
    required: bool,
    target: str | None = None,
) -> dict[str, list[ParamValue]] | None:
    """``overrides`` with ``--data PATH`` as the ``dataset`` value (and ``--target COLUMN``
    as the ``target`` value) and every ``dataset`` value checked (a named set, or a file
    that exists and reads as the workload's format); None when ``workload`` takes no data
    and ``required`` is False (a suite's other workloads), a UsageError when it is True."""
    names = {axis.name for axis in workload.space.axes}
    if target is not None and data is None:
        raise UsageError("--target names a column of a --data file; give --data too")
    if "dataset" not in names or (target is not None and "target" not in names):
        if data is not None and required:
            what = "data file" if "dataset" not in names else "--target column"
            raise UsageError(f"--data: {workload.name} takes no {what}")
        return None if data is not None else overrides
    if data is not None:
        overrides = {**overrides, "dataset": [str(data.expanduser().resolve())]}
        if target is not None:
            overrides["target"] = [target]
        for size in ("n", "d"):  # the size of generated data means nothing for a file
            if size in names:
                overrides.setdefault(size, [workload.space.axis(size).values[0]])
    named = set(workload.space.axis("dataset").values)
    for value in overrides.get("dataset", []):
        if value not in named and not Path(str(value)).is_file():
            valid = ", ".join(sorted(str(v) for v in named))
            raise UsageError(f"parameter dataset: {value!r} is not a file nor one of: {valid}")
        if value not in named:
            _readable(Path(str(value)))
            if workload.name in _FILE_CHECKS:
                for column in overrides.get("target", [""]):
                    _FILE_CHECKS[workload.name](Path(str(value)), str(column))
    return overrides


def _readable(path: Path) -> None:
    try:
        with _open(path) as f:
            f.read(1)
    except (OSError, EOFError) as exc:
        raise UsageError(f"--data {path}: cannot be read: {exc}") from None


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def read_lines(path: Path) -> list[str]:
    """Every line of a text file, plain or gzipped, without its line ending; bytes that
    are not UTF-8 become U+FFFD (a log line with them is still a line)."""
    with _open(path) as f:
        return [line.rstrip("\r\n") for line in f]


def named_or_file(params: Params, named: Mapping[str, Path]) -> Path | None:
    """The file behind ``params['dataset']``: a named set's, the given path, or None for
    generated data."""
    value = str(params["dataset"])
    if value == GENERATED:
        return None
    return named.get(value, Path(value))
