"""PyTorch compiled: every ``torch_eager`` port wrapped in ``torch.compile``, once per
mode (``default``, ``reduce-overhead``, ``max-autotune-no-cudagraphs``), so no port is
written twice. A port whose whole thunk is the wrong unit (a training loop) marks the part
to compile with ``torch_eager.compiled``; the rest stays eager.

The compile happens in the port's set-up, never in a timed call, from a fresh Inductor
cache each case (under the run's cache folder), so compile times of modes and cases are
comparable rather than a warm cache's, and recorded: ``time/compile`` (the time Dynamo
says its compiles in the first call took; where it does not say, the first call's time
less the second's, which a recompile in the second call would hide), ``compile/graphs``
and ``compile/graph_breaks`` (what Dynamo captured in the first call), and
``compile/recompiles`` (graphs captured after the first call, up to the end of the case's
measurement: guards that failed on later calls)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from perfkit.backends.torch_eager import TorchEagerBackend, compiling_with
from perfkit.model.axes import Params
from perfkit.model.backend import register_backend
from perfkit.model.workload import Implementation, Prepare, Thunk

__all__ = ["MODES", "TORCH_COMPILE"]

MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs")


def _compile_seconds() -> float | None:
    """Seconds Dynamo has spent compiling frames in this process, by its own timer (a
    private table: ``None`` where this PyTorch lacks it)."""
    try:
        from torch._dynamo.utils import compilation_time_metrics
    except ImportError:
        return None
    times = compilation_time_metrics.get("_compile.compile_inner")
    return None if times is None else float(sum(times))


def _graphs() -> tuple[int, int]:
    """Graphs captured and graph breaks, since Dynamo's counters were last cleared."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"]), int(sum(counters["graph_break"].values()))


class TorchCompileBackend(TorchEagerBackend):
    name = "torch_compile"
    label = "PyTorch compiled"
    color = "#812ce5"
    base = "torch_eager"
    start_seconds = 8.0  # Inductor's first compile of a warm-up graph

    def __init__(self) -> None:
        self.compiled: dict[int, dict[str, float]] = {}  # by id of the compiled thunk

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """The eager session, with Dynamo, AOTAutograd and Inductor imported and their
        compiler tool chain found once here (a tiny function, forward and backward,
        compiled into a cache thrown away), so a case's compile time is mostly its own."""
        import torch
        from torch._inductor.utils import fresh_inductor_cache

        with super()._session():
            with fresh_inductor_cache(dir=os.environ.get("TORCHINDUCTOR_CACHE_DIR")):
                warm = torch.compile(lambda x: torch.relu(x) + 1)
                x = torch.ones(8, device=self.device, requires_grad=True)
                warm(x).sum().backward()  # type: ignore[no-untyped-call, unused-ignore]  # AOTAutograd too
                self.sync()
            torch._dynamo.reset()
            yield

    def derive(self, implementation: Implementation) -> Sequence[Implementation]:
        prefix = "" if implementation.variant == "default" else f"{implementation.variant}-"
        return [
            dataclasses.replace(
                implementation, backend=self.name, variant=f"{prefix}{mode}", reference=False,
                prepare=self._compiling(implementation.prepare, mode),
                doc=f"torch.compile(mode={mode!r}) of: {implementation.doc}",
            )
            for mode in MODES
        ]  # fmt: skip

    def _compiling(self, prepare: Prepare, mode: str) -> Prepare:
        def compiled_prepare(inputs: Any, params: Params) -> Thunk:
            import torch
            from torch._dynamo.utils import counters
            from torch._inductor.utils import fresh_inductor_cache

            torch._dynamo.reset()  # each case compiles from scratch, and counts alone
            counters.clear()
            parts: list[Any] = []

            def compile_part(part: Any) -> Any:
                parts.append(part)
                return torch.compile(part, mode=mode)

            with compiling_with(compile_part):
                eager = prepare(inputs, params)
            thunk: Thunk = eager if parts else torch.compile(eager, mode=mode)
            compiled_before = _compile_seconds() or 0.0
            with fresh_inductor_cache(dir=os.environ.get("TORCHINDUCTOR_CACHE_DIR")):
                start = time.perf_counter()
                thunk()
                self.sync()
                first = time.perf_counter() - start
            graphs, breaks = _graphs()
            compiled_after = _compile_seconds()
            start = time.perf_counter()
            thunk()
            self.sync()
            warm = time.perf_counter() - start
            self.compiled[id(thunk)] = {
                "time/compile": (
                    max(first - warm, 0.0)
                    if compiled_after is None
                    else compiled_after - compiled_before
                ),
                "compile/graphs": float(graphs),
                "compile/graph_breaks": float(breaks),
            }
            return thunk

        return compiled_prepare

    def call_metrics(self, thunk: Callable[[], Any]) -> dict[str, float]:
        found = dict(self.compiled.get(id(thunk), {}))
        if found:
            graphs, _ = _graphs()
            found["compile/recompiles"] = float(graphs - found["compile/graphs"])
        return {**found, **super().call_metrics(thunk)}


TORCH_COMPILE = TorchCompileBackend()
register_backend(TORCH_COMPILE)
