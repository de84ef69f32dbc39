"""The ``perfkit`` command: list, compare, run, report, gate, env, calibrate."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfkit import registry
from perfkit.errors import UsageError
from perfkit.measure import MeasurePolicy
from perfkit.workload import Case

__all__ = ["main"]

EXIT_OK, EXIT_FAILED_CASES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting itself."""

    def error(self, message: str) -> Any:
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _policy_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("measurement")
    group.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, one process, short samples: seconds, not minutes",
    )
    group.add_argument(
        "--processes", type=_positive_int, help="worker processes per case (default 2)"
    )
    group.add_argument(
        "--extra-processes",
        type=int,
        help="more processes for cases whose processes disagree (default 2; 0 with --quick)",
    )
    group.add_argument("--budget", type=float, help="sampling seconds per case (default 4)")
    group.add_argument(
        "--target-ci",
        type=float,
        help="stop when the median's 95%% CI is this fraction wide (default 0.02)",
    )
    group.add_argument("--timeout", type=float, help="seconds per case before it is failed")
    group.add_argument(
        "--threads",
        type=_positive_int,
        help="BLAS threads, pinned with threadpoolctl (default: every usable CPU)",
    )
    group.add_argument("--seed", type=int, default=0, help="seed of the input generators")
    group.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="FILE",
        help="a Python file that registers more workloads or backends",
    )
    group.add_argument("-o", "--output", type=Path, help="record file (default reports/runs/)")
    group.add_argument("--no-report", action="store_true", help="write no HTML report")
    group.add_argument("--open", action="store_true", help="open the report in a browser")
    group.add_argument(
        "--no-calibrate",
        action="store_true",
        help="do not measure the machine's ceilings when none are cached",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="perfkit", description="Matched-workload benchmarks across engines.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    listing = sub.add_parser("list", help="workloads, their parameters and ports; backends")
    listing.add_argument("--plugin", action="append", default=[], metavar="FILE")
    compare = sub.add_parser("compare", help="measure one workload across backends")
    compare.add_argument("--workload", "-w", required=True)
    compare.add_argument("--backends", "-b", nargs="+", metavar="BACKEND[:VARIANT]")
    compare.add_argument("--param", "-p", action="append", default=[], metavar="NAME=V[,V...]")
    _policy_options(compare)
    run = sub.add_parser("run", help="measure several workloads (or --all) into one record")
    chosen = run.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--workload", "-w", action="append", metavar="NAME")
    chosen.add_argument("--all", action="store_true", help="every registered workload")
    run.add_argument("--backends", "-b", nargs="+", metavar="BACKEND[:VARIANT]")
    run.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=V[,V...]",
        help="applies to the selected workloads that have the parameter",
    )
    _policy_options(run)
    env = sub.add_parser("env", help="this machine's environment as perfkit records it")
    env.add_argument("--json", action="store_true")
    report = sub.add_parser("report", help="an HTML report from one or more records")
    report.add_argument("records", nargs="+", type=Path, metavar="RECORD.json")
    report.add_argument(
        "-o", "--output", type=Path, help="the HTML file (default reports/report-<time>.html)"
    )
    report.add_argument("--title", help="the page title")
    report.add_argument("--open", action="store_true", help="open the report in a browser")
    gate = sub.add_parser("gate", help="baseline vs candidate record: exit 1 on a regression")
    gate.add_argument("base", type=Path, metavar="BASE.json")
    gate.add_argument("candidate", type=Path, metavar="CAND.json")
    gate.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="[WORKLOAD=]PCT",
        help="slowdown that counts (default 5%%); repeat per workload: matmul=10%%",
    )
    gate.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="false-discovery rate across all cases (default 0.05)",
    )
    gate.add_argument(
        "--strict",
        action="store_true",
        help="fail on UNKNOWN and AMBIGUOUS too, not only SLOWER and INVALID",
    )
    gate.add_argument("--markdown", type=Path, metavar="FILE", help="write a PR comment here")
    gate.add_argument("--json", type=Path, metavar="FILE", help="write the verdicts as JSON")
    calibrate = sub.add_parser("calibrate", help="measure and cache this machine's ceilings")
    calibrate.add_argument(
        "--threads", type=_positive_int, help="BLAS and copy threads (default: all)"
    )
    return parser


def _policy(args: argparse.Namespace) -> MeasurePolicy:
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
        )
        if value is not None
    }
    base = MeasurePolicy.quick() if args.quick else MeasurePolicy()
    return base.replace(**changes)


def _console(stream: Any = None) -> Any:
    from rich.console import Console

    file = stream or sys.stdout
    # Piped output keeps a readable width instead of rich's 80-column default.
    return Console(file=file, width=None if file.isatty() else 140)


def _param_name(assignment: str) -> str:
    return assignment.partition("=")[0].strip()


def _cases(args: argparse.Namespace, names: Sequence[str]) -> list[Case]:
    """The cases of a compare (one workload, every option must fit it) or of a run (a
    suite: ``--param`` and ``--backends`` apply to the workloads that have them)."""
    workloads = [registry.get_workload(name) for name in names]
    suite = args.command == "run"
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


def _measure(args: argparse.Namespace, names: Sequence[str], label: str) -> int:
    from perfkit import _runner
    from perfkit.metadata import capture_environment
    from perfkit.record import RunRecord, dump_record
    from perfkit.roofline import cpu_ceilings, load_cached_ceilings
    from perfkit.tables import results_table

    cases = _cases(args, names)
    policy = _policy(args)
    threads = _runner.effective_threads(policy)
    err = _console(sys.stderr)
    ceilings = load_cached_ceilings(threads)
    if ceilings is None and not args.no_calibrate:
        err.print(
            "perfkit: measuring this machine's ceilings once (cached; "
            "`perfkit calibrate` refreshes them)"
        )
        ceilings = cpu_ceilings(threads)
    ceiling_table = {"cpu": ceilings} if ceilings else {}
    environment = capture_environment()
    run_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
    outcome = _run_with_progress(cases, policy, args.plugin, ceiling_table, err)
    environment["blas"] = outcome.blas
    environment["blas_threads"] = threads
    environment["ceilings"] = ceiling_table
    record = RunRecord(
        run_id=run_id,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        command=shlex.join(["perfkit", *args.argv]),
        partial=outcome.partial,
        environment=environment,
        policy=policy.to_json(),
        results=tuple(outcome.results),
    )
    path = args.output or Path("reports") / "runs" / f"{label}-{run_id}.json"
    dump_record(record, path)
    out = _console()
    out.print(results_table(record.results, title=f"{label} · {len(cases)} cases"))
    for result in record.results:
        if result.status in ("invalid", "failed"):
            out.print(
                f"{result.status}: {result.case_id}: {result.reason}", markup=False, highlight=False
            )
    if outcome.partial:
        print(f"interrupted: partial record written to {path}")
        return EXIT_INTERRUPTED
    print(f"record: {path}")
    if not args.no_report:
        _write_report([record], Path("reports") / f"{label}-{run_id}.html", None, args.open)
    bad = [r for r in record.results if r.status in ("invalid", "failed")]
    return EXIT_FAILED_CASES if bad else EXIT_OK


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
    err: Any,
) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from perfkit import _runner

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        return _runner.run_cases(cases, policy, plugins, ceilings, _Bar(bar))


def _write_report(records: Sequence[Any], path: Path, title: str | None, open_it: bool) -> None:
    from perfkit.report.html import write_report

    write_report(records, path, title)
    print(f"report: {path}")
    if open_it:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            print("perfkit: no browser to open the report with", file=sys.stderr)


def _report(args: argparse.Namespace) -> int:
    from perfkit.record import load_record

    records = [load_record(path) for path in args.records]
    path = args.output or Path("reports") / f"report-{time.strftime('%Y%m%d-%H%M%S')}.html"
    if path.suffix != ".html":
        raise UsageError(f"{path}: a report is an .html file")
    _write_report(records, path, args.title, args.open)
    return EXIT_OK


def _gate(args: argparse.Namespace) -> int:
    from perfkit._atomic import write_text_atomic
    from perfkit.gate import GatePolicy, parse_thresholds, run_gate
    from perfkit.record import load_record

    if not 0 < args.alpha < 1:
        raise UsageError(f"--alpha must lie in (0, 1), got {args.alpha}")
    threshold, per_workload = parse_thresholds(args.threshold)
    policy = GatePolicy(
        threshold=threshold,
        per_workload=per_workload,
        alpha=args.alpha,
        fail_on_unknown=args.strict,
        fail_on_ambiguous=args.strict,
    )
    report = run_gate(load_record(args.base), load_record(args.candidate), policy)
    _console().print(report.table())
    if args.markdown:
        write_text_atomic(args.markdown, report.markdown())
    if args.json:
        write_text_atomic(args.json, json.dumps(report.to_json(), indent=1, allow_nan=False))
    return report.exit_code


def _list(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from perfkit.backend import backends

    out = _console()
    workloads = Table(title="workloads", title_justify="left")
    for column in ("workload", "parameters (default; quick)", "ports"):
        workloads.add_column(column)
    for name, workload in sorted(registry.workloads().items()):
        axes = "\n".join(
            f"{a.name}: {', '.join(map(str, a.values))}"
            + (f"; {', '.join(map(str, a.quick))}" if a.quick else "")
            for a in workload.space.axes
        )
        ports = ", ".join(
            i.key + (" (ref)" if i.reference else "") for i in workload.implementations
        )
        workloads.add_row(escape(f"{name}\n{workload.doc}"), escape(axes), escape(ports))
    out.print(workloads)
    table = Table(title="backends", title_justify="left")
    for column in ("backend", "device", "available", "reason"):
        table.add_column(column)
    for name, backend in sorted(backends().items()):
        availability = backend.probe()
        table.add_row(
            name,
            backend.device,
            "yes" if availability.ok else "[yellow]no[/]",
            escape(availability.reason),
        )
    out.print(table)
    return EXIT_OK


def _env(args: argparse.Namespace) -> int:
    from perfkit.metadata import capture_environment

    environment = capture_environment()
    if args.json:
        print(json.dumps(environment, indent=1))
        return EXIT_OK
    machine = environment["machine"]
    print(
        f"cpu        {machine['cpu']} ({machine['cores_physical']} cores, "
        f"{machine['cores_logical']} threads, {machine['cores_usable']} usable)"
    )
    print(f"memory     {machine['memory_bytes'] / 2**30:.1f} GiB")
    print(f"os         {machine['os']}")
    print(f"python     {environment['python']['version']}")
    git = environment["git"]
    print(f"git        {git['sha'] or '-'}{' (dirty)' if git['dirty'] else ''}")
    for lib, version in environment["libraries"].items():
        print(f"{lib:<10} {version}")
    for name, info in environment["backends"].items():
        state = "available" if info["available"] else f"unavailable: {info['reason']}"
        print(f"backend    {name}: {state}")
    return EXIT_OK


def _calibrate(args: argparse.Namespace) -> int:
    from perfkit.roofline import cache_path, cpu_ceilings

    threads = args.threads or len(os.sched_getaffinity(0))
    ceilings = cpu_ceilings(threads, refresh=True)
    for size, bandwidth in ceilings["bandwidth"]:
        print(f"cpu copy {size / 2**20:>7.2f} MiB  {bandwidth / 1e9:.1f} GB/s (read + write)")
    for dtype, flops in ceilings["flops"].items():
        print(f"cpu GEMM {dtype:<9}  {flops / 1e9:.1f} GFLOP/s")
    print(f"cached in {cache_path()}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)
        registry.load(getattr(args, "plugin", []))
        if args.command == "list":
            return _list(args)
        if args.command == "env":
            return _env(args)
        if args.command == "calibrate":
            return _calibrate(args)
        if args.command == "report":
            return _report(args)
        if args.command == "gate":
            return _gate(args)
        if args.command == "compare":
            return _measure(args, [args.workload], args.workload)
        names = sorted(registry.workloads()) if args.all else args.workload
        return _measure(args, names, "suite" if args.all else "-".join(names))
    except UsageError as exc:
        print(f"perfkit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("perfkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
