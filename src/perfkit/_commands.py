"""The measuring commands behind the CLI: compare, run and ab, from arguments to records."""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfkit import registry
from perfkit.errors import ExitCode, UsageError
from perfkit.measure import MeasurePolicy
from perfkit.workload import Case

__all__ = ["ab", "cases_from", "console", "gate_policy", "measure", "policy_from", "write_report"]


def policy_from(args: argparse.Namespace) -> MeasurePolicy:
    changes = {
        name: value
        for name, value in (
            ("processes", args.processes),
            ("extra_processes", args.extra_processes),
            ("budget", args.budget),
            ("target_rel_ci", args.target_ci),
            ("timeout", args.timeout),
            ("blas_threads", args.threads),
            ("seed", args.seed),
            ("measure", args.measure),
            ("cold", True if getattr(args, "cold", False) else None),
        )
        if value is not None
    }
    base = MeasurePolicy.quick() if args.quick else MeasurePolicy()
    return base.replace(**changes)


def console(stream: Any = None) -> Any:
    from rich.console import Console

    file = stream or sys.stdout
    # Piped output keeps a readable width instead of rich's 80-column default.
    return Console(file=file, width=None if file.isatty() else 140)


def _param_name(assignment: str) -> str:
    return assignment.partition("=")[0].strip()


def cases_from(args: argparse.Namespace, names: Sequence[str]) -> list[Case]:
    """The cases of a compare (one workload, every option must fit it) or of a run (a
    suite: ``--param`` and ``--backends`` apply to the workloads that have them)."""
    workloads = [registry.get_workload(name) for name in names]
    suite = args.command != "compare"
    if suite:
        known = {axis.name for w in workloads for axis in w.space.axes}
        for assignment in args.param:
            if _param_name(assignment) not in known:
                raise UsageError(
                    f"no selected workload has a parameter {_param_name(assignment)!r}"
                )
    cases: list[Case] = []
    for workload in workloads:
        axes = {axis.name for axis in workload.space.axes}
        assignments = [a for a in args.param if not suite or _param_name(a) in axes]
        selectors = args.backends
        if suite and selectors:
            ports = {i.backend for i in workload.implementations}
            ports |= {i.key for i in workload.implementations}
            selectors = [s for s in selectors if s in ports]
            if not selectors:
                continue
        overrides = registry.parse_param_overrides(workload, assignments)
        cases.extend(registry.expand_cases(workload, selectors, overrides, args.quick))
    if not cases:
        raise UsageError("no cases to run for that selection")
    return cases


def write_report(records: Sequence[Any], path: Path, title: str | None, open_it: bool) -> None:
    from perfkit.report.html import write_report as write_html

    write_html(records, path, title)
    print(f"report: {path}")
    if open_it:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            print("perfkit: no browser to open the report with", file=sys.stderr)


def _ceilings(policy: MeasurePolicy, calibrate: bool, cases: Sequence[Case]) -> dict[str, Any]:
    """This machine's ceilings by device, measured once when missing (unless told not to):
    the CPU's always, the GPU's when a case runs on one that is there."""
    from perfkit import _runner
    from perfkit.backend import get_backend
    from perfkit.roofline import cpu_ceilings, load_cached_ceilings

    threads = _runner.effective_threads(policy)
    ceilings = load_cached_ceilings(threads)
    note = "perfkit: measuring {}'s ceilings once (cached; `perfkit calibrate` refreshes them)"
    if ceilings is None and calibrate:
        console(sys.stderr).print(note.format("this machine"))
        ceilings = cpu_ceilings(threads)
    found = {"cpu": ceilings} if ceilings else {}
    backends = {get_backend(c.implementation.backend) for c in cases}
    if any(b.device == "cuda" and b.probe().ok for b in backends):
        from perfkit.gpu_ceilings import gpu_ceilings, gpu_key
        from perfkit.roofline import read_ceiling

        key = gpu_key()
        gpu = read_ceiling(key) if key else None
        if gpu is None and key and calibrate:
            console(sys.stderr).print(note.format("the GPU"))
            gpu = gpu_ceilings()
        if gpu:
            found["cuda"] = gpu
    return found


def _record(
    args: argparse.Namespace,
    run_id: str,
    *,
    outcome: Any,
    policy: MeasurePolicy,
    environment: Mapping[str, Any],
    ceilings: dict[str, Any],
) -> Any:
    from perfkit import _runner
    from perfkit.record import RunRecord

    return RunRecord(
        run_id=run_id,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        command=shlex.join(["perfkit", *args.argv]),
        partial=outcome.partial,
        environment={
            **environment,
            "blas": outcome.blas,
            "blas_threads": _runner.effective_threads(policy),
            "ceilings": ceilings,
        },
        policy=policy.to_json(),
        results=tuple(outcome.results),
    )


def _new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def measure(args: argparse.Namespace, names: Sequence[str], label: str) -> int:
    """``compare`` and ``run``: measure, write the record and the report, print the table."""
    from perfkit import _runner
    from perfkit.metadata import capture_environment
    from perfkit.record import dump_record
    from perfkit.tables import results_table, unavailable_backends

    cases = cases_from(args, names)
    policy = policy_from(args)
    ceilings = _ceilings(policy, not args.no_calibrate, cases)
    environment = capture_environment()
    run_id = _new_run_id()
    outcome = _run_with_progress(cases, policy, args.plugin, ceilings, {"": _runner.Side()})[""]
    record = _record(
        args, run_id, outcome=outcome, policy=policy, environment=environment, ceilings=ceilings
    )
    path = args.output or Path("reports") / "runs" / f"{label}-{run_id}.json"
    dump_record(record, path)
    out = console()
    out.print(results_table(record.results, title=f"{label} · {len(cases)} cases"))
    for backend, (count, reason) in unavailable_backends(record.results).items():
        out.print(f"skipped: {backend} ({count} cases): {reason}", markup=False, highlight=False)
    for result in record.results:
        if result.status in ("invalid", "failed"):
            out.print(
                f"{result.status}: {result.case_id}: {result.reason}", markup=False, highlight=False
            )
    if outcome.partial:
        print(f"interrupted: partial record written to {path}")
        return ExitCode.INTERRUPTED
    print(f"record: {path}")
    if not args.no_report:
        write_report([record], Path("reports") / f"{label}-{run_id}.html", None, args.open)
    bad = [r for r in record.results if r.status in ("invalid", "failed")]
    return ExitCode.FAILED if bad else ExitCode.OK


def gate_policy(args: argparse.Namespace) -> Any:
    from perfkit.gate import GatePolicy, parse_thresholds

    if not 0 < args.alpha < 1:
        raise UsageError(f"--alpha must lie in (0, 1), got {args.alpha}")
    threshold, per_workload = parse_thresholds(args.threshold)
    return GatePolicy(
        threshold=threshold,
        per_workload=per_workload,
        alpha=args.alpha,
        fail_on_unknown=args.strict,
        fail_on_ambiguous=args.strict,
    )


def emit_gate(args: argparse.Namespace, report: Any) -> int:
    """Print the gate's table, write its Markdown and JSON where asked; its exit code."""
    import json

    from perfkit._atomic import write_text_atomic

    console().print(report.table())
    if args.markdown:
        write_text_atomic(args.markdown, report.markdown())
    if args.json:
        write_text_atomic(args.json, json.dumps(report.to_json(), indent=1, allow_nan=False))
    return int(report.exit_code)


def ab(args: argparse.Namespace) -> int:
    """Two commits measured in one run, their repetitions interleaved, then gated."""
    from perfkit import _runner
    from perfkit.ab import checkout, repository_root
    from perfkit.gate import run_gate
    from perfkit.metadata import capture_environment, git_state
    from perfkit.record import dump_record

    names = sorted(registry.workloads()) if args.all else args.workload
    cases = cases_from(args, names)
    policy = policy_from(args)
    gating = gate_policy(args)
    repo = repository_root(Path.cwd())
    run_id = _new_run_id()
    with contextlib.ExitStack() as stack:
        base_sha, base_src = stack.enter_context(checkout(args.base, repo))
        if args.cand:
            cand_sha, cand_src = stack.enter_context(checkout(args.cand, repo))
            cand_git = {"sha": cand_sha, "dirty": False}
        else:
            cand_src, cand_git = None, git_state()
        ceilings = _ceilings(policy, not args.no_calibrate, cases)
        environment = capture_environment()
        sides = {"base": _runner.Side(base_src), "cand": _runner.Side(cand_src)}
        outcomes = _run_with_progress(cases, policy, args.plugin, ceilings, sides)
    folder = args.output or Path("reports") / "ab" / run_id
    records = {}
    for side, git in (("base", {"sha": base_sha, "dirty": False}), ("cand", cand_git)):
        side_env = {**environment, "git": git}
        records[side] = _record(
            args,
            f"{run_id}-{side}",
            outcome=outcomes[side],
            policy=policy,
            environment=side_env,
            ceilings=ceilings,
        )
        print(f"record: {dump_record(records[side], folder / f'{side}.json')}")
    if outcomes["base"].partial:
        print("interrupted: partial records written")
        return ExitCode.INTERRUPTED
    report = run_gate(records["base"], records["cand"], gating)
    code = emit_gate(args, report)
    if not args.no_report:
        write_report(
            [records["base"], records["cand"]],
            Path("reports") / f"ab-{run_id}.html",
            f"perfkit ab: {args.base} vs {args.cand or 'working tree'}",
            args.open,
        )
    return code


class _Bar:
    """The rich progress bar behind the runner's Progress protocol."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.task = bar.add_task("measuring", total=0)

    def planned(self, cases: int) -> None:
        self.bar.update(self.task, total=self.bar.tasks[0].total + cases)

    def finished(self, case_id: str) -> None:
        self.bar.update(self.task, advance=1, description=case_id)


def _run_with_progress(
    cases: list[Case],
    policy: MeasurePolicy,
    plugins: list[str],
    ceilings: dict[str, Any],
    sides: Mapping[str, Any],
) -> dict[str, Any]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from perfkit import _runner

    err = console(sys.stderr)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        return _runner.run_sides(
            cases, policy, sides, plugins=plugins, ceilings=ceilings, progress=_Bar(bar)
        )
