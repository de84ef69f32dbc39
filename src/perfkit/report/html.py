"""Page assembly: one self-contained HTML file per report, and the index of a reports folder."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfkit.model.errors import UsageError
from perfkit.records.atomic import write_text_atomic
from perfkit.records.run_record import RunRecord
from perfkit.report import allocator_figures, figures, overview
from perfkit.report.capped import capped
from perfkit.report.cases import answer_table, measured_table, unmeasured_table
from perfkit.report.markup import STYLE as _STYLE
from perfkit.report.markup import escape as _e
from perfkit.report.markup import figure_html as _figure_html
from perfkit.report.markup import local_href
from perfkit.report.markup import plotlyjs as _plotlyjs
from perfkit.report.markup import table as _table

__all__ = ["build_report", "update_index", "write_report"]


def _environment(record: RunRecord) -> str:
    env = record.environment
    machine, git = env.machine, env.git
    rows = [
        (
            "CPU",
            f"{machine.cpu or '?'} ({machine.cores_physical or '?'} cores, "
            f"{machine.cores_logical or '?'} threads)",
        ),
        ("memory", f"{(machine.memory_bytes or 0) / 2**30:.1f} GiB"),
        ("OS", machine.os or "?"),
        ("Python", env.python.version or "?"),
        ("git", f"{git.sha or '-'}{' (dirty)' if git.dirty else ''}"),
        (
            "BLAS",
            ", ".join(
                f"{b.get('internal_api', '?')} {b.get('version') or ''} "
                f"{b.get('num_threads', '?')} threads"
                for b in env.blas
            )
            or "-",
        ),
        ("libraries", ", ".join(f"{k} {v}" for k, v in env.libraries.items())),
        ("harness", env.harness or "-"),
    ]
    if env.load is not None:
        other = "?" if env.load.other_cpu is None else f"{env.load.other_cpu:.2f} cores"
        warnings = "; ".join(env.load.warnings) or "quiet"
        rows.append(("load before the run", f"other processes {other}: {warnings}"))
    contended = sum(
        run.contended for r in record.results if r.measurement for run in r.measurement.runs
    )
    if contended:
        rows.append(("contended repetitions", f"{contended} (other processes took the CPU)"))
    for device, ceiling in env.ceilings.items():
        peaks = ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in ceiling.get("flops", {}).items())
        bandwidth = ", ".join(
            f"{s / 2**20:g} MiB {b / 1e9:.0f} GB/s" for s, b in ceiling.get("bandwidth", [])
        )
        rows.append((f"ceilings ({device})", f"{peaks}; copy {bandwidth}"))
    for name, info in env.backends.items():
        state = "available" if info.available else f"unavailable: {info.reason}"
        versions = ", ".join(f"{k} {v}" for k, v in info.versions.items())
        rows.append((f"backend {name}", f"{state}{'; ' + versions if versions else ''}"))
        if info.settings:
            settings = ", ".join(f"{k}={v}" for k, v in info.settings.items())
            rows.append((f"settings {name}", settings))
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    partial = " · <b>partial</b>" if record.partial else ""
    return (
        f"<details open><summary>{_e(record.run_id)} · {_e(record.created)}{partial}"
        f"</summary><p><code>{_e(record.command)}</code></p><table>{table}</table></details>"
    )


def _summary(records: Sequence[RunRecord]) -> str:
    """One paragraph: what was measured, where, and how it went."""
    latest = records[-1]
    machine = latest.environment.machine
    git = latest.environment.git
    counts: dict[str, int] = {}
    for result in latest.results:
        counts[result.status] = counts.get(result.status, 0) + 1
    status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    sha = (git.sha or "no git")[:10] + (" (dirty)" if git.dirty else "")
    generated = time.strftime("%Y-%m-%d %H:%M:%S %z")
    return (
        f'<p class="muted">{len(records)} record(s), newest {_e(latest.run_id)}: {_e(status)}'
        f" · {_e(machine.cpu or '?')}, {_e(machine.cores_logical or '?')} CPUs"
        f" · {_e(sha)} · generated {_e(generated)} · environment at the end</p>"
    )


def _gate_section(base: RunRecord, candidate: RunRecord) -> str:
    """The gate's verdicts, first record as baseline, second as candidate (default policy)."""
    from perfkit.verdict.gate import GatePolicy, format_ratio, format_value, run_gate

    report = run_gate(base, candidate, GatePolicy())
    rows = []
    for c in sorted(report.compared(), key=lambda c: (c.verdict == "SAME", c.case_id)):
        css = "slower" if report.fails(c) else ("faster" if c.verdict == "FASTER" else "")
        rows.append(
            [
                f'<span class="{css}">{_e(c.verdict)}</span>',
                _e(c.case_id),
                format_value(c, c.base_median),
                format_value(c, c.cand_median),
                format_ratio(c),
                "" if c.q_value is None else f"{c.q_value:.3g}",
                _e(c.reason),
            ]
        )
    head = (
        f"<p>{_e(report.summary())}: baseline {_e(base.run_id)}, candidate "
        f"{_e(candidate.run_id)}; the default gate policy, as <code>perfkit gate</code> "
        "without options.</p>"
    )
    head += "".join(f'<p class="muted">{_e(line)}</p>' for line in report.skipped_on_both_sides())
    harnesses = (base.environment.harness, candidate.environment.harness)
    if None not in harnesses and harnesses[0] != harnesses[1]:
        head += (
            f'<p class="slower">The two records were measured by different harnesses '
            f"({_e(harnesses[0] or '')} and {_e(harnesses[1] or '')}): part of any difference "
            "may be the harness's.</p>"
        )
    return head + _table(
        ["verdict", "case", "baseline", "candidate", "ratio (CI)", "q", "reason"],
        rows,
        {2, 3, 4, 5},
    )


def _backend_styles() -> tuple[dict[str, str], dict[str, str]]:
    """Colours and devices of the registered backends (records may name others)."""
    from perfkit.model import registry
    from perfkit.model.backend import backends

    registry.load()
    known = backends()
    return ({n: b.color for n, b in known.items()}, {n: b.device for n, b in known.items()})


def shared_plotlyjs(folder: Path) -> str:
    """plotly.js as a file in ``folder``, named by its version and written once, for the
    reports of a folder of many to share; its name, for a page's ``<script src>``."""
    import plotly

    name = f"plotly-{plotly.__version__}.min.js"
    if not (folder / name).exists():
        write_text_atomic(folder / name, _plotlyjs())
    return name


def build_report(
    records: Sequence[RunRecord],
    title: str,
    plotly_src: str | None = None,
    profiles: Sequence[tuple[str, str]] = (),
) -> str:
    """The whole page, plotly.js inside (or loaded from ``plotly_src`` beside it). The last
    record is the one the per-workload figures show; ``profiles`` (link, label) are the
    profile pages of its cases."""
    if not records:
        raise UsageError("a report needs at least one record")
    records = [capped(r) for r in records]  # a page's size bounded by its cases
    colors, devices = _backend_styles()
    latest = records[-1]
    colors = figures.port_colors(latest.results, colors)
    parts = [
        f"<h1>{_e(title)}</h1>",
        _summary(records),
        "<h2>Fastest per size</h2>",
        answer_table(latest),
        "<h2>Measured</h2>",
        measured_table(latest),
        "<h2>Cases that did not run or were wrong</h2>",
        unmeasured_table(records),
    ]
    if len(records) == 2:
        parts += ["<h2>Gate</h2>", _gate_section(records[0], records[1])]
    if profiles:
        links = "".join(
            f'<li><a href="{local_href(href)}">{_e(label)}</a></li>' for href, label in profiles
        )
        parts += ["<h2>Profiles</h2>", f"<ul>{links}</ul>"]
    index = 0

    def add(figure: Any) -> None:
        nonlocal index
        if figure is not None:
            parts.append(_figure_html(figure, index))
            index += 1

    parts.append("<h2>Roofline</h2>")
    for device, ceiling in latest.environment.ceilings.items() or [("cpu", None)]:
        mine = [r for r in latest.results if devices.get(r.backend, "cpu") == device]
        add(overview.roofline(mine, ceiling, colors, device))
    for workload in sorted({r.workload for r in latest.results}):
        parts.append(f"<h2>Workload {_e(workload)}</h2>")
        add(figures.time_bars(latest.results, workload, colors))
        add(figures.throughput_lines(latest.results, workload, colors))
        add(figures.speedup_heatmap(latest.results, workload))
        add(figures.vendor_ladder(latest.results, workload, colors))
        add(figures.sample_boxes(latest.results, workload, colors))
        add(allocator_figures.latency_tails(latest.results, workload, colors))
        add(allocator_figures.memory_over_time(latest.results, workload, colors))
        add(allocator_figures.memory_returned(latest.results, workload, colors))
        add(figures.metric_view(latest.results, workload, colors))
        add(overview.history(records, workload))
    parts.append("<h2>Environment</h2>")
    parts += [_environment(rec) for rec in reversed(records)]
    script = (
        f'<script src="{_e(plotly_src)}"></script>'
        if plotly_src
        else f"<script>{_plotlyjs()}</script>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style>"
        f"{script}</head><body>{''.join(parts)}</body></html>\n"
    )


def write_report(
    records: Sequence[RunRecord], path: Path, title: str | None = None, shared: bool = False
) -> Path:
    """Write the report and refresh the index of its folder. ``shared``: plotly.js as one
    file in the folder that its reports load (about 4.6 MB less a report), instead of
    inside the page."""
    from perfkit.report.profile_page import profile_links

    default = f"perfkit report: {', '.join(sorted({r.workload for r in records[-1].results}))}"
    source = shared_plotlyjs(path.parent) if shared else None
    profiles = profile_links(path, {r.case_id for r in records[-1].results})
    write_text_atomic(path, build_report(records, title or default, source, profiles))
    update_index(path.parent)
    return path


_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def update_index(folder: Path) -> Path:
    """``index.html`` linking every report in ``folder``, newest first."""
    entries = []
    for page in folder.glob("*.html"):
        if page.name == "index.html":
            continue
        with page.open(encoding="utf-8", errors="replace") as handle:
            match = _TITLE.search(handle.read(4096))
        title = html.unescape(match.group(1)) if match else page.name
        entries.append((page.stat().st_mtime, page.name, title))
    entries.sort(reverse=True)
    rows = "".join(
        f'<tr><td><a href="{local_href(name)}">{_e(name)}</a></td><td>{_e(title)}</td>'
        f"<td>{_e(time.strftime('%Y-%m-%d %H:%M', time.localtime(mtime)))}</td></tr>"
        for mtime, name, title in entries
    )
    text = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>perfkit reports</title><style>{_STYLE}</style></head><body>"
        "<h1>perfkit reports</h1><table><thead><tr><th>file</th><th>title</th>"
        f"<th>written</th></tr></thead><tbody>{rows}</tbody></table></body></html>\n"
    )
    index = folder / "index.html"
    write_text_atomic(index, text)
    return index
