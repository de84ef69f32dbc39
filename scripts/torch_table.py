"""The README's PyTorch table: eager against each compile mode, from one run's records.

    python scripts/torch_table.py RECORD.json [RECORD.json ...]

One row a case of an eager port (``torch_eager:V``, each parameter set): its median time a
call, then for each ``torch.compile`` mode of the same port (``torch_compile:V-MODE``, or
``MODE`` for the ``default`` port) the speed-up over eager (eager's time over the compiled
port's: above 1 is faster), the compile time (``time/compile``: the first call less a warm
one, from a cold Inductor cache), and the break-even: the calls after which compiling has
paid for itself, compile time over the time a call saves ("never" when it saves less than
2% of eager's time, which one run cannot tell from nothing).
A NumPy reference in the same record is named in the row, as a multiple of eager's time.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from perfkit.backends.torch_compile import MODES
from perfkit.model.axes import params_id
from perfkit.records.format import format_seconds
from perfkit.records.run_record import CaseResult, load_record

__all__ = ["break_even", "main", "torch_rows"]


NOISE = 0.02  # a compiled call saving less than this share of eager's time saves nothing sure


def break_even(eager: float, compiled: float, compile_seconds: float) -> float:
    """Calls after which compile time is paid back; inf when a compiled call saves less
    than ``NOISE`` of eager's time (one run cannot tell that from nothing)."""
    saved = eager - compiled
    return math.inf if saved < NOISE * eager else compile_seconds / saved


def _compiled_variant(eager_variant: str, mode: str) -> str:
    return mode if eager_variant == "default" else f"{eager_variant}-{mode}"


def _mode_cell(eager: float, compiled: CaseResult | None) -> str:
    if compiled is None:
        return "not run"
    median = compiled.metric("time/median")
    if compiled.status != "ok" or median is None:
        return compiled.status
    if compiled.metric("compile/graphs") == 0:
        return f"{eager / median:.2f}x, nothing captured (runs eager)"
    cost = compiled.metric("time/compile") or 0.0
    calls = break_even(eager, median, cost)
    paid = "never" if math.isinf(calls) else f"{math.ceil(calls):,}"
    breaks = compiled.metric("compile/graph_breaks") or 0
    note = f" ({breaks:g} graph breaks)" if breaks else ""
    return f"{eager / median:.2f}x, {cost:.1f} s, {paid}{note}"


def torch_rows(results: list[CaseResult]) -> list[str]:
    by_key = {(r.implementation, params_id(r.params)): r for r in results}
    lines = []
    for result in results:
        if result.backend != "torch_eager" or result.status != "ok":
            continue
        eager = result.metric("time/median")
        assert eager is not None
        params = params_id(result.params)
        label = f"`{result.workload}` {result.variant} [{params}]"
        numpy = [r for r in results if r.backend == "numpy" and params_id(r.params) == params]
        numpy_median = numpy[0].metric("time/median") if numpy else None
        if numpy_median:
            label += f" (NumPy {numpy_median / eager:.2f}x eager's time)"
        cells = [
            _mode_cell(
                eager,
                by_key.get((f"torch_compile:{_compiled_variant(result.variant, mode)}", params)),
            )
            for mode in MODES
        ]
        lines.append(f"| {label} | {format_seconds(eager)} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="+", type=Path)
    args = parser.parse_args()
    print("| case | eager | " + " | ".join(f"`{m}`" for m in MODES) + " |")
    print("| --- | --- |" + " --- |" * len(MODES))
    for path in args.records:
        for line in torch_rows(list(load_record(path).results)):
            print(line)


if __name__ == "__main__":
    main()
