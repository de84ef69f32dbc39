"""The journal of a run: every worker report written down as it arrives.

A run keeps its results in memory until the end, where it writes the record. Whatever ends
it before that (SIGKILL, a full disk, a bug) would lose hours of finished measurements, so
the runner also appends each report to ``<record>.journal.jsonl`` and flushes it. The first
line holds what a record needs besides the results (environment, policy, the cases' facts);
each further line one report. Once the record is written the journal goes; if it stays,
``perfkit recover`` (or ``report`` and ``gate``, which read journals too) turns it into a
record marked partial.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from perfkit.engine.protocol import CasePlan, WorkerReport, merge, read_report
from perfkit.model.errors import RecordError, UsageError, not_json
from perfkit.model.policy import MeasurePolicy
from perfkit.records.environment import Environment
from perfkit.records.run_record import RunRecord
from perfkit.records.typed import FieldError, from_json, to_json

__all__ = [
    "JOURNAL_SUFFIX",
    "Journal",
    "JournalHeader",
    "is_journal",
    "journal_free",
    "journal_path",
    "load_run",
    "recover",
]

JOURNAL_SUFFIX = ".journal.jsonl"
_FORMAT = 1
_SIDE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # "base", "cand": never a path


@dataclass(frozen=True, slots=True)
class JournalHeader:
    run_id: str
    created: str
    command: str
    environment: Environment
    policy: MeasurePolicy
    sides: tuple[str, ...]
    cases: tuple[CasePlan, ...]
    journal: int = _FORMAT


def journal_path(record: Path) -> Path:
    """Where the journal of the record ``record`` goes: beside it."""
    return record.with_name(record.name.removesuffix(".json") + JOURNAL_SUFFIX)


def _held(path: Path) -> str:
    """Why the journal ``path`` that already exists is not this run's to write."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return f"{path}: where the run's journal goes, and not a file perfkit may replace"
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return f"{path}: another perfkit run is writing this journal; give this run another -o"
    finally:
        os.close(fd)
    return (
        f"{path}: the journal of a run that stopped before its record was written: "
        f"`perfkit recover {path}` first, or remove it"
    )


def journal_free(path: Path) -> None:
    """Refuse (``UsageError``) to start a run whose journal would replace another's: a
    live run's, or a stopped one's not yet recovered, or a symbolic link."""
    if os.path.lexists(path):
        raise UsageError(_held(path))


def _claim(path: Path) -> IO[str]:
    """The journal ``path``, created for this run alone: never through a symbolic link,
    never over an existing file, and locked while the run lives (how another run knows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise UsageError(_held(path)) from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the run's journal: {exc.strerror or exc}") from None
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # just created: no one else holds it
    return os.fdopen(fd, "w", encoding="utf-8")


class Journal:
    """Appends reports to a journal file; a write that fails (a full disk) is said once
    and the run goes on, since its results are still in memory. The file is this run's
    alone (``_claim``); opening over another run's journal is a ``UsageError``."""

    def __init__(self, path: Path, header: JournalHeader) -> None:
        self.path = path
        self._handle: IO[str] | None = _claim(path)
        self.error: str | None = None
        self._write(to_json(header))

    def add(self, side: str, case_id: str, report: WorkerReport) -> None:
        self._write({"side": side, "case": case_id, "report": report.to_json()})

    def _write(self, entry: Mapping[str, Any]) -> None:
        if self._handle is None:
            return
        try:
            self._handle.write(json.dumps(entry) + "\n")
            self._handle.flush()
        except OSError as exc:
            self.error = f"{self.path}: {exc.strerror or exc}"
            self.close()

    def close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            try:
                handle.close()
            except OSError as exc:
                self.error = self.error or f"{self.path}: {exc.strerror or exc}"

    def discard(self) -> None:
        """The record is written: the journal has done its work."""
        self.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _entries(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise RecordError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith("\n"):
                return  # the last line, cut short by whatever ended the run
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise not_json(path, exc, number) from None


def recover(path: Path | str) -> dict[str, RunRecord]:
    """The records a journal holds, one per side (``""`` for a plain run), marked partial:
    every case that has a report is in it, merged as the run would have merged it."""
    path = Path(path)
    entries = _entries(path)
    try:
        first = next(entries, None)
        if first is None:
            raise RecordError(f"{path}: an empty journal")
        header: JournalHeader = from_json(JournalHeader, first[1], "journal header")
        if header.journal != _FORMAT:
            raise RecordError(f"{path}: journal format {header.journal} is not {_FORMAT}")
        for name in header.sides:  # each names a file: `recover` writes <side>.json
            if name and not _SIDE.fullmatch(name):
                raise RecordError(f"{path}: a side named {name!r}, not a plain name")
        plans = {plan.case_id: plan for plan in header.cases}
        reports: dict[tuple[str, str], list[WorkerReport]] = {}
        for number, entry in entries:
            where = f"line {number}"
            if not isinstance(entry, dict):
                raise FieldError(where, "expected an object")
            side, case_id = entry.get("side"), entry.get("case")
            if not isinstance(side, str) or not isinstance(case_id, str):
                raise FieldError(where, "expected a side and a case")
            if side not in header.sides or case_id not in plans:
                raise FieldError(where, f"an unknown side or case: {side!r}, {case_id!r}")
            report = read_report(entry.get("report", {}), f"{where}.report")
            reports.setdefault((side, case_id), []).append(report)
    except FieldError as exc:
        raise RecordError(f"{path}: {exc}") from None
    ceilings = header.environment.ceilings
    return {
        side: _record(header, side, [
            merge(plans[c.case_id], reports[side, c.case_id], ceilings, header.policy.measure)
            for c in header.cases
            if (side, c.case_id) in reports
        ])
        for side in header.sides
    }  # fmt: skip


def _record(header: JournalHeader, side: str, results: Sequence[Any]) -> RunRecord:
    return RunRecord(
        run_id=f"{header.run_id}-{side}" if side else header.run_id,
        created=header.created,
        command=header.command,
        partial=True,
        environment=header.environment,
        policy=header.policy,
        results=tuple(results),
    )


def is_journal(path: Path) -> bool:
    return path.name.endswith(JOURNAL_SUFFIX)


def load_run(path: Path) -> RunRecord:
    """A record file, or the record a plain run's journal holds (partial)."""
    from perfkit.records.run_record import load_record

    if not is_journal(path):
        return load_record(path)
    records = recover(path)
    if len(records) != 1:
        raise RecordError(f"{path}: holds {len(records)} sides; `perfkit recover` splits them")
    return next(iter(records.values()))
