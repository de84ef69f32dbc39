"""What perfkit writes lands where it is told and nowhere else: a run's journal is its own
(never through a symbolic link, never over another run's), ``recover`` writes only plain
side names, and no output of a command is another of its outputs or one of its inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfkit.cli.ab import _outputs_free
from perfkit.engine.journal import Journal, JournalHeader, journal_path, recover
from perfkit.engine.protocol import WorkerReport
from perfkit.engine.runner import plan_of
from perfkit.machine.capture import capture_environment
from perfkit.model import registry
from perfkit.model.errors import RecordError, UsageError
from perfkit.model.policy import MeasurePolicy
from tests.conftest import DATA, perfkit

QUICK = ("--quick", "--no-calibrate", "-w", "vector_add", "-b", "numpy")


@pytest.fixture(scope="module")
def header(loaded: None) -> JournalHeader:
    (case, *_) = registry.expand_cases(registry.get_workload("vector_add"), ["numpy"], quick=True)
    return JournalHeader(
        "r1", "2026-01-01T00:00:00+0000", "perfkit run", capture_environment(False),
        MeasurePolicy.quick(), ("",), (plan_of(case),),
    )  # fmt: skip


def _sided(header: JournalHeader, *sides: str) -> JournalHeader:
    import dataclasses

    return dataclasses.replace(header, sides=sides)


def test_a_symbolic_link_where_the_journal_goes_is_refused_and_its_target_kept(
    tmp_path: Path, header: JournalHeader
) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    link = tmp_path / "rec.journal.jsonl"
    link.symlink_to(target)
    with pytest.raises(UsageError, match="not a file perfkit may replace"):
        Journal(link, header)
    assert target.read_text() == "keep me\n"
    dangling = tmp_path / "other.journal.jsonl"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UsageError):
        Journal(dangling, header)
    assert not (tmp_path / "nowhere").exists()


def test_a_live_runs_journal_is_not_taken_by_a_second_run(
    tmp_path: Path, header: JournalHeader
) -> None:
    path = tmp_path / "rec.journal.jsonl"
    with Journal(path, header) as first:
        first.add("", header.cases[0].case_id, WorkerReport.failed("a finished case"))
        before = path.read_bytes()
        with pytest.raises(UsageError, match="another perfkit run is writing"):
            Journal(path, header)
        assert path.read_bytes() == before
    # Stopped (closed, not discarded): kept for `perfkit recover`, not replaced.
    with pytest.raises(UsageError, match="perfkit recover"):
        Journal(path, header)
    assert path.read_bytes() == before
    assert recover(path)[""].results[0].reason == "a finished case"


def test_a_run_on_a_stopped_runs_record_path_is_refused_before_it_measures(
    tmp_path: Path, header: JournalHeader
) -> None:
    record = tmp_path / "r.json"
    Journal(journal_path(record), header).close()
    kept = journal_path(record).read_bytes()
    done = perfkit("run", *QUICK, "-o", str(record), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "perfkit recover" in done.stderr
    assert journal_path(record).read_bytes() == kept
    assert not record.exists()


@pytest.mark.parametrize("side", ["../victim/target", "/tmp/perfkit-victim", "a/b", ".."])
def test_recover_writes_no_side_that_is_a_path(
    tmp_path: Path, header: JournalHeader, side: str
) -> None:
    path = tmp_path / "run" / "ab.journal.jsonl"
    Journal(path, _sided(header, side, "cand")).close()
    with pytest.raises(RecordError, match="not a plain name"):
        recover(path)
    done = perfkit("recover", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert "not a plain name" in done.stderr
    written = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {path}
    assert not Path("/tmp/perfkit-victim.json").exists()


def test_recover_still_writes_plain_sides(tmp_path: Path, header: JournalHeader) -> None:
    path = tmp_path / "ab.journal.jsonl"
    case = header.cases[0].case_id
    with Journal(path, _sided(header, "base", "cand")) as journal:
        journal.add("base", case, WorkerReport.failed("x"))
    done = perfkit("recover", str(path), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "base.json").is_file()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("compare", *QUICK, "-o", "r.html"), "a record is a .json file"),
        (("run", *QUICK, "-o", "r"), "a record is a .json file"),
        (("run", *QUICK, "-o", "out/index.json"), "index of reports"),
        (("report", "base.json", "-o", "out/index.html"), "index of reports"),
        (("report", "base.json", "-o", "base.json"), "a report is an .html file"),
        (("import", "base.json", "-o", "base.json"), "an input of this command"),
        (("gate", "base.json", "cand.json", "--json", "v.json", "--markdown", "v.json"), "both"),
        (("gate", "base.json", "cand.json", "--json", "cand.json"), "an input of this command"),
        (("gate", "base.json", "cand.json", "--markdown", "./sub/../base.json"), "an input"),
    ],
)
def test_outputs_that_would_overwrite_each_other_or_an_input_are_refused(
    tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    record = (DATA / "record_v7.json").read_text()
    for name in ("base.json", "cand.json"):
        (tmp_path / name).write_text(record)
    (tmp_path / "sub").mkdir()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    done = perfkit(*args, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_ab_refuses_a_record_folder_that_is_a_file_and_a_shared_verdict_file(
    tmp_path: Path,
) -> None:
    import argparse

    (tmp_path / "file").write_text("x")
    args = argparse.Namespace(markdown=None, json=None)
    with pytest.raises(UsageError, match="a file; -o names the folder"):
        _outputs_free(args, tmp_path / "file")
    args = argparse.Namespace(markdown=tmp_path / "v", json=tmp_path / "v")
    with pytest.raises(UsageError, match="both the markdown and the json"):
        _outputs_free(args, tmp_path / "out")
    args = argparse.Namespace(markdown=tmp_path / "out" / "base.json", json=None)
    with pytest.raises(UsageError, match="both the base record and the markdown"):
        _outputs_free(args, tmp_path / "out")
