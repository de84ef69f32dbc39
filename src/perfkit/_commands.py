"""The measuring commands behind the CLI: compare, run and ab, from arguments to records."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import secrets
import shlex
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from perfkit import registry
from perfkit.datasets import apply_data_option
from perfkit.environment import Environment
from perfkit.errors import ExitCode, RunError, UsageError
from perfkit.policy import MeasurePolicy
from perfkit.spark.for_run import spark_for_run
from perfkit.torch_run import torch_for_run
from perfkit.workload import Case

__all__ = [
    "cases_from",
    "console",
    "gate_policy",
    "make_record",
    "measure",
    "new_run_id",
    "policy_from",
    "progress_bar",
    "resolve_selection",
    "run_environment",
    "write_report",
]


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


def _listed(values: Sequence[str] | None) -> list[str]:
    """Comma lists and repeated options alike: ``["numpy,cupy", "numba_cuda"]``, three."""
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


def resolve_selection(args: argparse.Namespace) -> tuple[list[str], str]:
    """The workloads a ``compare``, ``run`` or ``ab`` names (``-w``, ``--suite`` or
    ``--all``) and a name for its files; comma lists in ``-w``, ``-b`` and ``--suite`` are
    split, and a suite that runs on some backends only (``gpu``) chooses them unless
    ``-b`` does."""
    if args.backends is not None:
        args.backends = _listed(args.backends) or None
    if args.command == "compare":
        names = _listed([args.workload] if args.workload else [])
        if len(names) != 1:
            valid = ", ".join(sorted(registry.workloads()))
            what = "one workload" if names else "a workload (--workload NAME)"
            raise UsageError(f"compare measures {what}; workloads: {valid}")
        registry.get_workload(names[0])
        return names, names[0]
    if args.all:
        return sorted(registry.workloads()), "suite"
    if args.suite:
        chosen = [registry.get_suite(name) for name in _listed(args.suite)]
        names = sorted({w for suite in chosen for w in suite.workloads})
        limits = [suite.backends for suite in chosen]
        if args.backends is None and all(limit is not None for limit in limits):
            args.backends = sorted({b for limit in limits for b in limit or ()})
        return names, "-".join(suite.name for suite in chosen)
    names = list(dict.fromkeys(_listed(args.workload)))
    for name in names:
        registry.get_workload(name)
    return names, "-".join(names)


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
        with_data = apply_data_option(
            workload, overrides, getattr(args, "data", None), not suite,
            target=getattr(args, "target", None),
        )  # fmt: skip
        if with_data is None:  # a suite's workload that takes no data file
            continue
        overrides = with_data
        cases.extend(registry.expand_cases(workload, selectors, overrides, args.quick))
    if not cases:
        raise UsageError("no cases to run for that selection")
    return cases


def write_report(
    records: Sequence[Any], path: Path, title: str | None, open_it: bool, shared: bool = False
) -> None:
    from perfkit.report.html import write_report as write_html

    write_html(records, path, title, shared)
    print(f"report: {path}")
    if open_it:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            print("perfkit: no browser to open the report with", file=sys.stderr)


def ceilings_for(policy: MeasurePolicy, calibrate: bool, cases: Sequence[Case]) -> dict[str, Any]:
    """This machine's ceilings by device, measured once when missing (unless told not to):
    the CPU's always, the GPU's when a case runs on one that is there."""
    from perfkit import _runner
    from perfkit.backend import get_backend
    from perfkit.roofline import ceilings_warning, cpu_ceilings, load_cached_ceilings

    threads = _runner.effective_threads(policy)
    ceilings = load_cached_ceilings(threads)
    note = "perfkit: measuring {}'s ceilings once (cached; `perfkit calibrate` refreshes them)"
    if ceilings is None and calibrate:
        console(sys.stderr).print(note.format("this machine"))
        ceilings = cpu_ceilings(threads)
        if (warning := ceilings_warning(ceilings)) is not None:
            print(f"perfkit: warning: {warning}", file=sys.stderr)
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


def make_record(
    args: argparse.Namespace,
    run_id: str,
    *,
    outcome: Any,
    policy: MeasurePolicy,
    environment: Environment,
    created: str,
) -> Any:
    from perfkit.record import RunRecord

    return RunRecord(
        run_id=run_id,
        created=created,
        command=command_line(args),
        partial=outcome.partial,
        environment=dataclasses.replace(
            environment,
            blas=tuple(outcome.blas),
            harness=outcome.harness or environment.harness,
        ),
        policy=policy,
        results=tuple(outcome.results),
    )


def command_line(args: argparse.Namespace) -> str:
    return shlex.join(["perfkit", *args.argv])


def run_environment(policy: MeasurePolicy, ceilings: dict[str, Any]) -> Environment:
    """This machine's environment with the run's BLAS threads and ceilings; says so on
    stderr when the machine is not quiet (``pyperf system show`` style)."""
    from perfkit import _runner
    from perfkit.metadata import capture_environment

    environment = dataclasses.replace(
        capture_environment(),
        blas_threads=_runner.effective_threads(policy),
        ceilings=ceilings,
    )
    if environment.load is not None:
        for warning in environment.load.warnings:
            console(sys.stderr).print(f"perfkit: the machine is not quiet: {warning}", markup=False)
    return environment


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[list[int]]:
    """SIGTERM handled as Ctrl-C is: the run stops, what finished is written. Yields a list
    that holds the signal that ended the run, if one did."""
    seen: list[int] = []

    def on_term(signum: int, frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGTERM, old)


def interrupted_code(seen: Sequence[int]) -> int:
    return ExitCode.TERMINATED if signal.SIGTERM in seen else ExitCode.INTERRUPTED


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def measure(args: argparse.Namespace, names: Sequence[str], label: str) -> int:
    """``compare`` and ``run``: measure, write the record and the report, print the table.

    Every finished case is journalled beside the record as it arrives; the journal goes
    once the record is written, and stays (for ``perfkit recover``) if that never happens.
    A run with ``spark_cluster`` cases has its cluster arranged first (``spark_for_run``),
    one with PyTorch cases its device and Inductor cache (``torch_for_run``)."""
    cases = cases_from(args, names)
    policy = policy_from(args)  # bad usage is said before a cluster is started
    with spark_for_run(args, cases), torch_for_run(args, cases):
        return _measure(args, cases, policy, label)


def _measure(args: argparse.Namespace, cases: list[Case], policy: MeasurePolicy, label: str) -> int:
    from perfkit import _runner
    from perfkit.journal import Journal, JournalHeader, journal_path

    ceilings = ceilings_for(policy, not args.no_calibrate, cases)
    environment = run_environment(policy, ceilings)
    run_id = new_run_id()
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    path = args.output or Path("reports") / "runs" / f"{label}-{run_id}.json"
    header = JournalHeader(
        run_id, created, command_line(args), environment, policy, ("",),
        tuple(_runner.plan_of(c) for c in cases),
    )  # fmt: skip
    with Journal(journal_path(path), header) as journal, terminate_as_interrupt() as seen:
        outcome = _run_with_progress(
            cases, policy, args.plugin, ceilings, {"": _runner.Side()}, journal=journal
        )[""]
        record = make_record(
            args, run_id, outcome=outcome, policy=policy, environment=environment, created=created
        )
        write_or_keep_journal(record, path, journal)
    print_results(record, f"{label} · {len(cases)} cases")
    if journal.error:
        print(f"perfkit: the journal could not be kept: {journal.error}", file=sys.stderr)
    if outcome.partial:
        print(f"interrupted: partial record written to {path}")
        return interrupted_code(seen)
    print(f"record: {path}")
    if not args.no_report:
        # Beside the record when -o names it; else in reports/, above the records' folder.
        html = (
            path.with_suffix(".html") if args.output else Path("reports") / f"{label}-{run_id}.html"
        )
        write_report([record], html, None, args.open, args.shared_plotly)
    bad = [r for r in record.results if r.status in ("invalid", "failed")]
    return ExitCode.FAILED if bad else ExitCode.OK


def write_or_keep_journal(records: Any, path: Path, journal: Any) -> None:
    """Write the record (or the records of several sides, ``path`` then being their
    folder), then drop the journal; if a record cannot be written (a full disk), say where
    the journal keeps the finished cases and fail."""
    from perfkit.record import dump_record

    try:
        if isinstance(records, dict):
            for side, record in records.items():
                dump_record(record, path / f"{side}.json")
        else:
            dump_record(records, path)
    except OSError as exc:
        raise RunError(
            f"{path}: cannot write the record ({exc.strerror or exc}); the finished cases "
            f"are kept in {journal.path}: `perfkit recover {journal.path}`"
        ) from None
    journal.discard()


def print_results(record: Any, title: str) -> None:
    from perfkit.tables import results_table, unavailable_backends

    out = console()
    out.print(results_table(record.results, title=title))
    for backend, (count, reason) in unavailable_backends(record.results).items():
        out.print(f"skipped: {backend} ({count} cases): {reason}", markup=False, highlight=False)
    for result in record.results:
        if result.status in ("invalid", "failed"):
            out.print(
                f"{result.status}: {result.case_id}: {result.reason}", markup=False, highlight=False
            )
        if (result.metric("gpu/launch_bound") or 0) >= 0.5:
            out.print(
                f"launch-bound: {result.case_id}: the GPU waited on the host; its time is the "
                "launch rate, not the kernel's",
                markup=False,
                highlight=False,
            )


def gate_policy(args: argparse.Namespace, looks: int = 1) -> Any:
    from perfkit.gate import DEFAULT_FAIL_ON, GatePolicy, parse_fail_on, parse_thresholds

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

    from perfkit._atomic import write_text_atomic

    console().print(report.table())
    if args.markdown:
        below = f"\n{more_markdown}" if more_markdown else ""
        write_text_atomic(args.markdown, report.markdown() + below)
    if args.json:
        write_text_atomic(args.json, json.dumps(report.to_json(), indent=1, allow_nan=False))
    return int(report.exit_code)


class _Bar:
    """The rich progress bar behind the runner's Progress protocol."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.task = bar.add_task("measuring", total=0)

    def planned(self, cases: int) -> None:
        self.bar.update(self.task, total=self.bar.tasks[0].total + cases)

    def finished(self, case_id: str) -> None:
        self.bar.update(self.task, advance=1, description=case_id)


@contextlib.contextmanager
def progress_bar() -> Iterator[Any]:
    """A rich progress bar on a terminal (quiet in pipes and CI), as the runner's Progress."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    err = console(sys.stderr)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        yield _Bar(bar)


def _run_with_progress(
    cases: list[Case],
    policy: MeasurePolicy,
    plugins: list[str],
    ceilings: dict[str, Any],
    sides: Mapping[str, Any],
    *,
    journal: Any = None,
) -> dict[str, Any]:
    from perfkit import _runner

    with progress_bar() as bar:
        return _runner.run_sides(
            cases,
            policy,
            sides,
            plugins=plugins,
            ceilings=ceilings,
            progress=bar,
            journal=journal,
        )
