"""A report links only files beside it, shows record strings as text, and stays small
whatever a record's strings hold."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from perfkit import load_record
from perfkit.profiling.record import PROFILE_SCHEMA, CaseProfile, ProfileRun
from perfkit.profiling.stacks import Stack, Stacks
from perfkit.report.browser import _FLAGS, find_chromium
from perfkit.report.capped import LIMIT, cap, capped
from perfkit.report.html import build_report, update_index
from perfkit.report.profile_page import build_profile_page, flame_figure
from tests.conftest import DATA

SCRIPTED = "javascript:document.title='ran'.html"


def test_the_index_links_a_file_named_like_a_scheme_as_a_file(tmp_path: Path) -> None:
    (tmp_path / SCRIPTED).write_text("<title>a report</title>")
    (tmp_path / "plain report.html").write_text("<title>b</title>")
    text = update_index(tmp_path).read_text()
    hrefs = re.findall(r'href="([^"]*)"', text)
    assert sorted(hrefs) == [
        "./javascript%3Adocument.title%3D%27ran%27.html",
        "./plain%20report.html",
    ]


@pytest.mark.browser
@pytest.mark.skipif(find_chromium() is None, reason="Debian chromium is not installed")
def test_clicking_the_link_in_chromium_runs_nothing(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    (tmp_path / SCRIPTED).write_text("<title>the report</title>")
    index = update_index(tmp_path)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=find_chromium(), headless=True, args=_FLAGS
        )
        try:
            page = browser.new_page()
            page.goto(index.resolve().as_uri())
            page.click("a")
            page.wait_for_load_state("load", timeout=30_000)
            assert page.title() == "the report"  # the file was opened: no script ran
        finally:
            browser.close()


def _profile(files: tuple[str, ...], frame: str) -> ProfileRun:
    stacks = Stacks("samples", (Stack(("run", frame), 3.0), Stack(("run", "b"), 1.0)))
    profile = CaseProfile(
        "w/numpy:x[n=1]", "python", "ok", calls=10, seconds=1.0, per_call_s=0.1,
        baseline_s=0.08, stacks=stacks, files=files,
    )  # fmt: skip
    return ProfileRun(PROFILE_SCHEMA, "r1", "now", ("perfkit", "profile"), 5.0, "cpu", None,
                      (profile,))  # fmt: skip


def test_a_profile_page_links_only_files_under_its_folder() -> None:
    files = ("javascript:alert(1)", "https://example.org/x", "/etc/passwd", "../up.txt",
             "python/w/profile.pstats")  # fmt: skip
    page = build_profile_page(_profile(files, "f"))
    overview = page[page.index("<table>") : page.index("</table>")]  # plotly.js has links too
    hrefs = re.findall(r'<a href="([^"]*)"', overview)
    assert hrefs == ["./python/w/profile.pstats"]
    assert "passwd" in page  # named as text


def test_icicle_labels_are_escaped_like_every_other_figure_label() -> None:
    frame = "<img src=x onerror=alert(1)>"
    figure = flame_figure(_profile((), frame).profiles[0].stacks, "t")  # type: ignore[arg-type]
    labels = list(figure.data[0].labels)
    assert "&lt;img src=x onerror=alert(1)&gt;" in labels
    assert frame not in labels


def test_a_huge_string_in_a_record_makes_a_page_no_bigger() -> None:
    record = load_record(DATA / "record_v7.json")
    first = record.results[0]
    huge = dataclasses.replace(first, params={**first.params, "path": "x" * 5_000_000})
    big = dataclasses.replace(record, results=(huge, *record.results[1:]))
    plain, page = build_report([record], "t"), build_report([big], "t")
    assert len(page) < len(plain) + 100 * LIMIT  # each place shows the string cut
    assert "5,000,000 characters" in page


def test_capping_keeps_long_strings_apart_and_leaves_short_ones_as_they_are() -> None:
    a, b = "y" * 1000 + "a", "y" * 1000 + "b"
    assert cap(a) != cap(b)
    assert len(cap(a)) < LIMIT + 60
    record = load_record(DATA / "record_v7.json")
    assert capped(record) is record  # nothing long: the same objects, no copy
