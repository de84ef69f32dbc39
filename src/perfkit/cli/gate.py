"""``perfkit gate``: the gate's policy from the command line and its outputs (the terminal
table, Markdown for a pull-request comment, JSON), for ``gate`` and ``ab`` alike."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from perfkit.cli.console import console
from perfkit.cli.outputs import distinct_outputs
from perfkit.model.errors import UsageError

__all__ = ["add_gate_options", "emit_gate", "gate_command", "gate_policy"]


def gate_policy(args: argparse.Namespace, looks: int = 1) -> Any:
    from perfkit.verdict.gate import DEFAULT_FAIL_ON, GatePolicy, parse_fail_on, parse_thresholds

    if not 0 < args.alpha < 1:
        raise UsageError(f"--alpha must lie in (0, 1), got {args.alpha}")
    threshold, per_workload = parse_thresholds(args.threshold)
    fail_on = parse_fail_on(["all"] if args.strict else args.fail_on) or DEFAULT_FAIL_ON
    return GatePolicy(
        threshold=threshold,
        per_workload=per_workload,
        alpha=args.alpha,
        looks=looks,
        fail_on=fail_on,
        allow_missing=tuple(args.allow_missing),
    )


def emit_gate(args: argparse.Namespace, report: Any, more_markdown: str = "") -> int:
    """Print the gate's table, write its Markdown (and ``more_markdown`` below it) and JSON
    where asked; its exit code."""
    import json

    from perfkit.records.atomic import write_text_atomic

    console().print(report.table())
    if args.markdown:
        below = f"\n{more_markdown}" if more_markdown else ""
        write_text_atomic(args.markdown, report.markdown() + below)
    if args.json:
        write_text_atomic(args.json, json.dumps(report.to_json(), indent=1, allow_nan=False))
    return int(report.exit_code)


def add_gate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="[WORKLOAD=]PCT",
        help="slowdown that counts (default 5%%); repeat per workload: matmul=10%%",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="false-discovery rate across all cases (default 0.05)",
    )
    parser.add_argument(
        "--fail-on",
        action="append",
        default=[],
        metavar="CONDITION[,...]",
        help="what fails the gate (default: slower, invalid, broken, missing, incomparable; "
        "also: underpowered, ambiguous, unknown, changed, undecided, all); underpowered "
        "fails only past the threshold, undecided when no case was decided",
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail on every condition (--fail-on all)"
    )
    parser.add_argument(
        "--allow-missing",
        action="append",
        default=[],
        metavar="PATTERN",
        help="a case removed on purpose: a workload name or case id, * wildcards allowed",
    )
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write a PR comment here")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the verdicts as JSON")


def gate_command(args: argparse.Namespace) -> int:
    from perfkit.engine.journal import load_run
    from perfkit.verdict.gate import run_gate

    policy = gate_policy(args)
    distinct_outputs({"markdown": args.markdown, "json": args.json}, [args.base, args.candidate])
    report = run_gate(load_run(args.base), load_run(args.candidate), policy)
    return emit_gate(args, report)
