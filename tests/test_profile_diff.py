"""Why it got slower: ``perfkit profile --base REF`` profiles a commit and the working tree in
turns; the differential flame graph and the pull-request table put the slowed function on
top (tests/plugins/slowdown.py: ``slowed()`` does three times its work in the candidate)."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfkit.profiling.differential import differences, grown_functions
from perfkit.profiling.record import ProfileRun, load_profile_run
from tests.conftest import PLUGINS, perfkit

# These tests compare times, CPU shares or rates: CI runs them again beside a CPU burner.
pytestmark = pytest.mark.measures

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 600  # four workers and a worktree on a busy 2-core machine


@pytest.fixture(scope="module")
def slowed(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProfileRun, Path, str]:
    folder = tmp_path_factory.mktemp("diff") / "run"
    done = perfkit(
        "profile", "--plugin", str(PLUGINS / "slowdown.py"), "-w", "slowed_function",
        "--base", "HEAD", "--profiler", "sample,python",
        "--duration", "2", "-o", str(folder),
        cwd=ROOT, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return load_profile_run(folder / "profile.json"), folder, done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("profiler", "expected"), [("sample", "DOUBLE_cos"), ("python", "slowed (slowdown.py:")]
)
def test_the_slowed_function_is_on_top(
    slowed: tuple[ProfileRun, Path, str], profiler: str, expected: str
) -> None:
    run = slowed[0]
    assert {p.side for p in run.profiles} == {"base", "cand"}
    (diff,) = [d for d in differences(run) if d.profiler == profiler]
    assert diff.cand_per_call > diff.base_per_call
    # Below the thunk's own frame, the frame that grew most is slowed(), by most of the growth.
    # (The thunk's frame; a stray sample of the loop itself may sit beside it.)
    root = max((c for c in diff.changes if not c.parent), key=lambda c: c.candidate).id
    assert "run (" in root
    children = [c for c in diff.changes if c.parent == root]
    top = max(children, key=lambda c: c.change)
    assert ".slowed (" in top.label or top.label.startswith("slowed (")
    steady = next(c for c in children if "steady" in c.label)
    assert top.change > 0.5 * (diff.cand_per_call - diff.base_per_call)
    # Shares, not seconds: load that comes and goes between the two sides moves steady()'s
    # time as much as slowed()'s growth, but within a side it slows both alike. slowed()
    # does three times its work: its share grows from about a half to about three quarters.
    assert top.candidate_share - top.base_share > 0.1
    assert steady.candidate_share < steady.base_share
    # The function that grew most by its own cost is slowed()'s: its cos loop where
    # native frames are seen, slowed() itself where only Python calls are (cProfile).
    grown = grown_functions(run, diff)[0].name
    assert grown.startswith(expected)


@pytest.mark.slow
def test_the_comment_and_the_page_say_what_grew(slowed: tuple[ProfileRun, Path, str]) -> None:
    _, folder, stdout = slowed
    why = (folder / "why.md").read_text()
    assert why.startswith("### Why it got slower")
    assert "slowed (slowdown.py:" in why
    assert "why it got slower:" in stdout
    page = (folder / "profile.html").read_text()
    assert "base → candidate" in page
    assert "function (grew most)" in page


def test_a_bad_base_ref_is_a_usage_error(tmp_path: Path) -> None:
    done = perfkit(
        "profile", "-w", "vector_add", "--base", "no-such-ref", "-o", str(tmp_path / "r"),
        cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown git ref 'no-such-ref'" in done.stderr


@pytest.mark.slow
def test_ab_profiles_the_slower_case_and_comments_what_grew(tmp_path: Path) -> None:
    comment = tmp_path / "comment.md"
    done = perfkit(
        "ab", "--base", "HEAD", "-w", "slowed_function", "--quick",
        "--plugin", str(PLUGINS / "slowdown.py"), "--no-calibrate", "--no-report",
        "--threshold", "10%", "--profile", "--markdown", str(comment),
        "-o", str(tmp_path / "ab"),
        cwd=ROOT, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # the gate fails: SLOWER
    text = comment.read_text()
    gate, _, why = text.partition("### Why it got slower")
    assert "SLOWER" in gate
    first_row = next(line for line in why.splitlines() if line.startswith("| `"))
    assert "DOUBLE_cos" in first_row  # slowed() calls cos; steady() calls sin
    run = load_profile_run(tmp_path / "ab" / "profiles" / "profile.json")
    assert {(p.side, p.profiler, p.status) for p in run.profiles} == {
        ("base", "sample", "ok"), ("cand", "sample", "ok"),
    }  # fmt: skip
