"""The ``perfkit`` command: list, compare, run, ab, profile, report, gate, recover, import,
env, calibrate."""

from __future__ import annotations

import argparse
import faulthandler
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfkit.cli.cluster import add_cluster_parser, cluster_command
from perfkit.cli.gate import add_gate_options, gate_command
from perfkit.cli.info import calibrate_command, env_command, list_command
from perfkit.cli.profile import add_profile_parser, profile_command
from perfkit.cli.report import import_command, recover_command, report_command
from perfkit.cli.run import measure
from perfkit.cli.selection import resolve_selection
from perfkit.integrations.spark.for_run import add_spark_options
from perfkit.integrations.torch_run import add_torch_options
from perfkit.model import registry
from perfkit.model.errors import ExitCode, RunError, UsageError

__all__ = ["main"]


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


def _policy_options(
    parser: argparse.ArgumentParser,
    processes: str = "worker processes per case (default 2)",
    budget: str = "sampling seconds per case (default 4)",
) -> None:
    group = parser.add_argument_group("measurement")
    group.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, one process, short samples: seconds, not minutes",
    )
    group.add_argument("--processes", type=_positive_int, help=processes)
    group.add_argument(
        "--extra-processes",
        type=int,
        help="more processes for cases whose processes disagree (default 2; 0 with --quick)",
    )
    group.add_argument("--budget", type=float, help=budget)
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
        "--measure",
        choices=("time", "instructions"),
        help="time (default), or instruction counts under valgrind's callgrind "
        "(CPU cases; deterministic, for a tight gate)",
    )
    group.add_argument(
        "--cold",
        action="store_true",
        help="GPU backends: flush the L2 cache before every timed call, one call a sample "
        "(CPU backends are measured warm either way)",
    )
    group.add_argument("--plugin", **_PLUGIN)
    group.add_argument("-o", "--output", type=Path, help="record file (default reports/runs/)")
    group.add_argument("--no-report", action="store_true", help="write no HTML report")
    group.add_argument("--open", action="store_true", help="open the report in a browser")
    group.add_argument("--shared-plotly", action="store_true", help=_SHARED_PLOTLY)
    group.add_argument(
        "--no-calibrate",
        action="store_true",
        help="do not measure the machine's ceilings when none are cached",
    )


def _non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or a positive number, got {text}")
    return value


def _time_budget_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--time-budget",
        type=_non_negative_seconds,
        metavar="SECONDS",
        help="seconds the whole measurement may take, a workload (default 120, 40 with "
        "--quick; 0: no limit): each case samples less to fit, a case that would not fit "
        "is skipped saying so, and later repetitions run the cases that still fit; calls "
        "are never cut short",
    )


_SHARED_PLOTLY = (
    "load plotly.js from one file beside the report, shared by the reports of its folder "
    "(default: inside each report, which then opens anywhere on its own)"
)
_BACKENDS: dict[str, Any] = {
    "action": "extend",
    "nargs": "+",
    "metavar": "BACKEND[:VARIANT]",
    "help": "backends or ports to run, space- or comma-separated, repeatable (default: all)",
}


_PARAMS: dict[str, Any] = {
    "action": "append",
    "default": [],
    "metavar": "NAME=V[,V...]",
    "help": "parameter values instead of the defaults (n=2^20,2^24); repeatable",
}
_PLUGIN: dict[str, Any] = {
    "action": "append",
    "default": [],
    "metavar": "FILE",
    "help": "a Python file that registers more workloads or backends; repeatable",
}
_DATA: dict[str, Any] = {
    "type": Path,
    "metavar": "PATH",
    "help": "a real data file for workloads with a dataset parameter: a Common Log Format "
    "log, plain or .gz (log_analysis); MovieLens u.data, ratings.dat or ratings.csv "
    "(als_recommend); a CSV table with a header row (the classic-ML workloads)",
}


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", **_DATA)
    parser.add_argument(
        "--target",
        metavar="COLUMN",
        help="the label column of a --data CSV table (default: its last column)",
    )


def _selection(group: Any) -> None:
    """The workloads of ``run`` and ``ab``: named, a suite, or all."""
    group.add_argument(
        "--workload",
        "-w",
        action="append",
        metavar="NAME[,NAME...]",
        help="a workload; comma-separated or repeated for several",
    )
    group.add_argument(
        "--suite",
        action="append",
        metavar="SUITE[,SUITE...]",
        help="every workload of a suite (perfkit list shows them: array, alloc, gpu ...)",
    )
    group.add_argument("--all", action="store_true", help="every registered workload")


def _add_run_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="measure several workloads (or --all) into one record")
    chosen = run.add_mutually_exclusive_group(required=True)
    _selection(chosen)
    run.add_argument("--backends", "-b", **_BACKENDS)
    run.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=V[,V...]",
        help="applies to the selected workloads that have the parameter",
    )
    _data_options(run)
    _policy_options(run)
    _time_budget_option(run)
    add_spark_options(run)
    add_torch_options(run)


def _profile_case_options(parser: argparse.ArgumentParser) -> None:
    """The case options ``profile`` shares with ``compare``."""
    parser.add_argument("--backends", "-b", **_BACKENDS)
    parser.add_argument("--param", "-p", **_PARAMS)
    _data_options(parser)
    parser.add_argument("--quick", action="store_true", help="the small (quick) sizes")
    parser.add_argument("--threads", type=_positive_int, help="BLAS threads (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input generators")
    parser.add_argument("--timeout", type=float, help="seconds a profile before it is failed")
    parser.add_argument("--plugin", **_PLUGIN)
    add_spark_options(parser)
    add_torch_options(parser)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="perfkit", description="Matched-workload benchmarks across engines.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    listing = sub.add_parser("list", help="workloads, their parameters and ports; backends")
    listing.add_argument("--plugin", **_PLUGIN)
    compare = sub.add_parser("compare", help="measure one workload across backends")
    compare.add_argument("--workload", "-w", help="the workload (perfkit list shows them)")
    compare.add_argument("--backends", "-b", **_BACKENDS)
    compare.add_argument("--param", "-p", **_PARAMS)
    _data_options(compare)
    _policy_options(compare)
    _time_budget_option(compare)
    add_spark_options(compare)
    add_torch_options(compare)
    _add_run_parser(sub)
    env = sub.add_parser("env", help="this machine's environment as perfkit records it")
    env.add_argument("--json", action="store_true")
    report = sub.add_parser("report", help="an HTML report from one or more records")
    report.add_argument("records", nargs="+", type=Path, metavar="RECORD.json")
    report.add_argument(
        "-o", "--output", type=Path, help="the HTML file (default reports/report-<time>.html)"
    )
    report.add_argument("--title", help="the page title")
    report.add_argument("--open", action="store_true", help="open the report in a browser")
    report.add_argument("--shared-plotly", action="store_true", help=_SHARED_PLOTLY)
    importer = sub.add_parser("import", help="a record from asv results or pytest-benchmark JSON")
    importer.add_argument("source", type=Path, metavar="FILE.json")
    importer.add_argument("-o", "--output", type=Path, help="record file (default reports/runs/)")
    gate = sub.add_parser("gate", help="baseline vs candidate record: exit 1 on a regression")
    gate.add_argument("base", type=Path, metavar="BASE.json")
    gate.add_argument("candidate", type=Path, metavar="CAND.json")
    add_gate_options(gate)
    ab = sub.add_parser("ab", help="two git refs in one interleaved run on this machine, gated")
    ab.add_argument("--base", required=True, metavar="REF", help="the baseline commit")
    ab.add_argument("--cand", metavar="REF", help="the candidate commit (default: working tree)")
    chosen_ab = ab.add_mutually_exclusive_group(required=True)
    _selection(chosen_ab)
    ab.add_argument("--backends", "-b", **_BACKENDS)
    ab.add_argument("--param", "-p", **_PARAMS)
    ab.add_argument(
        "--max-repetitions",
        type=_positive_int,
        default=12,
        metavar="N",
        help="repetitions a side an undecided case may reach (default 12)",
    )
    ab.add_argument(
        "--time-budget",
        type=_non_negative_seconds,
        metavar="SECONDS",
        help="seconds the run may take (default: no limit): every case gets its first "
        "repetitions, then the stages after each look go to the cases still undecided or "
        "to be confirmed, the least certain first, while they fit",
    )
    ab.add_argument(
        "--profile",
        action="store_true",
        help="profile both sides of every SLOWER case and add what grew to the comment",
    )
    _policy_options(
        ab,
        "repetitions a side every case starts with (default 8; 1 with --measure instructions)",
        "sampling seconds per case and side, shared by its first repetitions (default 0.1 a "
        "repetition: many short ones)",
    )
    add_spark_options(ab)
    add_torch_options(ab)
    add_gate_options(ab)
    recover = sub.add_parser(
        "recover", help="the record(s) a run's journal holds, when the run never wrote them"
    )
    recover.add_argument("journal", type=Path, metavar="JOURNAL.journal.jsonl")
    recover.add_argument(
        "-o", "--output", type=Path, help="record file, or folder for an ab journal's sides"
    )
    add_cluster_parser(sub)
    add_profile_parser(sub, _profile_case_options)
    calibrate = sub.add_parser("calibrate", help="measure and cache this machine's ceilings")
    calibrate.add_argument(
        "--threads", type=_positive_int, help="BLAS and copy threads (default: all)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the command line: SIGUSR1 prints every thread's stack, as py-spy would
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    parser = _build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    if not given:  # bare `perfkit`: what it can do, as pip and docker answer
        parser.print_help()
        return ExitCode.OK
    try:
        args = parser.parse_args(given)
        args.argv = given
        registry.load(getattr(args, "plugin", []))
        if args.command == "list":
            return list_command(args)
        if args.command == "env":
            return env_command(args)
        if args.command == "calibrate":
            return calibrate_command(args)
        if args.command == "report":
            return report_command(args)
        if args.command == "gate":
            return gate_command(args)
        if args.command == "import":
            return import_command(args)
        if args.command == "recover":
            return recover_command(args)
        if args.command == "cluster":
            return cluster_command(args)
        if args.command == "profile":
            return profile_command(args)
        names, label = resolve_selection(args)
        if args.command == "ab":
            from perfkit.cli.ab import ab

            return ab(args, names)
        return measure(args, names, label)
    except UsageError as exc:
        print(f"perfkit: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except RunError as exc:
        print(f"perfkit: error: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    except KeyboardInterrupt:
        print("perfkit: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
