"""Report pages: self-contained, escaped, indexed; the report command."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from perfkit.report.html import build_report, update_index, write_report
from tests.conftest import DATA, perfkit
from tests.test_report_figures import EVIL, evil_record, fixture


def test_page_is_self_contained_and_lists_every_case_that_did_not_run() -> None:
    page = build_report([fixture()], "fixture")
    assert re.search(r"<script[^>]+src=", page) is None  # plotly.js is inline, nothing fetched
    assert "Plotly.newPlot" in page
    for status, reason in [
        ("invalid", "relative error"),
        ("failed", "timed out after 5 s"),
        ("skipped", "needs hardware"),
    ]:
        assert f"status-{status}" in page
        assert reason in page


def test_measured_results_come_first_and_skipped_cases_fold_into_one_row() -> None:
    """A machine without a GPU skips every GPU case: those rows are one per backend and
    reason, folded away, below a table of what was measured."""
    record = fixture()
    template = next(r for r in record.results if r.status == "skipped")
    gpu = [
        dataclasses.replace(
            template, case_id=f"vector_add/cupy:default[n={n}]", backend="cupy",
            workload="vector_add", reason="cupy is not installed",
        )
        for n in range(12)
    ]  # fmt: skip
    page = build_report([dataclasses.replace(record, results=(*record.results, *gpu))], "t")
    measured = page.index("<h2>Measured</h2>")
    unmeasured = page.index("<h2>Cases that did not run or were wrong</h2>")
    assert measured < unmeasured < page.index("<h2>Roofline</h2>")
    table = page[measured:unmeasured]
    assert "vector_add[n=4096,dtype=float32]" in table
    assert "python:chatty" in table
    assert "status-" not in table, "only measured cases in the first table"
    rest = page[unmeasured:]
    assert rest.count("<summary>12 cases of cupy</summary>") == 1
    assert rest.count("cupy is not installed") == 1
    assert "<summary>1 case of python</summary>" in rest  # the fixture's own skipped case
    assert rest.count("status-failed") == 3, "failures stay one row a case"


def test_every_record_string_is_escaped() -> None:
    page = build_report([evil_record()], EVIL)
    assert EVIL not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_two_records_get_the_gate_table_and_history(tmp_path: Path) -> None:
    page = build_report([fixture(), fixture()], "two")
    assert "<h2>Gate</h2>" in page
    # One process a side: no verdict either way, and the page says so.
    assert ">UNDERPOWERED</span>" in page
    assert ">INVALID</span>" in page  # the fixture's wrong answer fails the gate
    assert "1.000" in page
    assert "history of the median" in page


def test_write_report_refreshes_the_index_newest_first(tmp_path: Path) -> None:
    first = write_report([fixture()], tmp_path / "a.html", "first")
    (tmp_path / "foreign.html").write_text(f"<html><title>{EVIL}</title></html>")
    second = write_report([fixture()], tmp_path / "b.html", "second")
    index = (tmp_path / "index.html").read_text()
    assert index.index('href="./b.html"') < index.index('href="./a.html"')
    assert EVIL not in index  # a foreign page's title is escaped too
    assert first.stat().st_mode & 0o777 == second.stat().st_mode & 0o777
    assert second.stat().st_mode & 0o044  # readable by others, like any written file
    assert update_index(tmp_path) == tmp_path / "index.html"


@pytest.mark.slow
def test_report_command(tmp_path: Path) -> None:
    done = perfkit(
        "report", str(DATA / "record_v1.json"), "-o", "out/r.html", "--title", "t", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "report: out/r.html"
    assert (tmp_path / "out" / "index.html").exists()
    missing = perfkit("report", "nope.json", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "perfkit: error: nope.json: no such record file"
    shared = perfkit(
        "report", str(DATA / "record_v1.json"), "-o", "out/s.html", "--shared-plotly", cwd=tmp_path
    )
    assert shared.returncode == 0, shared.stderr
    assert len(list((tmp_path / "out").glob("plotly-*.min.js"))) == 1
    assert (tmp_path / "out" / "s.html").stat().st_size * 10 < (
        tmp_path / "out/r.html"
    ).stat().st_size
    wrong = perfkit("report", str(DATA / "record_v1.json"), "-o", "r.txt", cwd=tmp_path)
    assert wrong.returncode == 2
    assert "a report is an .html file" in wrong.stderr


@pytest.mark.slow
def test_compare_writes_a_report_unless_told_not_to(tmp_path: Path) -> None:
    done = perfkit(
        "compare", "-w", "reduce_sum", "--quick", "--no-calibrate", "-p", "n=1000", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    report = done.stdout.strip().splitlines()[-1].removeprefix("report: ")
    assert re.fullmatch(r"reports/reduce_sum-\d{8}-\d{6}-[0-9a-f]{4}\.html", report)
    assert (tmp_path / report).stat().st_size > 1_000_000  # plotly.js inside
    assert (tmp_path / "reports" / "index.html").exists()
    quiet = perfkit(
        "compare",
        "-w",
        "reduce_sum",
        "--quick",
        "--no-calibrate",
        "-p",
        "n=1000",
        "--no-report",
        cwd=tmp_path,
    )
    assert "report:" not in quiet.stdout
    assert len(list((tmp_path / "reports").glob("reduce_sum-*.html"))) == 1
