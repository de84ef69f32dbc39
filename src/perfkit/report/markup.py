"""The HTML pieces every page of a report uses: the style sheet, escaping, tables, plotly.js
and a figure's markup."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from perfkit.model.errors import UsageError

__all__ = ["STYLE", "escape", "figure_html", "local_href", "plotlyjs", "table"]


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def local_href(path: str) -> str:
    """``path`` (a file relative to the page) as a link that can only be that file, escaped
    for an attribute: ``./`` first and every reserved character percent-encoded, so a name
    like ``javascript:alert(1).html`` is a file beside the page, never a scheme."""
    return escape("./" + quote(path, safe="/"))


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """An HTML table from cells that are already escaped HTML."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em;
       color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f6fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-skipped { color: #a66f00; } .status-invalid, .status-failed { color: #b3261e; }
.faster { color: #1b7f3b; } .slower { color: #b3261e; } .muted { color: #777; }
details { margin: 0.4em 0; } summary { cursor: pointer; font-weight: 600; }
.figure { margin: 0.5em 0 1.5em; }
"""


def plotlyjs() -> str:
    """plotly.js, inlined so a page opens from ``file://`` with no network."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise UsageError(
            "reports need plotly, which is not installed: pip install 'perfkit[report]'"
        ) from None
    return str(get_plotlyjs())


def figure_html(figure: Any, index: int) -> str:
    import plotly.io as pio

    body = pio.to_html(
        figure,
        include_plotlyjs=False,
        full_html=False,
        div_id=f"figure-{index}",
        config={"displaylogo": False, "responsive": True},
    )
    return f'<div class="figure">{body}</div>'
