"""The commands that tell about this machine and perfkit: list, env, calibrate."""

from __future__ import annotations

import argparse
import json
import os
import sys

from perfkit.cli.console import console
from perfkit.model import registry
from perfkit.model.errors import ExitCode

__all__ = ["calibrate_command", "env_command", "list_command"]


def list_command(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from perfkit.model.backend import backends

    out = console()
    workloads = Table(title="workloads", title_justify="left")
    for column in ("workload", "parameters (default; quick)", "ports"):
        workloads.add_column(column)
    for name, workload in sorted(registry.workloads().items()):
        axes = "\n".join(
            f"{a.name}: {', '.join(map(str, a.values))}"
            + (f"; {', '.join(map(str, a.quick))}" if a.quick else "")
            for a in workload.space.axes
        )
        by_backend: dict[str, list[str]] = {}
        for i in workload.implementations:
            by_backend.setdefault(i.backend, []).append(
                i.variant + (" (ref)" if i.reference else "")
            )
        ports = "\n".join(f"{b}: {', '.join(v)}" for b, v in by_backend.items())
        workloads.add_row(escape(f"{name}\n{workload.doc}"), escape(axes), escape(ports))
    out.print(workloads)
    suites = Table(title="suites (run --suite NAME)", title_justify="left")
    for column in ("suite", "workloads", "backends"):
        suites.add_column(column)
    for suite in registry.suites().values():
        backends_of = ", ".join(suite.backends) if suite.backends else "every port"
        suites.add_row(suite.name, escape(", ".join(suite.workloads)), escape(backends_of))
    out.print(suites)
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
    return ExitCode.OK


def env_command(args: argparse.Namespace) -> int:
    from perfkit.machine.capture import capture_environment
    from perfkit.records.typed import to_json

    environment = capture_environment()
    if args.json:
        print(json.dumps(to_json(environment), indent=1))
        return ExitCode.OK
    machine = environment.machine
    print(
        f"cpu        {machine.cpu} ({machine.cores_physical} cores, "
        f"{machine.cores_logical} threads, {machine.cores_usable} usable)"
    )
    print(f"memory     {(machine.memory_bytes or 0) / 2**30:.1f} GiB")
    print(f"os         {machine.os}")
    print(f"python     {environment.python.version}")
    git = environment.git
    print(f"git        {git.sha or '-'}{' (dirty)' if git.dirty else ''}")
    for gpu in environment.gpus:
        print(
            f"gpu {gpu.index}      {gpu.name}, driver {gpu.driver}, "
            f"{(gpu.memory_bytes or 0) / 2**30:.0f} GiB, "
            f"SM clock max {gpu.sm_clock_max_mhz} MHz"
        )
    for lib, version in environment.libraries.items():
        print(f"{lib:<10} {version}")
    for name, info in environment.backends.items():
        state = "available" if info.available else f"unavailable: {info.reason}"
        print(f"backend    {name}: {state}")
    load = environment.load
    if load is not None:
        other = f"{load.other_cpu:.2f}" if load.other_cpu is not None else "?"
        print(f"load       other processes {other} cores, governor {load.governor or '-'}")
        for warning in load.warnings:
            print(f"warning    {warning}")
    return ExitCode.OK


def calibrate_command(args: argparse.Namespace) -> int:
    from perfkit.engine.calibrate import cpu_ceilings
    from perfkit.machine.ceilings import cache_path, ceilings_warning

    threads = args.threads or len(os.sched_getaffinity(0))
    ceilings = cpu_ceilings(threads, refresh=True)
    for size, bandwidth in ceilings["bandwidth"]:
        print(f"cpu copy {size / 2**20:>7.2f} MiB  {bandwidth / 1e9:.1f} GB/s (read + write)")
    for dtype, flops in ceilings["flops"].items():
        print(f"cpu GEMM {dtype:<9}  {flops / 1e9:.1f} GFLOP/s")
    if (warning := ceilings_warning(ceilings)) is not None:
        print(f"perfkit: warning: {warning}", file=sys.stderr)
    from perfkit.engine.gpu_ceilings import gpu_ceilings

    gpu = gpu_ceilings(refresh=True)
    if gpu is None:
        print("gpu        none usable (no CUDA device or no CuPy)")
    else:
        for size, bandwidth in gpu["bandwidth"]:
            print(f"gpu copy {size / 2**20:>7.0f} MiB  {bandwidth / 1e9:.0f} GB/s (read + write)")
        for dtype, flops in gpu["flops"].items():
            print(f"gpu GEMM {dtype:<9}  {flops / 1e12:.1f} TFLOP/s")
    print(f"cached in {cache_path()}")
    return ExitCode.OK
