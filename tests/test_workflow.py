"""The CI example workflow: valid YAML, and every perfkit command it runs parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from perfkit.cli.parser import _build_parser

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "benchmarks.yml"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_runs_on_pull_requests_and_can_comment() -> None:
    flow = _workflow()
    assert "pull_request" in flow[True]  # YAML 1.1 reads the key `on` as True
    assert flow["permissions"]["pull-requests"] == "write"
    steps = flow["jobs"]["ab"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert steps[-1]["run"].startswith("exit")  # the last step turns the verdict into the job


def test_every_perfkit_command_in_the_workflow_parses() -> None:
    parser = _build_parser()
    commands = []
    for step in _workflow()["jobs"]["ab"]["steps"]:
        for line in step.get("run", "").splitlines():
            if line.strip().startswith("perfkit "):
                # GitHub expressions become plain words, as the runner substitutes them.
                text = re.sub(r"\$\{\{[^}]*\}\}", "main", line.strip())
                commands.append(shlex.split(text)[1:])
    assert commands, "the workflow runs perfkit"
    for argv in commands:
        args = parser.parse_args(argv)  # raises UsageError on an unknown command or flag
        assert args.command == "ab"
        assert args.markdown == Path("gate.md")
