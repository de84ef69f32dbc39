"""``perfkit compare`` and ``perfkit run``: from arguments to a record, a report and the
results table; the record-making steps ``ab`` shares."""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfkit.cli.console import (
    console,
    interrupted_code,
    print_results,
    progress_bar,
)
from perfkit.cli.outputs import distinct_outputs, record_output, report_outputs
from perfkit.cli.selection import cases_from, policy_from, time_budget_from
from perfkit.integrations.spark.for_run import spark_for_run
from perfkit.integrations.torch_run import torch_for_run
from perfkit.model.errors import ExitCode, RunError
from perfkit.model.policy import MeasurePolicy
from perfkit.model.stopping import stop_on_signals
from perfkit.model.workload import Case
from perfkit.records.environment import Environment

__all__ = [
    "ceilings_for",
    "command_line",
    "make_record",
    "measure",
    "new_run_id",
    "record_outputs_free",
    "run_environment",
    "run_with_progress",
    "write_or_keep_journal",
    "write_report",
]


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
    from perfkit.engine import runner
    from perfkit.engine.calibrate import cpu_ceilings
    from perfkit.machine.ceilings import (
        ceilings_warning,
        impossible,
        load_cached_ceilings,
        settled_ceilings,
    )
    from perfkit.model.backend import get_backend

    threads = runner.effective_threads(policy)
    ceilings = load_cached_ceilings(threads)
    note = "perfkit: measuring {}'s ceilings once (cached; `perfkit calibrate` refreshes them)"
    again = (
        "perfkit: measuring this machine's ceilings again: the cached ones were measured "
        "under load or cannot be right"
    )
    if calibrate and (ceilings is None or not settled_ceilings(ceilings)):
        console(sys.stderr).print(note.format("this machine") if ceilings is None else again)
        ceilings = cpu_ceilings(threads)
        if (warning := ceilings_warning(ceilings) or impossible(ceilings)) is not None:
            print(f"perfkit: warning: {warning}", file=sys.stderr)
    found = {"cpu": ceilings} if ceilings else {}
    backends = {get_backend(c.implementation.backend) for c in cases}
    if any(b.device == "cuda" and b.probe().ok for b in backends):
        from perfkit.engine.gpu_ceilings import gpu_ceilings, gpu_key
        from perfkit.machine.ceilings import read_ceiling

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
    from perfkit.records.run_record import RunRecord

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
    from perfkit.engine import runner
    from perfkit.machine.capture import capture_environment

    environment = dataclasses.replace(
        capture_environment(),
        blas_threads=runner.effective_threads(policy),
        ceilings=ceilings,
    )
    if environment.load is not None:
        for warning in environment.load.warnings:
            console(sys.stderr).print(f"perfkit: the machine is not quiet: {warning}", markup=False)
    return environment


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
    seconds = time_budget_from(args, len({c.workload.name for c in cases}))
    if args.output:
        record_outputs_free(args.output, report=not args.no_report)
    with spark_for_run(args, cases), torch_for_run(args, cases):
        return _measure(args, cases, policy, label, seconds)


def record_outputs_free(record: Path, report: bool) -> None:
    """Refuse a record path that is not a ``.json`` file, whose report (beside it) would be
    its folder's index, or whose journal another run holds (``journal_free``)."""
    from perfkit.engine.journal import journal_free, journal_path

    outputs = {"record": record_output(record), "journal": journal_path(record)}
    if report:
        outputs.update(report_outputs(record.with_suffix(".html")))
    distinct_outputs(outputs)
    journal_free(journal_path(record))


def _measure(
    args: argparse.Namespace,
    cases: list[Case],
    policy: MeasurePolicy,
    label: str,
    time_budget: float | None,
) -> int:
    from perfkit.engine import runner
    from perfkit.engine.journal import Journal, JournalHeader, journal_path

    # The budget counts from here: measuring the ceilings on a first run is part of it.
    budget = runner.TimeBudget(time_budget) if time_budget else None
    ceilings = ceilings_for(policy, not args.no_calibrate, cases)
    environment = run_environment(policy, ceilings)
    run_id = new_run_id()
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    path = args.output or Path("reports") / "runs" / f"{label}-{run_id}.json"
    header = JournalHeader(
        run_id, created, command_line(args), environment, policy, ("",),
        tuple(runner.plan_of(c) for c in cases),
    )  # fmt: skip
    with Journal(journal_path(path), header) as journal, stop_on_signals() as seen:
        say_plan(cases, policy, budget)
        outcome = run_with_progress(
            cases, policy, args.plugin, ceilings, {"": runner.Side()}, journal=journal,
            budget=budget,
        )[""]  # fmt: skip
        if not args.no_calibrate and not outcome.partial:
            environment = _above_roof_measured_again(outcome, policy, environment)
        record = make_record(
            args, run_id, outcome=outcome, policy=policy, environment=environment, created=created
        )
        write_or_keep_journal(record, path, journal)
    print_results(record, f"{label} · {len(cases)} cases")
    if outcome.trimmed:
        print(
            f"time budget: {len(outcome.trimmed)} cases measured in fewer than "
            f"{policy.processes} processes (--time-budget gives them more time)"
        )
    not_started = sum(r.reason.startswith(runner.NOT_STARTED) for r in record.results)
    stopped = sum(r.reason == runner.STOPPED for r in record.results)
    if not_started or stopped:
        print(
            f"time budget: {not_started} cases not started, {stopped} stopped, their reasons "
            f"say why (--time-budget 0 measures every case)"
        )
    if journal.error:
        print(f"perfkit: the journal could not be kept: {journal.error}", file=sys.stderr)
    print(f"{'interrupted: partial record' if outcome.partial else 'record'}: {path}")
    if not args.no_report:
        # Beside the record when -o names it; else in reports/, above the records' folder.
        html = (
            path.with_suffix(".html") if args.output else Path("reports") / f"{label}-{run_id}.html"
        )
        # An interrupted run's report too: what finished is worth reading (it says partial).
        with stop_on_signals():
            try:
                write_report([record], html, None, args.open, args.shared_plotly)
            except KeyboardInterrupt:
                print("perfkit: the report was not written: interrupted again", file=sys.stderr)
    if outcome.partial:
        return interrupted_code(seen)
    bad = [r for r in record.results if r.status in ("invalid", "failed")]
    return ExitCode.FAILED if bad else ExitCode.OK


def _above_roof_measured_again(
    outcome: Any, policy: MeasurePolicy, environment: Environment
) -> Environment:
    """A CPU case above 100% of its ceiling means the ceiling was measured low: measure the
    ceilings again (kept as the best of all measurements) and take every CPU case's % of
    roof from them, unless they are already the best of several quiet measurements."""
    from perfkit.engine import runner
    from perfkit.engine.calibrate import cpu_ceilings
    from perfkit.engine.metrics import reroofed
    from perfkit.machine.ceilings import settled_ceilings
    from perfkit.model.backend import get_backend

    cpu = environment.ceilings.get("cpu")
    on_cpu = [r.status == "ok" and get_backend(r.backend).device == "cpu" for r in outcome.results]
    above = any(
        mine and (r.metric("roof/fraction") or 0.0) > 1.0
        for r, mine in zip(outcome.results, on_cpu, strict=True)
    )
    if not above or not cpu or (settled_ceilings(cpu) and cpu.get("measurements", 1) > 1):
        return environment
    console(sys.stderr).print(
        "perfkit: a case ran above 100% of its ceiling: measuring the ceilings again",
        markup=False, highlight=False,
    )  # fmt: skip
    cpu = cpu_ceilings(runner.effective_threads(policy), refresh=True)
    outcome.results = [
        reroofed(r, cpu) if mine else r for r, mine in zip(outcome.results, on_cpu, strict=True)
    ]
    return dataclasses.replace(environment, ceilings={**environment.ceilings, "cpu": cpu})


def write_or_keep_journal(records: Any, path: Path, journal: Any) -> None:
    """Write the record (or the records of several sides, ``path`` then being their
    folder), then drop the journal; if a record cannot be written (a full disk), say where
    the journal keeps the finished cases and fail."""
    from perfkit.records.run_record import dump_record

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


def run_with_progress(
    cases: list[Case],
    policy: MeasurePolicy,
    plugins: list[str],
    ceilings: dict[str, Any],
    sides: Mapping[str, Any],
    *,
    journal: Any = None,
    budget: Any = None,
) -> dict[str, Any]:
    from perfkit.engine import runner

    with progress_bar(budget) as bar:
        return runner.run_sides(
            cases,
            policy,
            sides,
            plugins=plugins,
            ceilings=ceilings,
            progress=bar,
            journal=journal,
            budget=budget,
        )


def say_plan(cases: Sequence[Case], policy: MeasurePolicy, budget: Any) -> None:
    """The plan, on stderr, before anything is measured."""
    from perfkit.model.backend import get_backend

    within = (
        f"time budget {budget.seconds:g} s ({max(0.0, budget.left()):.0f} s left)"
        if budget
        else "no time budget"
    )

    usable = {
        name: get_backend(name).probe().ok for name in {c.implementation.backend for c in cases}
    }
    runnable = sum(usable[c.implementation.backend] for c in cases)
    unusable = f" ({len(cases) - runnable} more whose backend is unavailable)" * (
        runnable < len(cases)
    )
    console(sys.stderr).print(
        f"perfkit: {runnable} cases x {policy.processes} processes{unusable}, {within}",
        markup=False, highlight=False,
    )  # fmt: skip
