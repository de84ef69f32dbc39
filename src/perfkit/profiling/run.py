"""The profiling runner: one worker a case and profiler, its files read back into the record.

Each profile gets a fresh worker (a profiler that wraps the worker, callgrind, needs one of
its own, and the others must not see each other's hooks); the worker leads its own process
group, so a timeout or Ctrl-C ends it and anything it started (py-spy, perf).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfkit.engine.supervisor import Side, _worker_env
from perfkit.engine.worker_process import kill_group, stderr_tail
from perfkit.model.workload import Case
from perfkit.profiling.profilers import Profiler
from perfkit.profiling.record import CaseProfile

__all__ = ["ProfileOptions", "case_folder", "profile_cases"]

_STARTUP_SECONDS = 180.0  # imports and plugins, under valgrind too


@dataclass(frozen=True)
class ProfileOptions:
    duration: float = 5.0
    seed: int = 0
    threads: int = 0  # BLAS threads; 0: every usable CPU
    plugins: tuple[str, ...] = ()
    rate: int | None = None  # samples a second, for ``sample``
    timeout: float = 600.0  # a profile's worker, beyond start-up and the loop itself
    side: Side = field(default_factory=Side)


def case_folder(case_id: str) -> str:
    """A file-system name for a case: its id made safe, and a hash for uniqueness."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("_")[:80]
    return f"{safe}-{hashlib.sha256(case_id.encode()).hexdigest()[:6]}"


def profile_cases(
    cases: Sequence[Case],
    chosen: Sequence[Profiler],
    folder: Path,
    options: ProfileOptions,
    *,
    side: str = "",
    finished: Callable[[CaseProfile], None] = lambda profile: None,
) -> list[CaseProfile]:
    """Every case under every profiler, files under ``folder/<side>/<case>/<profiler>/``."""
    out = []
    for case in cases:
        mine: list[tuple[CaseProfile, bool]] = []
        for profiler in chosen:
            sub = folder / side / case_folder(case.id) / profiler.name
            profile = _profile_one(case, profiler, sub, options, side)
            files = sorted(str(p.relative_to(folder)) for p in sub.rglob("*") if p.is_file())
            profile = _with(profile, files=tuple(files))
            mine.append((profile, bool(profiler.wrapper(case, sub))))
        for profile in _against_plain(mine):
            finished(profile)
            out.append(profile)
    return out


def _against_plain(profiles: list[tuple[CaseProfile, bool]]) -> list[CaseProfile]:
    """A profile whose worker ran wrapped (under valgrind) has its overhead against its own
    wrapped median; where a plain worker of the same case ran too, it also says how much
    slower the wrapped one was than that plain median (``profile/vs_plain``)."""
    plain = [p.baseline_s for p, wrapped in profiles if not wrapped and p.baseline_s]
    if not plain:
        return [p for p, _ in profiles]
    fastest = min(plain)
    out = []
    for profile, wrapped in profiles:
        if not wrapped or profile.per_call_s is None:
            out.append(profile)
            continue
        ratio = profile.per_call_s / fastest
        note = f"a call took {ratio:,.0f}x the plain worker's unprofiled mean here"
        metrics = {**(profile.metrics or {}), "profile/vs_plain": ratio}
        out.append(_with(profile, notes=(*profile.notes, note), metrics=metrics))
    return out


def _with(profile: CaseProfile, **changes: Any) -> CaseProfile:
    import dataclasses

    return dataclasses.replace(profile, **changes)


def _profile_one(
    case: Case, profiler: Profiler, sub: Path, options: ProfileOptions, side: str
) -> CaseProfile:
    availability = profiler.probe(case)
    if not availability.ok:
        return CaseProfile(case.id, profiler.name, "skipped", availability.reason, side)
    sub.mkdir(parents=True, exist_ok=True)
    threads = profiler.threads or options.threads or len(os.sched_getaffinity(0))
    job = {
        "case": case.to_json(),
        "plugins": list(options.plugins),
        "ports_from": str(options.side.ports_from) if options.side.ports_from else None,
        "seed": options.seed,
        "threads": threads,
        "profiler": profiler.name,
        "folder": str(sub.resolve()),
        "duration": options.duration,
    }
    env = _worker_env(options.side)
    if options.rate:
        env["PERFKIT_SAMPLE_RATE"] = str(options.rate)
    command = [
        *profiler.wrapper(case, sub.resolve()),
        sys.executable,
        "-m",
        "perfkit.profiling.worker",
    ]
    deadline = _STARTUP_SECONDS + options.timeout + options.duration
    answer, problem = _run_worker(command, env, job, deadline)
    if answer is None:
        return CaseProfile(case.id, profiler.name, "failed", problem, side)
    base = CaseProfile(
        case.id,
        profiler.name,
        answer["status"],
        answer.get("reason", ""),
        side,
        calls=int(answer.get("calls", 0)),
        seconds=float(answer.get("seconds", 0.0)),
        per_call_s=answer.get("per_call_s"),
        baseline_s=answer.get("baseline_s"),
        metrics=answer.get("metrics"),
    )
    if base.status != "ok":
        return base
    try:
        summary = profiler.summarize(sub, base.calls)
    except Exception as exc:
        reason = f"its output could not be read: {type(exc).__name__}: {exc}"[:400]
        return _with(base, status="failed", reason=reason)
    return _with(
        base,
        stacks=summary.stacks,
        counters=summary.counters,
        kernels=summary.kernels,
        stages=summary.stages,
        notes=summary.notes,
        metrics={**(base.metrics or {}), **summary.metrics},
    )


def _run_worker(
    command: list[str], env: dict[str, str], job: dict[str, Any], seconds: float
) -> tuple[dict[str, Any] | None, str]:
    """The worker's one answer, or None and why there is none (a crash, a timeout)."""
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate((json.dumps(job) + "\n").encode(), timeout=seconds)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return None, f"timed out after {seconds:g} s"
        except BaseException:
            kill_group(proc)
            raise
        kill_group(proc)  # a helper it started and left behind
        lines = [ln for ln in out.decode(errors="replace").splitlines() if ln.strip()]
        if proc.returncode == 0 and lines:
            try:
                answer = json.loads(lines[-1])
            except json.JSONDecodeError:
                answer = None
            if isinstance(answer, dict) and "status" in answer:
                return answer, ""
        tail = stderr_tail(stderr)
        return None, f"worker exited with code {proc.returncode}: {tail or 'no output'}"
