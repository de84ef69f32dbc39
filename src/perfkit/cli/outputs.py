"""The files a command writes, checked before it starts: a record is a ``.json`` file, a
report an ``.html`` one, no two outputs of one command are one file, and no output is one
of the command's inputs. (``compare -o r.html`` used to write the record, then the report
over it; ``report -o DIR/index.html`` was overwritten by the folder's index.)"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from perfkit.model.errors import UsageError

__all__ = ["INDEX", "distinct_outputs", "record_output", "report_output", "report_outputs"]

INDEX = "index.html"  # every report's folder has one, listing its reports


def record_output(path: Path) -> Path:
    """``path`` as a record's file: a ``.json`` name that is not a folder."""
    if path.suffix != ".json":
        raise UsageError(f"{path}: a record is a .json file")
    if path.is_dir():
        raise UsageError(f"{path}: a folder, not a record file")
    return path


def report_output(path: Path) -> Path:
    """``path`` as a report's file: an ``.html`` name that is not its folder's index."""
    if path.suffix != ".html":
        raise UsageError(f"{path}: a report is an .html file")
    if path.name == INDEX:
        raise UsageError(f"{path}: the name of the folder's index of reports; name the report")
    if path.is_dir():
        raise UsageError(f"{path}: a folder, not a report file")
    return path


def report_outputs(path: Path, what: str = "report") -> dict[str, Path]:
    """A report's file and the index of its folder, for ``distinct_outputs``."""
    return {what: report_output(path), f"{what}'s index": path.parent / INDEX}


def _same_file(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path))


def distinct_outputs(outputs: Mapping[str, Path | None], inputs: Iterable[Path] = ()) -> None:
    """Refuse, in one line, two outputs (by what they are) that are one file, or an output
    that is an input. Paths are compared after symbolic links and ``..`` are resolved."""
    claimed: dict[str, str] = {}
    for what, path in outputs.items():
        if path is None:
            continue
        other = claimed.setdefault(_same_file(path), what)
        if other != what:
            raise UsageError(f"{path}: both the {other} and the {what}; give them other paths")
    for path in inputs:
        if (what_ := claimed.get(_same_file(path))) is not None:
            raise UsageError(f"{path}: an input of this command, and the {what_} would replace it")
