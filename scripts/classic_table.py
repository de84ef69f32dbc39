"""The README's classic-ML table and scaling curve, from one record.

    python scripts/classic_table.py RECORD.json [RECORD.json ...] [--curve OUT.html]

Table: one row a port, one column a data set; each cell the port's quality on the test
part (accuracy; R^2 for linear regression; k-means: training inertia over scikit-learn's)
and its fit time as a multiple of scikit-learn's in the same run (scikit-learn's own row:
its quality and median fit time). Generated data at the size given by ``--n``.

Curve (``--curve``): median fit time against rows of generated data, log-log, one panel
a workload, one line a port: an offline HTML page whose one ``.figure`` is what
``scripts/figure_screenshot.py PAGE 0 OUT.png`` photographs. Then, per workload, where
(if anywhere) MLlib's time falls below scikit-learn's and the from-scratch port's.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from perfkit.records.format import format_seconds
from perfkit.records.run_record import CaseResult, load_record

WORKLOADS = ("linear_regression", "logistic_regression", "decision_tree", "svm", "kmeans")
DATASETS = ("diabetes", "iris", "wine", "breast_cancer", "digits", "generated")


def _sklearn_key(result: CaseResult) -> str:
    """The scikit-learn port a result's fit time is divided by."""
    if result.workload != "svm":
        return "sklearn:default"
    return "sklearn:rbf" if result.variant in ("rbf_smo", "rbf") else "sklearn:linear"


def _quality(result: CaseResult) -> str:
    if result.workload == "kmeans":
        mine, theirs = result.metric("quality/inertia"), result.metric("quality/sklearn_inertia")
        return f"{mine / theirs:.3f}" if mine and theirs else "?"
    name = "quality/r2" if result.workload == "linear_regression" else "quality/accuracy"
    value = result.metric(name)
    return "?" if value is None else f"{value:.3f}"


def _cell(result: CaseResult | None, sklearn: CaseResult | None) -> str:
    if result is None:
        return ""
    if result.status == "skipped":
        return "skipped"
    if result.status != "ok":
        return (
            f"{result.status} ({_quality(result)})" if result.status == "invalid" else result.status
        )
    median = result.metric("time/median") or 0.0
    if result.backend == "sklearn" or sklearn is None or sklearn.status != "ok":
        return f"{_quality(result)}, {format_seconds(median)}"
    ratio = median / (sklearn.metric("time/median") or 1.0)
    return f"{_quality(result)}, {ratio:.3g}x"


def table(records: list[list[CaseResult]], n: int) -> str:
    """Where records measured the same case, the last one's cell; each cell's ratio is to
    scikit-learn's fit in the same record."""
    by_case: dict[tuple[str, str, str], tuple[CaseResult, dict[str, CaseResult]]] = {}
    for results in records:
        chosen = [r for r in results if r.params["dataset"] != "generated" or r.params["n"] == n]
        mine = {f"{r.workload} {r.implementation} {r.params['dataset']}": r for r in chosen}
        for r in chosen:
            by_case[(r.workload, r.implementation, str(r.params["dataset"]))] = (r, mine)
    header = [d if d != "generated" else f"generated {n:,} x 20" for d in DATASETS]
    lines = ["| port | " + " | ".join(header) + " |", "| --- |" + " --- |" * len(DATASETS)]
    for workload in WORKLOADS:
        ports = sorted(
            {key[1] for key in by_case if key[0] == workload},
            key=lambda key: (not key.startswith("sklearn"), key.startswith("spark"), key),
        )
        for port in ports:
            cells = []
            for dataset in DATASETS:
                found = by_case.get((workload, port, dataset))
                if found is None:
                    cells.append("")
                    continue
                result, same_run = found
                sklearn = same_run.get(f"{workload} {_sklearn_key(result)} {dataset}")
                cells.append(_cell(result, sklearn))
            lines.append(f"| `{workload}` `{port}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _curves(results: list[CaseResult]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    found: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        median = r.metric("time/median")
        if r.params["dataset"] == "generated" and r.status == "ok" and median:
            found[r.workload][r.implementation].append((int(r.params["n"]), median))
    return found


def curve_page(results: list[CaseResult], out: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    curves = _curves(results)
    shown = [w for w in WORKLOADS if w in curves]
    figure = make_subplots(rows=1, cols=len(shown), subplot_titles=shown)
    colors = {"numpy": "#013243", "sklearn": "#f7931e", "spark_local": "#e25a1c"}
    seen: set[str] = set()
    for column, workload in enumerate(shown, start=1):
        for port, points in sorted(curves[workload].items()):
            points.sort()
            dash = "dot" if port.endswith(("gd", "rbf_smo", ":rbf")) else "solid"
            figure.add_trace(
                go.Scatter(
                    x=[p[0] for p in points], y=[p[1] for p in points], name=port,
                    mode="lines+markers", legendgroup=port, showlegend=port not in seen,
                    line={"color": colors.get(port.partition(":")[0], "#888"), "dash": dash},
                ),
                row=1, col=column,
            )  # fmt: skip
            seen.add(port)
        figure.update_xaxes(type="log", title_text="rows", row=1, col=column)
        figure.update_yaxes(type="log", row=1, col=column)
    figure.update_yaxes(title_text="fit, seconds", row=1, col=1)
    figure.update_layout(
        width=1080, height=440, margin={"t": 40, "b": 40, "l": 60, "r": 20},
        legend={"orientation": "h", "y": -0.25},
    )  # fmt: skip
    html = figure.to_html(include_plotlyjs=True, full_html=False)
    out.write_text(f'<!doctype html><meta charset="utf-8"><div class="figure">{html}</div>')


def reading(results: list[CaseResult]) -> str:
    lines = []
    for workload, ports in sorted(_curves(results).items()):
        spark = dict(ports.get("spark_local:mllib", []) or ports.get("spark_local:linear", []))
        for other in sorted(ports):
            if other.startswith("spark") or not spark:
                continue
            mine = dict(ports[other])
            ratios = [f"{n:,}: {spark[n] / mine[n]:.3g}x" for n in sorted(spark) if n in mine]
            lines.append(f"{workload}: MLlib over {other}, by rows: " + ", ".join(ratios))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="+", type=Path)
    parser.add_argument("--n", type=int, default=10_000, help="rows of the generated column")
    parser.add_argument("--curve", type=Path, help="write the scaling curve's page here")
    args = parser.parse_args()
    records = [list(load_record(path).results) for path in args.records]
    results = [r for found in records for r in found]
    print(table(records, args.n))
    print()
    print(reading(results))
    if args.curve:
        curve_page(results, args.curve)
        print(f"curve: {args.curve}")


if __name__ == "__main__":
    main()
