"""Views across workloads and records: the roofline of a run, the history of a case.

Like ``figures``, pure functions from records to plotly figures, record strings escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from perfkit.records.run_record import CaseResult, RunRecord
from perfkit.report.figures import LAYOUT, color_for, implementations_by_speed, label, measured

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["history", "roofline"]


def roofline(
    results: Sequence[CaseResult],
    ceiling: Mapping[str, Any] | None,
    colors: Mapping[str, str],
    device: str = "cpu",
) -> go.Figure | None:
    """Achieved GFLOP/s against arithmetic intensity, under this machine's measured roofs."""
    import plotly.graph_objects as go

    ok = [
        r
        for r in results
        if r.status == "ok" and r.work.flops and r.work.bytes and r.metric("throughput/gflops")
    ]
    if not ok:
        return None
    intensity = [r.work.flops / r.work.bytes for r in ok]
    low, high = min(intensity) / 4, max(intensity) * 4
    figure = go.Figure()
    if ceiling:
        peaks = ceiling.get("flops", {})
        top = max(peaks.values(), default=0.0)
        for size, bandwidth in ceiling.get("bandwidth", []):
            xs = [low, top / bandwidth if top else high]
            figure.add_scatter(
                x=xs,
                y=[x * bandwidth / 1e9 for x in xs],
                mode="lines",
                showlegend=False,
                line={"dash": "dot", "color": "#999", "width": 1},
                hovertemplate=(
                    f"copy {size / 2**20:g} MiB: {bandwidth / 1e9:.0f} GB/s<extra></extra>"
                ),
            )
        for dtype, peak in peaks.items():
            figure.add_scatter(
                x=[low, high],
                y=[peak / 1e9] * 2,
                mode="lines",
                showlegend=False,
                line={"color": "#555", "width": 1},
                hovertemplate=f"GEMM {label(dtype)}: {peak / 1e9:.0f} GFLOP/s<extra></extra>",
            )
            figure.add_annotation(
                xref="x domain",
                x=0.99,
                y=math.log10(peak / 1e9),
                xanchor="right",
                yanchor="bottom",
                showarrow=False,
                font={"size": 10},
                text=f"GEMM {label(dtype)} {peak / 1e9:.0f} GFLOP/s",
            )
        bands = sorted(ceiling.get("bandwidth", []))
        for (size, bandwidth), name in zip(bands[:1] + bands[-1:], ("cache", "DRAM"), strict=False):
            figure.add_annotation(
                x=math.log10(low),
                y=math.log10(low * bandwidth / 1e9),
                xanchor="left",
                yanchor="bottom",
                showarrow=False,
                font={"size": 10},
                textangle=0,
                text=f"{name}: copy {size / 2**20:g} MiB, {bandwidth / 1e9:.0f} GB/s",
            )
    order = implementations_by_speed(ok)
    for impl in order:
        mine = [(r, i) for r, i in zip(ok, intensity, strict=True) if r.implementation == impl]
        figure.add_scatter(
            name=label(impl),
            mode="markers+text",
            x=[i for _, i in mine],
            y=[r.metric("throughput/gflops") for r, _ in mine],
            # Each point named by its case (the parameter values), not only its workload.
            text=[label(f"{r.workload} {' '.join(map(str, r.params.values()))}") for r, _ in mine],
            textposition="top center",
            textfont={"size": 9},
            customdata=[label(r.case_id) for r, _ in mine],
            marker={"size": 9, "color": color_for(impl, colors, order)},
            hovertemplate="%{customdata}<br>%{x:.3g} flop/byte, %{y:.3s} GFLOP/s<extra></extra>",
        )
    figure.update_layout(
        title=f"roofline ({label(device)}): measured ceilings, each case a point",
        xaxis={"type": "log", "title": "arithmetic intensity (flop / byte)"},
        yaxis={"type": "log", "title": "GFLOP/s"},
        **{**LAYOUT, "height": 520},
    )
    return figure


def history(records: Sequence[RunRecord], workload: str) -> go.Figure | None:
    """Median per case across records, in the order they were made, labelled by git sha."""
    import plotly.graph_objects as go

    if len(records) < 2:
        return None
    ordered = sorted(records, key=lambda rec: rec.created)
    ticks = [f"{rec.created[:16]} {(rec.environment.git.sha or '')[:8]}" for rec in ordered]
    cases = sorted({r.case_id for rec in ordered for r in measured(rec.results, workload)})
    if not cases:
        return None
    figure = go.Figure()
    for case_id in cases:
        ys = [
            (rec.result(case_id).metric("time/median") if rec.result(case_id) else None)  # type: ignore[union-attr]
            for rec in ordered
        ]
        figure.add_scatter(
            name=label(case_id.split("/", 1)[1]),
            x=[label(t) for t in ticks],
            y=ys,
            mode="lines+markers",
            connectgaps=False,
        )
    figure.update_layout(
        title=f"{label(workload)}: history of the median",
        yaxis={"type": "log", "title": "seconds per call"},
        xaxis={"title": "record (time, git sha)"},
        **LAYOUT,
    )
    return figure
