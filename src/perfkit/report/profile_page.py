"""The profile page: a flame graph (Plotly icicle) a case and profiler, the top functions,
counters, GPU kernels and Spark stages; self-contained and offline like every report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from perfkit.profiling.differential import Difference, grown_functions
from perfkit.profiling.record import CaseProfile, ProfileRun
from perfkit.profiling.stacks import NodeChange, Stacks
from perfkit.profiling.tables import format_amount, overhead_text
from perfkit.records.atomic import write_text_atomic
from perfkit.records.format import format_seconds
from perfkit.report.figures import label
from perfkit.report.markup import STYLE as _STYLE
from perfkit.report.markup import escape as _e
from perfkit.report.markup import figure_html as _figure_html
from perfkit.report.markup import local_href
from perfkit.report.markup import plotlyjs as _plotlyjs
from perfkit.report.markup import table as _table

__all__ = ["build_profile_page", "flame_figure", "profile_links", "write_profile_page"]

_ROOT = "(all)"
TOP_FUNCTIONS = 20


def _icicle(
    title: str,
    *,
    ids: list[str],
    parents: list[str],
    labels: list[str],
    values: list[float],
    hover: list[str],
    **style: Any,
) -> Any:
    """A top-down icicle of frames (ids are paths from the root), hover text per frame."""
    import plotly.graph_objects as go

    figure = go.Figure(
        go.Icicle(
            ids=ids,
            parents=parents,
            labels=labels,
            values=values,
            branchvalues="total",
            customdata=hover,
            hovertemplate="%{label}<br>%{customdata}<extra></extra>",
            tiling={"orientation": "v"},
            maxdepth=24,
            **style,
        )
    )
    figure.update_layout(title=title, height=620, margin={"t": 40, "l": 5, "r": 5, "b": 5})
    return figure


def flame_figure(stacks: Stacks, title: str) -> Any:
    """An icicle of the stacks: each frame as wide as its inclusive cost, callers above."""
    nodes = stacks.nodes()
    total = stacks.total
    ids = [_ROOT] + [f"{_ROOT};{n.id}" for n in nodes]
    parents = [""] + [f"{_ROOT};{n.parent}" if n.parent else _ROOT for n in nodes]
    labels = [f"all ({format_amount(total, stacks.unit)})"] + [label(n.label) for n in nodes]
    values = [total] + [n.value for n in nodes]
    hover = [f"{format_amount(v, stacks.unit)}, {v / total:.1%}" if total else "" for v in values]
    return _icicle(
        title, ids=ids, parents=parents, labels=labels, values=values, hover=hover,
        root={"color": "#dde3ee"},
    )  # fmt: skip


def difference_figure(changes: Sequence[NodeChange], unit: str, title: str) -> Any:
    """The candidate's icicle, each frame coloured by how much its cost a call changed:
    red grew, blue shrank."""
    kept = [c for c in changes if c.candidate > 0]
    total = sum(c.candidate for c in kept if not c.parent)
    floor = total * 0.001
    kept = [c for c in kept if c.candidate >= floor]
    ids = [_ROOT] + [f"{_ROOT};{c.id}" for c in kept]
    parents = [""] + [f"{_ROOT};{c.parent}" if c.parent else _ROOT for c in kept]
    labels = ["all"] + [label(c.label) for c in kept]
    values = [total] + [c.candidate for c in kept]
    colours = [0.0] + [c.change for c in kept]
    span = max((abs(v) for v in colours), default=0.0) or 1.0
    hover = [""] + [
        f"{format_amount(c.base, unit)} → {format_amount(c.candidate, unit)} a call "
        f"({c.base_share:.1%} → {c.candidate_share:.1%} of it)"
        for c in kept
    ]
    marker = {"colors": colours, "colorscale": "RdBu_r", "cmid": 0, "cmin": -span,
              "cmax": span, "showscale": True}  # fmt: skip
    return _icicle(
        title, ids=ids, parents=parents, labels=labels, values=values, hover=hover,
        marker=marker,
    )  # fmt: skip


def _file_link(path: str) -> str:
    """A raw file of the profile, linked when it is a file under the run's folder (its
    record says so; a record that says otherwise gets the name as text, not a link)."""
    name = _e(Path(path).name)
    if urlsplit(path).scheme or path.startswith(("/", "\\")) or ".." in Path(path).parts:
        return name
    return f'<a href="{local_href(path)}">{name}</a>'


def _overview(run: ProfileRun) -> str:
    rows = []
    for p in run.profiles:
        files = " ".join(_file_link(f) for f in p.files)
        rows.append(
            [
                _e(p.case) + (f" <span class=muted>({_e(p.side)})</span>" if p.side else ""),
                _e(p.profiler),
                f'<span class="status-{_e(p.status)}">{_e(p.status)}</span>'
                + (f"<br><span class=muted>{_e(p.reason)}</span>" if p.reason else ""),
                str(p.calls) if p.status == "ok" else "",
                _e(format_seconds(p.per_call_s)) if p.status == "ok" else "",
                _e(format_seconds(p.baseline_s)) if p.status == "ok" else "",
                _e(overhead_text(p)),
                files,
            ]
        )
    headers = ["case", "profiler", "status", "calls", "per call (profiled)",
               "per call (unprofiled)", "overhead", "raw files"]  # fmt: skip
    return _table(headers, rows, {3, 4, 5, 6})


def _top_functions(profile: CaseProfile) -> str:
    stacks = profile.stacks
    assert stacks is not None
    total = stacks.total or 1.0
    rows = sorted(stacks.functions(), key=lambda r: (-r.self_cost, r.name))[:TOP_FUNCTIONS]
    by_self = [
        [_e(r.name), _e(format_amount(r.self_cost, stacks.unit)), f"{r.self_cost / total:.1%}",
         _e(format_amount(r.total_cost, stacks.unit)), f"{r.total_cost / total:.1%}"]
        for r in rows
    ]  # fmt: skip
    headers = ["function (by self)", "self", "self %", "total", "total %"]
    return _table(headers, by_self, {1, 2, 3, 4})


def _counters(profile: CaseProfile) -> str:
    rows = [
        [
            _e(c.name),
            _e(f"{c.value:,.6g}" if c.value is not None else c.note),
            _e(c.unit),
            _e(f"{c.per_call:,.6g}" if c.per_call is not None else ""),
        ]
        for c in profile.counters
    ]
    return _table(["counter", "value", "unit", "a call"], rows, {1, 3})


def _kernels(profile: CaseProfile) -> str:
    rows = [
        [_e(k.name), str(k.launches), _e(format_seconds(k.total_s)), _e(format_seconds(k.mean_s)),
         _e(k.grid), _e(k.block), _e(k.registers if k.registers is not None else ""),
         _e(k.shared_bytes if k.shared_bytes is not None else ""),
         _e(f"{k.occupancy:.0%}" if k.occupancy is not None else "")]
        for k in profile.kernels
    ]  # fmt: skip
    headers = ["kernel", "launches", "total", "mean", "grid", "block", "registers",
               "shared bytes", "occupancy"]  # fmt: skip
    return _table(headers, rows, {1, 2, 3, 6, 7, 8})


def _stages(profile: CaseProfile) -> str:
    rows = [
        [str(s.stage), _e(s.name), str(s.tasks)]
        + [_e(format_seconds(v)) for v in (s.run_s, s.deserialize_s, s.gc_s, s.shuffle_read_s,
                                          s.shuffle_write_s, s.result_serialize_s)]
        for s in profile.stages
    ]  # fmt: skip
    headers = ["stage", "name", "tasks", "executor run", "deserialise", "GC", "shuffle read",
               "shuffle write", "result serialisation"]  # fmt: skip
    return _table(headers, rows, set(range(2, 9)))


def build_profile_page(run: ProfileRun, differences: Sequence[Difference] = ()) -> str:
    """The whole page, plotly.js inside; differential profiles first."""
    parts = [
        f"<h1>perfkit profile · {_e(run.run_id)}</h1>",
        f"<p><code>{_e(' '.join(run.command))}</code><br>{_e(run.machine)} · git "
        f"{_e(run.git_sha or '-')} · {run.duration:g} s of calls a profile</p>",
        _overview(run),
    ]
    index = 0
    for diff in differences:
        parts.append(f"<h2>{_e(diff.title)}</h2>")
        parts.append(
            "<p class=muted>Each frame as wide as its cost a call in the candidate, coloured "
            "by how much that cost changed: red grew, blue shrank.</p>"
        )
        unit = "seconds" if diff.unit == "samples" else diff.unit
        parts.append(_figure_html(difference_figure(diff.changes, unit, diff.title), index))
        parts.append(_grown_table(run, diff, unit))
        index += 1
    for profile in run.profiles:
        if profile.status != "ok":
            continue
        side = f" ({profile.side})" if profile.side else ""
        parts.append(f"<h2>{_e(profile.case)}{_e(side)} · {_e(profile.profiler)}</h2>")
        parts += [f"<p class=muted>{_e(note)}</p>" for note in profile.notes]
        if profile.stacks is not None and profile.stacks.total > 0:
            title = (
                f"{profile.profiler}: {format_amount(profile.stacks.total, profile.stacks.unit)}"
            )
            parts.append(_figure_html(flame_figure(profile.stacks, title), index))
            index += 1
            parts.append(_top_functions(profile))
        if profile.counters:
            parts.append(_counters(profile))
        if profile.kernels:
            parts.append(_kernels(profile))
        if profile.stages:
            parts.append(_stages(profile))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>perfkit profile {_e(run.run_id)}</title><style>{_STYLE}</style>"
        f"<script>{_plotlyjs()}</script></head><body>{''.join(parts)}</body></html>\n"
    )


def _grown_table(run: ProfileRun, diff: Difference, unit: str) -> str:
    rows = [
        [_e(r.name), _e(format_amount(r.base, unit)), _e(format_amount(r.cand, unit)),
         _e("+" + format_amount(r.change, unit))]
        for r in grown_functions(run, diff)[:TOP_FUNCTIONS]
    ]  # fmt: skip
    return _table(["function (grew most)", "base, own a call", "candidate", "change"], rows,
                  {1, 2, 3})  # fmt: skip


def write_profile_page(run: ProfileRun, path: Path, differences: Sequence[Difference] = ()) -> Path:
    write_text_atomic(path, build_profile_page(run, differences))
    return path


def profile_links(report: Path, case_ids: set[str]) -> list[tuple[str, str]]:
    """The profile pages under ``profiles/`` beside a report that profiled any of its
    cases: (link relative to the report, what it profiled), newest first. A profile
    record that cannot be read is passed over: it is not this report's to judge."""
    from perfkit.model.errors import RecordError
    from perfkit.profiling.record import load_profile_run

    found = []
    for record in (report.parent / "profiles").glob("*/profile.json"):
        page = record.with_name("profile.html")
        try:
            run = load_profile_run(record)
        except RecordError:
            continue
        mine = sorted({p.case for p in run.profiles if p.case in case_ids and p.status == "ok"})
        if mine and page.is_file():
            profilers = sorted({p.profiler for p in run.profiles if p.case in mine})
            what = f"{run.run_id}: {', '.join(mine[:3])}" + (" …" if len(mine) > 3 else "")
            found.append(
                (
                    run.created,
                    str(page.relative_to(report.parent)),
                    f"{what} ({', '.join(profilers)})",
                )
            )
    return [(href, label) for _, href, label in sorted(found, reverse=True)]
