"""A/B: two sides measured in one interleaved run; two git refs through worktrees."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from perfkit import MeasurePolicy, UsageError, registry
from perfkit._runner import Side, run_sides
from perfkit.ab import checkout, repository_root, resolve_ref
from tests.conftest import FAULTY, PLUGINS, perfkit

ROOT = Path(__file__).resolve().parent.parent
SLOWDOWN = PLUGINS / "slowdown.py"


def _worktrees() -> int:
    listing = subprocess.run(
        ["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return len(listing.splitlines())


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
    sides = {"base": Side(), "cand": Side(env={"PERFKIT_SLOWDOWN": "3"})}
    out = run_sides(cases, policy, sides, plugins=[str(SLOWDOWN)])
    (base,) = out["base"].results
    (cand,) = out["cand"].results
    assert base.status == "ok"
    assert [run.process for run in base.measurement.runs] == [0]
    assert cand.status == "failed"
    assert "PERFKIT_SLOWDOWN must lie in [1, 2], got 3.0" in cand.reason


def test_checkout_gives_the_commit_and_cleans_up() -> None:
    before = _worktrees()
    repo = repository_root(ROOT)
    with checkout("HEAD", repo) as (sha, source):
        assert sha == resolve_ref("HEAD", repo)
        assert (source / "perfkit" / "__init__.py").is_file()
        assert _worktrees() == before + 1
    assert _worktrees() == before
    assert not source.exists()


def test_bad_refs_and_folders_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown git ref 'no-such-ref'"):
        resolve_ref("no-such-ref", ROOT)
    with pytest.raises(UsageError, match="not inside a git repository"):
        repository_root(tmp_path)


def test_ab_command_writes_both_records_and_gates(tmp_path: Path) -> None:
    before = _worktrees()
    done = perfkit(
        "ab",
        "--base",
        "HEAD",
        "-w",
        "faulty_probe",
        "-b",
        "python:good",
        "--quick",
        "--no-calibrate",
        "--no-report",
        "--plugin",
        str(FAULTY),
        "-o",
        str(tmp_path / "ab"),
        "--json",
        str(tmp_path / "gate.json"),
        cwd=ROOT,
    )
    assert done.returncode in (0, 1), done.stderr  # a verdict, whichever it is
    gate = json.loads((tmp_path / "gate.json").read_text())
    assert [c["case_id"] for c in gate["comparisons"]] == ["faulty_probe/python:good[n=100]"]
    base = json.loads((tmp_path / "ab" / "base.json").read_text())
    cand = json.loads((tmp_path / "ab" / "cand.json").read_text())
    head = resolve_ref("HEAD", ROOT)
    assert base["environment"]["git"]["sha"] == head
    assert base["results"][0]["status"] == cand["results"][0]["status"] == "ok"
    assert _worktrees() == before
    wrong = perfkit("ab", "--base", "no-such-ref", "-w", "vector_add", cwd=ROOT)
    assert wrong.returncode == 2
    assert "unknown git ref 'no-such-ref'" in wrong.stderr
