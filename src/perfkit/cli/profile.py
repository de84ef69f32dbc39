"""``perfkit profile``: profile the cases ``compare`` would measure, under chosen profilers."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfkit.model.errors import ExitCode, UsageError
from perfkit.profiling.record import PROFILE_SCHEMA, CaseProfile, ProfileRun, dump_profile_run
from perfkit.records.atomic import write_text_atomic

if TYPE_CHECKING:  # the runner imports psutil and more: not for `perfkit --help`
    from perfkit.profiling.run import ProfileOptions

__all__ = ["DEFAULT_PROFILERS", "add_profile_parser", "profile_command"]

DEFAULT_PROFILERS = ("sample", "python", "memory", "counters")
_RECORD = "profile.json"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must lie in (0, 3600] seconds, got {value:g}")
    return value


def add_profile_parser(sub: Any, policy_like: Any) -> None:
    """The ``profile`` sub-command; ``policy_like`` adds the case options it shares with
    ``compare`` (``-b``, ``-p``, ``--data``, ``--plugin``, ``--threads``, ``--seed``,
    ``--quick``)."""
    profile = sub.add_parser(
        "profile", help="profile a workload's cases: flame graphs, counters, memory"
    )
    profile.add_argument("--workload", "-w", help="the workload (perfkit list shows them)")
    policy_like(profile)
    profile.add_argument(
        "--profiler",
        action="extend",
        nargs="+",
        metavar="NAME",
        help="profilers to run, space- or comma-separated (default: "
        f"{', '.join(DEFAULT_PROFILERS)}; also instructions, torch, gpu, spark)",
    )
    profile.add_argument(
        "--duration",
        type=_seconds,
        default=5.0,
        metavar="S",
        help="seconds of calls to profile a case (default 5)",
    )
    profile.add_argument(
        "--rate", type=int, metavar="HZ", help="the sample profiler's rate (default 250)"
    )
    profile.add_argument(
        "-o", "--output", type=Path, metavar="DIR", help="the run's folder (default "
        "reports/profiles/<run id>/): raw files, profile.json, profile.html",
    )  # fmt: skip
    profile.add_argument(
        "--base",
        metavar="REF",
        help="also profile this git commit, each case in turns with the working tree, and "
        "draw what grew (a differential flame graph; why.md for a pull request)",
    )
    profile.add_argument("--no-report", action="store_true", help="write no HTML page")
    profile.add_argument("--open", action="store_true", help="open the page in a browser")


def profile_command(args: argparse.Namespace) -> int:
    from perfkit.cli.run import new_run_id
    from perfkit.cli.selection import cases_from, listed, resolve_selection
    from perfkit.integrations.spark.for_run import spark_for_run
    from perfkit.integrations.torch_run import torch_for_run
    from perfkit.profiling.differential import profile_sides
    from perfkit.profiling.profilers import get_profilers
    from perfkit.profiling.run import ProfileOptions, profile_cases

    chosen = get_profilers(listed(args.profiler) or list(DEFAULT_PROFILERS))
    if args.rate is not None and not 1 <= args.rate <= 10_000:
        raise UsageError(f"--rate must lie in [1, 10000] samples a second, got {args.rate}")
    as_compare = argparse.Namespace(**{**vars(args), "command": "compare"})
    names, _ = resolve_selection(as_compare)
    cases = cases_from(as_compare, names)
    run_id = new_run_id()
    folder = args.output or Path("reports") / "profiles" / run_id
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder}: not empty; profiles go into a new folder")
    options = ProfileOptions(
        duration=args.duration,
        seed=args.seed,
        threads=args.threads or 0,
        plugins=tuple(args.plugin),
        rate=args.rate,
        timeout=args.timeout or ProfileOptions.timeout,
    )
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    sides = 2 if args.base else 1
    done: list[CaseProfile] = []  # what finished, kept when the run is interrupted
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(spark_for_run(args, cases))
            stack.enter_context(torch_for_run(args, cases))
            bar = stack.enter_context(_progress(len(cases) * len(chosen) * sides))

            def finished(profile: CaseProfile) -> None:
                done.append(profile)
                bar(profile)

            if args.base:
                by_side = stack.enter_context(_side_options(args, options))
                profile_sides(cases, chosen, folder, by_side, finished)
            else:
                profile_cases(cases, chosen, folder, options, finished=finished)
    except KeyboardInterrupt:
        if done:
            record = dump_profile_run(_run_record(args, run_id, created, done), folder / _RECORD)
            print(f"interrupted: the finished profiles are in {record}", file=sys.stderr)
        raise
    return _finish(args, _run_record(args, run_id, created, done), folder)


@contextlib.contextmanager
def _side_options(
    args: argparse.Namespace, options: ProfileOptions
) -> Iterator[dict[str, ProfileOptions]]:
    """Each side's options: the base from a worktree of ``--base``, the candidate from the
    working tree, with ``perfkit ab``'s rule for whose harness runs each side."""
    from perfkit.cli.ab import _sides
    from perfkit.vcs.worktree import checkout, repository_root

    with checkout(args.base, repository_root(Path.cwd())) as (_, source):
        sides, notes = _sides(args, {"base": source, "cand": None})
        for note in notes:
            print(f"perfkit: {note}", file=sys.stderr)
        yield {name: dataclasses.replace(options, side=side) for name, side in sides.items()}


def _run_record(
    args: argparse.Namespace, run_id: str, created: str, profiles: Sequence[CaseProfile]
) -> ProfileRun:
    from perfkit.machine.capture import capture_environment

    environment = capture_environment()
    return ProfileRun(
        schema=PROFILE_SCHEMA,
        run_id=run_id,
        created=created,
        command=tuple(["perfkit", *args.argv]),
        duration=args.duration,
        machine=environment.machine.cpu or "unknown CPU",
        git_sha=environment.git.sha,
        profiles=tuple(profiles),
    )


def _finish(args: argparse.Namespace, run: ProfileRun, folder: Path) -> int:
    from perfkit.cli.console import console
    from perfkit.profiling.differential import differences, grown_markdown
    from perfkit.profiling.tables import profiles_table

    folder.mkdir(parents=True, exist_ok=True)
    record = dump_profile_run(run, folder / _RECORD)
    out = console()
    out.print(profiles_table(run))
    for profile in run.profiles:
        if profile.status != "ok":
            line = f"{profile.status}: {profile.case} [{profile.profiler}]: {profile.reason}"
            out.print(line, markup=False, highlight=False)
    print(f"profile record: {record}")
    diffs = differences(run)
    if diffs:
        why = folder / "why.md"
        write_text_atomic(why, grown_markdown(run, diffs))
        print(why.read_text(), end="")
        print(f"why it got slower: {why}")
    if not args.no_report:
        from perfkit.report.profile_page import write_profile_page

        page = write_profile_page(run, folder / "profile.html", diffs)
        print(f"profile page: {page}")
        if args.open:
            import webbrowser

            webbrowser.open(page.resolve().as_uri())
    broken = [p for p in run.profiles if p.status in ("invalid", "failed")]
    return ExitCode.FAILED if broken else ExitCode.OK


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[CaseProfile], None]]:
    """A progress bar over the profiles (quiet in pipes), as the runner's ``finished``."""
    from perfkit.cli.console import progress_bar

    with progress_bar() as bar:
        bar.planned(total)
        yield lambda profile: bar.finished(f"{profile.case} [{profile.profiler}]")
