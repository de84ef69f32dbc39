"""What a measuring command names: its workloads (``-w``, ``--suite``, ``--all``), its
cases (``-b``, ``-p``, ``--data``) and its measuring policy."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from perfkit.datasets import apply_data_option
from perfkit.model import registry
from perfkit.model.errors import UsageError
from perfkit.model.policy import MeasurePolicy
from perfkit.model.workload import Case

__all__ = ["cases_from", "listed", "policy_from", "resolve_selection", "time_budget_from"]

# The default time budget of a measuring command, a workload: the README's
# ``perfkit compare --workload matmul`` in under three minutes on two cores, the first
# run's ceilings included.
TIME_BUDGET = 120.0
QUICK_TIME_BUDGET = 40.0


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


def time_budget_from(args: argparse.Namespace, workloads: int) -> float | None:
    """The run's time budget in seconds (``--time-budget``, else the default for each
    workload), or None for no limit."""
    given = getattr(args, "time_budget", None)
    if given is None:
        given = (QUICK_TIME_BUDGET if args.quick else TIME_BUDGET) * max(1, workloads)
    return given or None


def _param_name(assignment: str) -> str:
    return assignment.partition("=")[0].strip()


def listed(values: Sequence[str] | None) -> list[str]:
    """Comma lists and repeated options alike: ``["numpy,cupy", "numba_cuda"]``, three."""
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


def resolve_selection(args: argparse.Namespace) -> tuple[list[str], str]:
    """The workloads a ``compare``, ``run`` or ``ab`` names (``-w``, ``--suite`` or
    ``--all``) and a name for its files; comma lists in ``-w``, ``-b`` and ``--suite`` are
    split, and a suite that runs on some backends only (``gpu``) chooses them unless
    ``-b`` does."""
    if args.backends is not None:
        args.backends = listed(args.backends) or None
    if args.command == "compare":
        names = listed([args.workload] if args.workload else [])
        if len(names) != 1:
            valid = ", ".join(sorted(registry.workloads()))
            what = "one workload" if names else "a workload (--workload NAME)"
            raise UsageError(f"compare measures {what}; workloads: {valid}")
        registry.get_workload(names[0])
        return names, names[0]
    if args.all:
        return sorted(registry.workloads()), "suite"
    if args.suite:
        chosen = [registry.get_suite(name) for name in listed(args.suite)]
        names = sorted({w for suite in chosen for w in suite.workloads})
        limits = [suite.backends for suite in chosen]
        if args.backends is None and all(limit is not None for limit in limits):
            args.backends = sorted({b for limit in limits for b in limit or ()})
        return names, "-".join(suite.name for suite in chosen)
    names = list(dict.fromkeys(listed(args.workload)))
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
