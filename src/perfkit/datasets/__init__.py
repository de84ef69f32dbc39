"""Data for the data workloads: seeded generators, named data sets that ship inside a
package, and readers of real files a user gives with ``--data PATH``.

A workload that takes data has a ``dataset`` axis: ``generated`` (sized by its ``n`` axis),
a named set, or a file (what ``--data`` adds), named by its file name and a digest of its
bytes (``data_label``), never by where it lies. With a file or a named
set, ``n`` means nothing, so only its first value is kept.

It imports ``model`` only."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO

from perfkit.model.axes import Axis, Params, ParamValue
from perfkit.model.errors import UsageError
from perfkit.model.workload import Workload

__all__ = [
    "DATA_FILES_ENV", "GENERATED", "apply_data_option", "data_file", "data_label",
    "dataset_axis", "each_line", "named_or_file", "only_first_size", "read_lines",
    "register_data_file", "register_file_check",
]  # fmt: skip

GENERATED = "generated"
DATA_FILES_ENV = "PERFKIT_DATA_FILES"  # {label: path} of the run's --data files
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
        overrides = {**overrides, "dataset": [str(data.expanduser())]}
        if target is not None:
            overrides["target"] = [target]
        for size in ("n", "d"):  # the size of generated data means nothing for a file
            if size in names:
                overrides.setdefault(size, [workload.space.axis(size).values[0]])
    named = set(workload.space.axis("dataset").values)
    values: list[ParamValue] = []
    for value in overrides.get("dataset", []):
        if value in named or str(value) in _data_files():
            values.append(value)  # a named set, or a file already labelled
            continue
        path = Path(str(value)).expanduser()
        if not path.is_file():
            valid = ", ".join(sorted(str(v) for v in named))
            raise UsageError(f"parameter dataset: {value!r} is not a file nor one of: {valid}")
        _readable(path)
        if workload.name in _FILE_CHECKS:
            for column in overrides.get("target", [""]):
                _FILE_CHECKS[workload.name](path, str(column))
        values.append(register_data_file(path))
    return {**overrides, "dataset": values} if "dataset" in overrides else overrides


def data_label(path: Path) -> str:
    """A data file as its cases name it: its file name and a digest of its bytes, so the
    same data read from another folder or machine is the same case (the gate matches it),
    and changed data is another case."""
    digest = hashlib.blake2b(digest_size=6)
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise UsageError(f"--data {path}: cannot be read: {exc.strerror or exc}") from None
    return f"{path.name}#{digest.hexdigest()}"


def register_data_file(path: Path) -> str:
    """``path``'s label (``data_label``), which ``data_file`` turns back into the path in
    this process and in the workers it starts (they inherit ``DATA_FILES_ENV``)."""
    label = data_label(path)
    known = _data_files()
    known[label] = str(path.resolve())
    os.environ[DATA_FILES_ENV] = json.dumps(known)
    return label


def _data_files() -> dict[str, str]:
    try:
        known = json.loads(os.environ.get(DATA_FILES_ENV, "{}"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in known.items()} if isinstance(known, dict) else {}


def data_file(value: str) -> Path | None:
    """The file a ``dataset`` value labels (``register_data_file``); an absolute path as
    given (a record of an older run); None for anything else."""
    found = _data_files().get(value)
    if found is not None:
        return Path(found)
    return Path(value) if Path(value).is_absolute() else None


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
    return list(each_line(path))


def each_line(path: Path) -> Iterator[str]:
    """``read_lines`` one line at a time: a file of any size in little memory. A damaged
    or truncated ``.gz`` raises ``EOFError``, ``gzip.BadGzipFile`` or ``zlib.error``."""
    with _open(path) as f:
        for line in f:
            yield line.rstrip("\r\n")


def named_or_file(params: Params, named: Mapping[str, Path]) -> Path | None:
    """The file behind ``params['dataset']``: a named set's, the given path, or None for
    generated data."""
    value = str(params["dataset"])
    if value == GENERATED:
        return None
    return named.get(value) or data_file(value) or Path(value)
