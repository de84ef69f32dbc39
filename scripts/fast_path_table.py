"""The allocators' fast path on one pattern (``same_size``, glibc's bench-malloc-simple):
CPU seconds (user + system) of the driver under each allocator, pkmalloc as built from
given commits, in interleaved rounds.

    python scripts/fast_path_table.py [--commits 507616c HEAD] [--rounds 5] [--ops 20000000]

Every allocator runs this checkout's driver (the instrument); each commit's pkmalloc is
built from that commit's ``native/`` (``git archive``) into perfkit's build cache. A round
runs every allocator once, in an order that rotates from round to round. Prints a Markdown
table: the median and range of the rounds, and each median against glibc's (higher is
faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from perfkit.backends._allocator import find_library
from perfkit.native.build import _library_of, driver

ROOT = Path(__file__).resolve().parent.parent
PEERS = {"mimalloc": "libmimalloc.so.2", "jemalloc": "libjemalloc.so.2"}


def _commit_library(commit: str, into: Path) -> tuple[str, Path]:
    """(short sha, libpkmalloc.so) of ``commit``, built from its ``native/``."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", commit],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    archive = into / f"{sha}.tar"
    subprocess.run(
        ["git", "-C", str(ROOT), "archive", "-o", str(archive), commit, "native"], check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(into / sha, filter="data")
    return sha, _library_of(into / sha / "native")


def _cpu_seconds(program: Path, args: list[str], preload: Path | None) -> float:
    """User + system CPU seconds of one run of ``program``."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    process = subprocess.Popen([str(program), *args], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{program.name} under {preload or 'glibc'} exited with {process.returncode}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", nargs="+", default=["HEAD"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=20_000_000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    program = driver("same_size")
    run_args = ["--ops", str(args.ops), "--threads", str(args.threads)]
    with tempfile.TemporaryDirectory(prefix="perfkit-fast-path-") as folder:
        allocators: dict[str, Path | None] = {"glibc": None}
        for commit in args.commits:
            sha, library = _commit_library(commit, Path(folder))
            allocators[f"pkmalloc at `{sha}`"] = library
        for name, soname in PEERS.items():
            found = find_library(soname)
            if found is not None:
                allocators[name] = found
        seconds: dict[str, list[float]] = {name: [] for name in allocators}
        names = list(allocators)
        for round_index in range(args.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                seconds[name].append(_cpu_seconds(program, run_args, allocators[name]))
            print(f"round {round_index + 1} of {args.rounds} done", file=sys.stderr)
    glibc = statistics.median(seconds["glibc"])
    print(f"same_size, {args.ops:,} operations, {args.threads} thread(s), {args.rounds} rounds")
    print("\n| allocator | CPU seconds, median (range) | vs glibc |\n| --- | --- | --- |")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(
            f"| {name} | {median:.3f} ({min(values):.3f}-{max(values):.3f}) "
            f"| {glibc / median:.2f}x |"
        )


if __name__ == "__main__":
    main()
