"""The benchmarks workflows: a pull request is measured by the base commit's perfkit in a job
that can write nowhere, its verdicts are posted by a job that runs none of its code, the whole
suite runs nightly, and every perfkit command in them parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from perfkit.cli.parser import _build_parser

FLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
MEASURE = FLOWS / "benchmarks.yml"
COMMENT = FLOWS / "benchmarks-comment.yml"


def _flow(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _steps(path: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(job, step) for job, spec in _flow(path)["jobs"].items() for step in spec["steps"]]


def _perfkit_commands(path: Path) -> list[list[str]]:
    commands = []
    for _, step in _steps(path):
        for line in step.get("run", "").splitlines():
            if line.strip().startswith("perfkit "):
                # GitHub expressions and shell variables become plain words, as substituted.
                text = re.sub(r"\$\{\{[^}]*\}\}", "main", line.strip())
                text = re.sub(r'"\$[A-Z_]+"', "main", text)
                commands.append(shlex.split(text)[1:])
    return commands


def test_the_pull_request_job_can_write_nowhere() -> None:
    """Read-only contents, no other permission, and no credentials left in .git/config
    for the pull request's code (which runs in that job to be measured) to find."""
    flow = _flow(MEASURE)
    assert "pull_request" in flow[True]  # YAML 1.1 reads the key `on` as True
    assert "pull_request_target" not in flow[True]
    assert flow["permissions"] == {"contents": "read"}
    for spec in flow["jobs"].values():
        assert "permissions" not in spec
    checkouts = [step for _, step in _steps(MEASURE) if "actions/checkout" in step.get("uses", "")]
    assert checkouts
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False, step
    assert "GH_TOKEN" not in MEASURE.read_text()
    assert "secrets." not in MEASURE.read_text()


def test_the_base_commits_perfkit_measures_and_judges() -> None:
    """The harness and the gate are installed from the base commit's checkout; the pull
    request is only checked out, and named to perfkit ab as the candidate."""
    ab = [step for job, step in _steps(MEASURE) if job == "ab"]
    base = next(s for s in ab if s.get("with", {}).get("path") == "base")
    pr = next(s for s in ab if s.get("with", {}).get("path") == "pr")
    assert base["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert pr["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    installs = [s["run"] for s in ab if "pip install" in s.get("run", "")]
    assert installs == ["python -m pip install ./base"], installs
    measure = next(s for s in ab if "perfkit ab" in s.get("run", ""))
    assert measure["working-directory"] == "pr"
    assert measure["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    assert measure["env"]["HEAD_SHA"] == "${{ github.event.pull_request.head.sha }}"
    assert '--cand "$HEAD_SHA"' in measure["run"]
    assert ab[-1]["run"].startswith("exit")  # the last step turns the verdict into the job


def test_a_pull_request_is_sized_to_finish_in_15_minutes() -> None:
    (argv,) = [a for a in _perfkit_commands(MEASURE) if a[0] == "ab"]
    args = _build_parser().parse_args(argv)
    assert args.time_budget is not None
    assert args.time_budget <= 13 * 60  # two minutes left for the installs
    assert args.suite == ["array"]
    assert _flow(MEASURE)["jobs"]["ab"]["timeout-minutes"] <= 30


def test_the_comment_job_runs_no_pull_request_code_and_checks_the_number() -> None:
    flow = _flow(COMMENT)
    trigger = flow[True]["workflow_run"]
    assert trigger["workflows"] == [_flow(MEASURE)["name"]]
    assert trigger["types"] == ["completed"]
    assert flow["permissions"]["pull-requests"] == "write"
    assert set(flow["permissions"]) <= {"contents", "actions", "pull-requests"}
    assert flow["permissions"]["contents"] == "read"
    steps = [step for _, step in _steps(COMMENT)]
    assert not any("checkout" in step.get("uses", "") for step in steps), "no code checked out"
    assert not any("pip install" in step.get("run", "") for step in steps)
    download = next(s for s in steps if "download-artifact" in s.get("uses", ""))
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    post = next(s for s in steps if "gh pr comment" in s.get("run", ""))
    assert "*[!0-9]*" in post["run"], "the number from the artifact is digits only"
    assert '"$head" != "$MEASURED"' in post["run"], "and names the pull request measured"
    assert post["env"]["MEASURED"] == "${{ github.event.workflow_run.head_sha }}"
    assert "pull_request" in flow["jobs"]["comment"]["if"]


def test_the_whole_suite_runs_nightly_and_keeps_its_records() -> None:
    flow = _flow(MEASURE)
    assert flow[True]["schedule"][0]["cron"]
    nightly = flow["jobs"]["nightly"]
    assert nightly["if"] == "github.event_name != 'pull_request'"
    (argv,) = [a for a in _perfkit_commands(MEASURE) if a[0] == "run"]
    args = _build_parser().parse_args(argv)
    assert args.all
    upload = next(s for s in nightly["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == str(args.output.parent) + "/"
    assert upload["with"]["retention-days"] >= 30


def test_every_perfkit_command_in_the_workflows_parses() -> None:
    parser = _build_parser()
    commands = _perfkit_commands(MEASURE) + _perfkit_commands(COMMENT)
    assert len(commands) == 2, commands
    for argv in commands:
        parser.parse_args(argv)  # raises UsageError on an unknown command or flag
