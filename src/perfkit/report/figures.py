"""Pure functions from records to plotly figures: no I/O, no registry, no page layout.

Every string that comes from a record goes through ``label()`` before it reaches a figure:
plotly.js renders a subset of HTML in text, so a case named ``<b>x</b>`` would otherwise be
drawn bold, and worse names worse.
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from perfkit.model.axes import params_id
from perfkit.records.format import BYTE_RATE, FLOP_RATE, ITEM_RATE, rate_of, ratio_text, speedups
from perfkit.records.run_record import CaseResult
from perfkit.report.capped import cap

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "LAYOUT",
    "color_for",
    "implementations_by_speed",
    "label",
    "measured",
    "metric_view",
    "sample_boxes",
    "speedup_heatmap",
    "throughput_lines",
    "time_bars",
    "vendor_ladder",
]

# Metrics drawn by their own figures; every other metric key goes to the generic view.
_DRAWN_ELSEWHERE = frozenset(
    {
        "time/median",
        "time/mean",
        "time/stdev",
        "time/min",
        "time/q1",
        "time/q3",
        "time/iqr",
        "time/ci_low",
        "time/ci_high",
        "time/samples",
    }
)
# lat/, mem/rss_at/, mem/live_at/: allocator_figures.
_DRAWN_PREFIXES = ("throughput/", "roof/", "lat/", "mem/rss_at/", "mem/live_at/")
_PALETTE = (
    "#4d77cf",
    "#e4572e",
    "#29b34a",
    "#f3a712",
    "#8e44ad",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
    "#d62728",
    "#1f77b4",
)
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x")
LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
    "height": 420,
    # Beside the plot, where it takes room of its own, never over the axis labels.
    "legend": {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"},
}


def label(value: Any) -> str:
    """A record's string made safe for plotly's pseudo-HTML text, and cut to a length a
    figure can show (``cap``)."""
    return html.escape(cap(str(value)), quote=True)


def measured(results: Sequence[CaseResult], workload: str) -> list[CaseResult]:
    return [
        r
        for r in results
        if r.workload == workload and r.status == "ok" and r.metric("time/median")
    ]


def color_for(implementation: str, colors: Mapping[str, str], order: Sequence[str]) -> str:
    """An implementation's colour: its own where ``colors`` has it (``port_colors``),
    else its backend's, else one of a palette."""
    if implementation in colors:
        return colors[implementation]
    backend = implementation.split(":", 1)[0]
    if backend in colors:
        return colors[backend]
    return _PALETTE[order.index(implementation) % len(_PALETTE)]


def _shade(color: str, step: int) -> str:
    """``color`` for a backend's ``step``-th port: itself, then darker and lighter in
    turn, further each pair (0, -35%, +35%, -60%, +60%, ...)."""
    if step == 0 or not (color.startswith("#") and len(color) == 7):
        return color
    amount = min(0.85, 0.35 + 0.25 * ((step - 1) // 2))
    target = 0 if step % 2 else 255
    channels = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(c + (target - c) * amount) for c in channels]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def port_colors(results: Sequence[CaseResult], colors: Mapping[str, str]) -> dict[str, str]:
    """One colour a port for a whole report: a backend's ports in shades of its colour,
    in the order they first appear, so two ports of one backend never look alike."""
    ports: dict[str, list[str]] = {}
    for r in results:
        mine = ports.setdefault(r.backend, [])
        if r.implementation not in mine:
            mine.append(r.implementation)
    out = dict(colors)
    for number, (backend, names) in enumerate(ports.items()):
        base = colors.get(backend, _PALETTE[number % len(_PALETTE)])
        for step, name in enumerate(names):
            out[name] = _shade(base, step)
    return out


def _groups(results: Sequence[CaseResult]) -> list[str]:
    """Parameter groups, smallest problem first."""
    size = {params_id(r.params): r.work.bytes or 0 for r in results}
    return sorted(size, key=lambda group: (size[group], group))


def implementations_by_speed(results: Sequence[CaseResult]) -> list[str]:
    """Implementations fastest first, by the geometric mean of their medians relative to
    each parameter group's fastest (so big and small sizes weigh alike)."""
    best: dict[str, float] = {}
    for r in results:
        key = params_id(r.params)
        best[key] = min(best.get(key, math.inf), r.metric("time/median") or math.inf)
    scores: dict[str, list[float]] = {}
    for r in results:
        median = r.metric("time/median")
        if median:
            scores.setdefault(r.implementation, []).append(
                math.log(median / best[params_id(r.params)])
            )
    return sorted(scores, key=lambda impl: (statistics.fmean(scores[impl]), impl))


def time_bars(results: Sequence[CaseResult], workload: str, colors: Mapping[str, str]) -> go.Figure:
    """Median time per implementation for each parameter group, IQR as error bars."""
    import plotly.graph_objects as go

    ok = measured(results, workload)
    order = implementations_by_speed(ok)
    groups = _groups(ok)
    figure = go.Figure()
    for impl in order:
        mine = {params_id(r.params): r for r in ok if r.implementation == impl}
        xs = [g for g in groups if g in mine]
        medians = [mine[g].metric("time/median") or 0.0 for g in xs]
        figure.add_bar(
            name=label(impl),
            x=[label(g) for g in xs],
            y=medians,
            marker_color=color_for(impl, colors, order),
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [
                    (mine[g].metric("time/q3") or m) - m for g, m in zip(xs, medians, strict=True)
                ],
                "arrayminus": [
                    m - (mine[g].metric("time/q1") or m) for g, m in zip(xs, medians, strict=True)
                ],
            },
            hovertemplate="%{x}<br>%{y:.3s}s<extra>" + label(impl) + "</extra>",
        )
    figure.update_layout(
        title=f"{label(workload)}: median time per call (IQR bars)",
        barmode="group",
        yaxis={"type": "log", "title": "seconds per call"},
        **LAYOUT,
    )
    return figure


def _rate_key(results: Sequence[CaseResult]) -> tuple[str, str]:
    """One rate for a whole chart: the one most of its cases are bound by."""
    rates = [rate_of(r.work) for r in results]
    if rates and all(rate == ITEM_RATE for rate in rates):
        return ITEM_RATE
    compute = sum(rate == FLOP_RATE for rate in rates)
    return FLOP_RATE if compute * 2 >= len(results) else BYTE_RATE


def _series(result: CaseResult) -> str:
    """A line of the throughput chart: the implementation and the non-numeric parameters."""
    kinds = [f"{k}={v}" for k, v in result.params.items() if isinstance(v, str)]
    return " ".join([result.implementation, *kinds])


def throughput_lines(
    results: Sequence[CaseResult], workload: str, colors: Mapping[str, str]
) -> go.Figure | None:
    """Throughput against problem size (bytes the algorithm must move), log-log."""
    import plotly.graph_objects as go

    ok = [r for r in measured(results, workload) if r.work.bytes]
    if not ok:
        return None
    key, unit = _rate_key(ok)
    order = implementations_by_speed(ok)
    figure = go.Figure()
    kinds = sorted({_series(r).partition(" ")[2] for r in ok})
    for series in sorted({_series(r) for r in ok}):
        points = sorted((r for r in ok if _series(r) == series), key=lambda r: r.work.bytes)
        impl = points[0].implementation
        # Colour says the implementation; dash and marker say the rest (dtype, shape …).
        style = kinds.index(series.partition(" ")[2])
        figure.add_scatter(
            name=label(series),
            mode="lines+markers",
            x=[r.work.bytes for r in points],
            y=[r.metric(key) for r in points],
            line={"color": color_for(impl, colors, order), "dash": _DASHES[style % len(_DASHES)]},
            marker={"symbol": _SYMBOLS[style % len(_SYMBOLS)], "size": 8},
            text=[label(params_id(r.params)) for r in points],
            hovertemplate="%{text}<br>%{y:.3s} " + unit + "<extra>" + label(series) + "</extra>",
        )
    figure.update_layout(
        title=f"{label(workload)}: throughput against problem size",
        xaxis={"type": "log", "title": "bytes moved per call"},
        yaxis={"type": "log", "title": unit},
        **LAYOUT,
    )
    return figure


def speedup_heatmap(results: Sequence[CaseResult], workload: str) -> go.Figure | None:
    """Speedup against the reference: implementations x parameter groups; None where the
    reference is the only implementation measured."""
    import plotly.graph_objects as go

    ok = measured(results, workload)
    ratios = speedups(ok)
    order = implementations_by_speed(ok)
    if not ratios or len(order) < 2:  # the reference against itself says nothing
        return None
    groups = _groups(ok)
    cell = {(r.implementation, params_id(r.params)): ratios.get(r.case_id) for r in ok}
    z = [[cell.get((impl, g)) for g in groups] for impl in order]
    text = [[ratio_text(v) if v is not None else "" for v in row] for row in z]
    figure = go.Figure(
        go.Heatmap(
            z=[[math.log2(v) if v else None for v in row] for row in z],
            x=[label(g) for g in groups],
            y=[label(i) for i in order],
            text=text,
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0,
            colorbar={"title": "log2 speedup"},
            hovertemplate="%{y}<br>%{x}<br>%{text} vs reference<extra></extra>",
        )
    )
    figure.update_layout(title=f"{label(workload)}: speedup against the reference", **LAYOUT)
    return figure


def vendor_ladder(
    results: Sequence[CaseResult], workload: str, colors: Mapping[str, str], vendor: str = "cupy"
) -> go.Figure | None:
    """Every other implementation's speed as a fraction of the vendor library's (cuBLAS,
    CUB through CuPy) at the same parameters: the optimisation ladder of the hand-written
    kernels, in the order they were declared (naive first). None without vendor results."""
    import plotly.graph_objects as go

    ok = measured(results, workload)
    vendor_time = {params_id(r.params): r.metric("time/median") for r in ok if r.backend == vendor}
    ladder = [r for r in ok if r.backend != vendor and params_id(r.params) in vendor_time]
    if not vendor_time or not ladder:
        return None
    order = list(dict.fromkeys(r.implementation for r in ladder))
    figure = go.Figure()
    for group in _groups(ladder):
        mine = {r.implementation: r for r in ladder if params_id(r.params) == group}
        fractions = [
            (vendor_time[group] or 0.0) / (mine[i].metric("time/median") or math.inf)
            if i in mine
            else None
            for i in order
        ]
        figure.add_bar(
            x=fractions,
            y=[label(i) for i in order],
            orientation="h",
            name=label(group),
            text=[f"{f:.0%}" if f is not None else "" for f in fractions],
            hovertemplate="%{y}<br>%{text} of " + label(vendor) + "<extra>%{fullData.name}</extra>",
        )
    figure.add_vline(x=1.0, line_dash="dash", line_color="#555")
    figure.update_layout(
        title=f"{label(workload)}: speed as a fraction of {label(vendor)} (same parameters)",
        xaxis_title=f"{label(vendor)} time / implementation time",
        yaxis={"autorange": "reversed"},
        barmode="group",
        **LAYOUT,
    )
    return figure


def sample_boxes(
    results: Sequence[CaseResult], workload: str, colors: Mapping[str, str]
) -> go.Figure | None:
    """Every raw sample of every case, as boxes: the noise behind each median."""
    import plotly.graph_objects as go

    ok = [r for r in measured(results, workload) if r.measurement and r.measurement.samples]
    if not ok:
        return None
    order = implementations_by_speed(ok)
    figure = go.Figure()
    for impl in order:
        mine = [r for r in ok if r.implementation == impl]
        figure.add_box(
            name=label(impl),
            marker_color=color_for(impl, colors, order),
            boxpoints="outliers",
            x=[label(params_id(r.params)) for r in mine for _ in r.measurement.samples],  # type: ignore[union-attr]
            y=[s for r in mine for s in r.measurement.samples],  # type: ignore[union-attr]
        )
    figure.update_layout(
        title=f"{label(workload)}: distribution of samples",
        boxmode="group",
        yaxis={"type": "log", "title": "seconds per call"},
        **LAYOUT,
    )
    return figure


def metric_view(
    results: Sequence[CaseResult], workload: str, colors: Mapping[str, str]
) -> go.Figure | None:
    """Every other metric (peak RSS, first call, set-up, session start, page faults …) by key,
    one at a time through a drop-down: one view for every backend's own metrics."""
    import plotly.graph_objects as go

    ok = measured(results, workload)
    keys = sorted(
        {
            k
            for r in ok
            for k in (r.measurement.metrics if r.measurement else {})
            if k not in _DRAWN_ELSEWHERE and not k.startswith(_DRAWN_PREFIXES)
        },
        key=lambda k: (not k.startswith("mem/"), k),  # memory first: the usual question
    )
    if not keys:
        return None
    order = implementations_by_speed(ok)
    figure = go.Figure()
    for index, key in enumerate(keys):
        for impl in order:
            mine = [r for r in ok if r.implementation == impl and r.metric(key) is not None]
            figure.add_bar(
                name=label(impl),
                visible=index == 0,
                legendgroup=label(impl),
                showlegend=True,
                marker_color=color_for(impl, colors, order),
                x=[label(params_id(r.params)) for r in mine],
                y=[r.metric(key) for r in mine],
                hovertemplate="%{x}<br>%{y:.4s}<extra>" + label(impl) + "</extra>",
            )
    per_key = len(order)
    buttons = [
        {
            "label": label(key),
            "method": "update",
            "args": [
                {"visible": [i // per_key == k for i in range(per_key * len(keys))]},
                {"yaxis.title.text": label(key)},
            ],
        }
        for k, key in enumerate(keys)
    ]
    figure.update_layout(
        title=f"{label(workload)}: other metrics",
        barmode="group",
        updatemenus=[{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.15}],
        yaxis={"title": label(keys[0])},
        **LAYOUT,
    )
    return figure
