"""A/B: two sides measured in one interleaved run; two git refs through worktrees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfkit import MeasurePolicy, UsageError
from perfkit.engine.harness import fingerprint, ports_load
from perfkit.engine.runner import Side, run_sides
from perfkit.model import registry
from perfkit.vcs.worktree import checkout, repository_root, resolve_ref
from tests.conftest import FAULTY, PLUGINS, perfkit

# These tests compare times, CPU shares or rates: CI runs them again beside a CPU burner.
pytestmark = pytest.mark.measures

ROOT = Path(__file__).resolve().parent.parent
SLOWDOWN = PLUGINS / "slowdown.py"


def _worktrees() -> set[Path]:
    """The repository's worktrees, by path: tests running beside this one may add and
    remove their own meanwhile, so a test looks for its own, never at the count."""
    listing = subprocess.run(
        ["git", "worktree", "list", "--porcelain"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        Path(line.partition(" ")[2]).resolve()
        for line in listing.splitlines()
        if line.startswith("worktree ")
    }


def _holding(path: Path, worktrees: set[Path]) -> bool:
    return any(path.resolve().is_relative_to(tree) for tree in worktrees if tree != ROOT)


@pytest.mark.slow
def test_sides_get_their_own_environment_and_alternate() -> None:
    registry.load([SLOWDOWN])
    cases = registry.expand_cases(registry.get_workload("slowdown_probe"), quick=True)
    policy = MeasurePolicy.quick(processes=2)
    sides = {"base": Side(), "cand": Side(env={"PERFKIT_SLOWDOWN": "1.5"})}
    out = run_sides(cases, policy, sides, plugins=[str(SLOWDOWN)])
    for side in sides:
        (result,) = out[side].results
        assert result.status == "ok"
        assert sorted(run.process for run in result.measurement.runs) == [0, 1]
    # The variable reaches the candidate's workers only; once a side fails, the pair stops.
    sides = {"base": Side(), "cand": Side(env={"PERFKIT_SLOWDOWN": "9"})}
    out = run_sides(cases, policy, sides, plugins=[str(SLOWDOWN)])
    (base,) = out["base"].results
    (cand,) = out["cand"].results
    assert base.status == "ok"
    assert [run.process for run in base.measurement.runs] == [0]
    assert cand.status == "failed"
    assert "PERFKIT_SLOWDOWN must lie in [1, 5], got 9.0" in cand.reason


def test_checkout_gives_the_commit_and_cleans_up() -> None:
    repo = repository_root(ROOT)
    with checkout("HEAD", repo) as (sha, source):
        assert sha == resolve_ref("HEAD", repo)
        assert (source / "perfkit" / "__init__.py").is_file()
        assert _holding(source, _worktrees())
    assert not _holding(source, _worktrees())
    assert not source.exists()


def test_bad_refs_and_folders_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown git ref 'no-such-ref'"):
        resolve_ref("no-such-ref", ROOT)
    with pytest.raises(UsageError, match="not inside a git repository"):
        repository_root(tmp_path)


def _ab(tmp_path: Path, variant: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """``perfkit ab`` with its worktrees in ``tmp_path / "tmp"`` (its TMPDIR)."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return perfkit(
        "ab", "--base", "HEAD", "-w", "faulty_probe", "-b", f"python:{variant}", "--quick",
        "--no-calibrate", "--no-report", "--plugin", str(FAULTY), "-o", str(tmp_path / "ab"),
        "--json", str(tmp_path / "gate.json"), *extra,
        cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
    )  # fmt: skip


@pytest.mark.slow
def test_ab_command_measures_until_decided_and_an_a_a_run_passes(tmp_path: Path) -> None:
    """Both sides are this code: the run must pass. A false SLOWER here needs all ten
    repetition pairs to lean one way by more than 25%, under 0.2% even on a loaded machine."""
    done = _ab(
        tmp_path, "good", "--processes", "8", "--max-repetitions", "10", "--alpha", "0.01",
        "--threshold", "25%",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    gate = json.loads((tmp_path / "gate.json").read_text())
    (comparison,) = gate["comparisons"]
    assert comparison["case_id"] == "faulty_probe/python:good[n=100]"
    assert comparison["verdict"] in ("SAME", "AMBIGUOUS", "UNDERPOWERED")
    assert comparison["fails"] is False
    assert 8 <= gate["rounds"] <= 12
    assert comparison["pairs"] >= 8
    assert gate["policy"]["looks"] == 3  # after 8, 10 and the confirmation at 12
    assert gate["notes"] == []  # one harness measured both sides
    base = json.loads((tmp_path / "ab" / "base.json").read_text())
    cand = json.loads((tmp_path / "ab" / "cand.json").read_text())
    assert base["environment"]["git"]["sha"] == resolve_ref("HEAD", ROOT)
    assert base["environment"]["harness"] == cand["environment"]["harness"]
    assert len(base["results"][0]["measurement"]["runs"]) == gate["rounds"]
    assert not (tmp_path / "ab" / "ab.journal.jsonl").exists()
    # The base's worktree was made under the run's TMPDIR, and is gone from git and disk.
    assert not any(tree.is_relative_to((tmp_path / "tmp").resolve()) for tree in _worktrees())
    assert list((tmp_path / "tmp").glob("perfkit-ab-*")) == []
    wrong = perfkit("ab", "--base", "no-such-ref", "-w", "vector_add", cwd=ROOT)
    assert wrong.returncode == 2
    assert "unknown git ref 'no-such-ref'" in wrong.stderr


@pytest.mark.slow
def test_ab_fails_when_the_candidate_breaks_a_case(tmp_path: Path) -> None:
    done = _ab(tmp_path, "cand_breaks", "--processes", "1", "--max-repetitions", "1")
    assert done.returncode == 1, done.stdout + done.stderr
    gate = json.loads((tmp_path / "gate.json").read_text())
    (comparison,) = gate["comparisons"]
    assert comparison["verdict"] == "BROKEN"
    assert "the candidate broke this case" in comparison["reason"]
    allowed = _ab(
        tmp_path, "cand_breaks", "--processes", "1", "--max-repetitions", "1",
        "--fail-on", "slower",
    )  # fmt: skip
    assert allowed.returncode == 0


def test_a_side_whose_ports_this_harness_cannot_load_is_found(tmp_path: Path) -> None:
    tree = tmp_path / "src"
    for name in ("workloads", "backends"):
        (tree / "perfkit" / name).mkdir(parents=True)
        (tree / "perfkit" / name / "__init__.py").write_text("")
    (tree / "perfkit" / "workloads" / "aardvark.py").write_text(  # imported first
        "from perfkit import an_api_this_harness_lacks\n"
    )
    problem = ports_load(tree, [])
    assert problem is not None
    assert "an_api_this_harness_lacks" in problem
    assert ports_load(ROOT / "src", []) is None
    # Harness fingerprints tell two harnesses apart and ignore the ports.
    assert fingerprint(tree / "perfkit") != fingerprint()
    assert fingerprint(ROOT / "src" / "perfkit") == fingerprint()


def test_a_workload_a_side_lacks_is_measured_as_this_harness_defines_it(tmp_path: Path) -> None:
    """An older commit has no ``same_size`` pattern: its side takes this harness's, which
    then runs that commit's allocator (``perfkit ab --base OLD -w same_size``)."""
    import shutil

    from perfkit.engine.harness import workloads_taken

    tree = tmp_path / "src"
    for name in ("workloads", "backends"):
        shutil.copytree(ROOT / "src" / "perfkit" / name, tree / "perfkit" / name)
    (tree / "perfkit" / "workloads" / "same_size.py").unlink()
    assert workloads_taken(tree) == ["same_size"]
    assert workloads_taken(ROOT / "src") == []
    code = (
        "import sys; from pathlib import Path; from perfkit.engine import harness; "
        "from perfkit.model import registry; harness.load_ports_from(Path(sys.argv[1])); "
        "registry.load(); w = registry.get_workload('same_size'); "
        "print(sorted({c.implementation.backend for c in registry.expand_cases(w)})); "
        "print(registry.get_workload('matmul').make_inputs.__code__.co_filename)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tree)], capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    backends, matmul_from = done.stdout.splitlines()
    assert "pkmalloc" in backends
    assert matmul_from.startswith(str(tree))  # what the side has is still the side's own


def test_allocation_patterns_alone_compare_the_sides_allocators_in_this_harness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An allocator of a commit whose Python this harness cannot load (before the layout
    change) is still measured: with allocation patterns alone, a side is its pkmalloc."""
    import argparse

    from perfkit.cli.ab import _sides
    from perfkit.native.build import PKMALLOC_DIR

    monkeypatch.delenv(PKMALLOC_DIR, raising=False)
    registry.load([])
    tree = tmp_path / "old" / "src"
    tree.mkdir(parents=True)  # no perfkit package this harness could load
    args = argparse.Namespace(plugin=[])
    patterns = registry.expand_cases(registry.get_workload("same_size"), ["pkmalloc"])
    sides, notes = _sides(args, {"base": tree, "cand": None}, patterns)
    assert sides["base"].env == {PKMALLOC_DIR: str(tmp_path / "old" / "native")}
    assert sides["base"].ports_from is None
    assert sides["base"].source is None  # this harness, not the side's
    assert notes == ["base: its pkmalloc, in this harness's allocation patterns"]
    arrays = registry.expand_cases(registry.get_workload("softmax"), ["numpy"], quick=True)
    sides, notes = _sides(args, {"base": tree, "cand": None}, [*patterns, *arrays])
    assert sides["base"].source == tree  # not patterns alone: its own harness, as before


@pytest.mark.slow
def test_an_injected_slowdown_goes_through_a_real_port() -> None:
    """The test-only knob slows every timed call of a real workload's port by a known
    fraction, on the side given it only; a malformed value fails the case, naming it."""
    from perfkit.engine.injected import INJECT_SLOWDOWN

    registry.load([])
    cases = [
        c
        for c in registry.expand_cases(registry.get_workload("softmax"), quick=True)
        if c.implementation.backend == "numpy"
    ][:1]
    policy = MeasurePolicy.quick(processes=2)
    sides = {"base": Side(), "cand": Side(env={INJECT_SLOWDOWN: "softmax=50%"})}
    out = run_sides(cases, policy, sides)
    (base,) = out["base"].results
    (cand,) = out["cand"].results
    # 1.5x by construction. The fastest sample of each side: under a CPU burner, medians of
    # a few preempted samples moved a side by more than the slowdown (1.04 once); a sample
    # the scheduler left alone keeps the ratio of the calls themselves.
    ratio = cand.metric("time/min") / base.metric("time/min")
    assert 1.25 < ratio < 2.0, ratio
    bad = {"base": Side(), "cand": Side(env={INJECT_SLOWDOWN: "softmax=lots"})}
    (cand,) = run_sides(cases, policy, bad)["cand"].results
    assert cand.status == "failed"
    assert "'softmax=lots' is not WORKLOAD=FRACTION" in cand.reason
