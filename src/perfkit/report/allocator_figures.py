"""The allocator figures: one call's latency tails and memory over the run, from the probe
run's metrics (``lat/...``, ``mem/rss_at/NN``, ``mem/live_at/NN``). Pure functions of the
records, like ``figures``; a workload without those metrics gets no figure.

Each figure shows one case at a time (a drop-down picks the parameters), every allocator
side by side: the question is which allocator, at these parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from perfkit.backends._allocator_probe import SERIES_POINTS, series_key
from perfkit.model.axes import params_id
from perfkit.records.run_record import CaseResult
from perfkit.report.figures import LAYOUT, color_for, implementations_by_speed, label, measured

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["latency_tails", "memory_over_time", "memory_returned"]
_QUANTILES = (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max"))


def _cases(results: Sequence[CaseResult], key: str) -> list[tuple[str, list[CaseResult]]]:
    """The parameter sets (label, their results) whose results have metric ``key``."""
    by_case: dict[str, list[CaseResult]] = {}
    for result in results:
        if result.metric(key) is not None:
            by_case.setdefault(params_id(result.params), []).append(result)
    return sorted(by_case.items())


def _each(
    cases: Sequence[tuple[str, list[CaseResult]]], colors: Mapping[str, str], counts: list[int]
) -> Iterator[tuple[bool, str, CaseResult, str]]:
    """(shown first, implementation, its result, its colour) for every allocator of every
    case, fastest first; ``counts`` gets each case's number of allocators."""
    for index, (_, mine) in enumerate(cases):
        order = implementations_by_speed(mine)
        counts.append(len(order))
        for impl in order:
            result = next(r for r in mine if r.implementation == impl)
            yield index == 0, impl, result, color_for(impl, colors, order)


def _only(cases: Sequence[tuple[str, list[CaseResult]]]) -> str:
    """The one case's parameters for a title; none where the drop-down names them."""
    return f" ({label(cases[0][0])})" if len(cases) == 1 else ""


def _case_menu(
    figure: go.Figure, traces_per_case: Sequence[int], names: Sequence[str], always: int = 0
) -> None:
    """A drop-down that shows one case's traces at a time (none when there is one case);
    the last ``always`` traces stay shown whichever case is."""
    if len(names) < 2:
        return
    total = sum(traces_per_case)
    buttons = []
    start = 0
    for count, name in zip(traces_per_case, names, strict=True):
        visible = [start <= i < start + count for i in range(total)] + [True] * always
        buttons.append({"label": label(name), "method": "update", "args": [{"visible": visible}]})
        start += count
    menu = {"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.15}
    figure.update_layout(updatemenus=[menu])


def latency_tails(
    results: Sequence[CaseResult], workload: str, colors: Mapping[str, str]
) -> go.Figure | None:
    """p50, p99, p99.9 and the largest of one malloc and one free call, per allocator (log
    scale: a stall of one call in ten thousand shows beside the median); a dashed line at
    the timer's own cost, which every figure includes."""
    import plotly.graph_objects as go

    cases = _cases(measured(results, workload), "lat/malloc_p50_ns")
    if not cases:
        return None
    figure = go.Figure()
    counts: list[int] = []
    timer = 0.0
    for shown, impl, result, color in _each(cases, colors, counts):
        x, y = [], []
        for call in ("malloc", "free"):
            for key, name in _QUANTILES:
                value = result.metric(f"lat/{call}_{key}_ns")
                if value is not None:
                    x.append(f"{call} {name}")
                    y.append(value)
        timer = max(timer, result.metric("lat/timer_ns") or 0.0)
        figure.add_bar(
            name=label(impl),
            x=x,
            y=y,
            visible=shown,
            marker_color=color,
            hovertemplate="%{x}: %{y:.4s} ns<extra>" + label(impl) + "</extra>",
        )
    names = [name for name, _ in cases]
    if timer > 0:  # a trace, not add_hline: a shape's label lands wrong on a log axis
        categories = [f"{call} {name}" for call in ("malloc", "free") for _, name in _QUANTILES]
        figure.add_scatter(
            name=f"timer's own cost ({timer:.0f} ns)",
            x=categories,
            y=[timer] * len(categories),
            mode="lines",
            line={"color": "#555", "dash": "dash"},
            hovertemplate="%{y:.3s} ns<extra>timer's own cost</extra>",
        )
    _case_menu(figure, counts, names, always=1 if timer > 0 else 0)
    figure.update_layout(
        title=f"{label(workload)}: latency of one call{_only(cases)}",
        barmode="group",
        yaxis={"type": "log", "title": "nanoseconds (timer included)"},
        **LAYOUT,
    )
    return figure


def memory_over_time(
    results: Sequence[CaseResult], workload: str, colors: Mapping[str, str]
) -> go.Figure | None:
    """Resident memory through the run, a line per allocator (solid), and the bytes the
    driver holds live (dotted): the gap between them is what the allocator keeps. The time
    axis is the share of each run, so a fast and a slow allocator line up."""
    import plotly.graph_objects as go

    cases = _cases(measured(results, workload), series_key("rss", 0))
    if not cases:
        return None
    figure = go.Figure()
    counts: list[int] = []
    shares = [100 * i / (SERIES_POINTS - 1) for i in range(SERIES_POINTS)]
    for shown, impl, result, color in _each(cases, colors, counts):
        for kind, dash, suffix in (("rss", "solid", "RSS"), ("live", "dot", "live")):
            values = [result.metric(series_key(kind, i)) for i in range(SERIES_POINTS)]
            figure.add_scatter(
                name=f"{label(impl)} {suffix}",
                legendgroup=label(impl),
                x=shares,
                y=[v / 2**20 if v is not None else None for v in values],
                mode="lines",
                line={"color": color, "dash": dash},
                visible=shown,
                hovertemplate="%{x:.1f}% of the run: %{y:.1f} MiB<extra>"
                + f"{label(impl)} {suffix}</extra>",
            )
    _case_menu(figure, [2 * count for count in counts], [name for name, _ in cases])
    figure.update_layout(
        title=f"{label(workload)}: memory over the run{_only(cases)}",
        xaxis_title="share of the run (%)",
        yaxis_title="MiB",
        **LAYOUT,
    )
    return figure


_STAGES = (
    ("mem/peak_rss", "peak"),
    ("mem/rss_freed", "everything freed"),
    ("mem/rss_released", "after the release call"),
)


def memory_returned(
    results: Sequence[CaseResult], workload: str, colors: Mapping[str, str]
) -> go.Figure | None:
    """Resident memory at the peak, once the driver freed everything, and after the
    allocator's own release call (``malloc_trim`` and its peers): what each allocator gives
    back to the OS, and what it keeps."""
    import plotly.graph_objects as go

    cases = _cases(measured(results, workload), "mem/rss_released")
    if not cases:
        return None
    figure = go.Figure()
    counts: list[int] = []
    for shown, impl, result, color in _each(cases, colors, counts):
        stages = [(name, result.metric(key)) for key, name in _STAGES]
        figure.add_bar(
            name=label(impl),
            x=[name for name, value in stages if value is not None],
            y=[value / 2**20 for _, value in stages if value is not None],
            visible=shown,
            marker_color=color,
            hovertemplate="%{x}: %{y:.1f} MiB<extra>" + label(impl) + "</extra>",
        )
    _case_menu(figure, counts, [name for name, _ in cases])
    figure.update_layout(
        title=f"{label(workload)}: memory given back{_only(cases)}",
        barmode="group",
        yaxis_title="resident MiB",
        **LAYOUT,
    )
    return figure
