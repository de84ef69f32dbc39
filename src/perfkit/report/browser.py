"""Open a report in a real headless Chromium and check what a person would see.

    python -m perfkit.report.browser REPORT.html [SCREENSHOT.png]

Needs the Debian ``chromium`` package and the ``playwright`` Python package (which drives the
system browser; it downloads nothing). The tests and the screenshot in docs/ use this path.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Dialog

__all__ = ["PageCheck", "find_chromium", "inspect_report"]

# Quiet start-up: no sync, no component updates, no background fetches to a closed network.
_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
_ALL_RENDERED = """() => {
  const figures = document.querySelectorAll('.figure').length;
  const drawn = document.querySelectorAll('.figure .js-plotly-plot .main-svg').length;
  return figures > 0 && drawn >= figures;
}"""


# Where the table of measured results begins, in CSS pixels from the top of the page.
_MEASURED_TOP = """() => {
  const heading = [...document.querySelectorAll('h2')].find(h => h.textContent === 'Measured');
  const table = heading && heading.nextElementSibling;
  return table ? table.getBoundingClientRect().top : null;
}"""


@dataclass
class PageCheck:
    figures: int
    rendered: int
    load_seconds: float
    console_errors: list[str] = field(default_factory=list)
    network_requests: list[str] = field(default_factory=list)
    text: str = ""
    measured_top: float | None = None  # where the measured results begin (None: no table)
    viewport_height: int = 900

    @property
    def ok(self) -> bool:
        return (
            self.figures == self.rendered and not self.console_errors and not self.network_requests
        )


def _refuse(dialog: Dialog, errors: list[str]) -> None:
    """A script smuggled in through a record would most likely announce itself so."""
    errors.append(f"dialog: {dialog.message}")
    dialog.dismiss()


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def inspect_report(
    report: Path, screenshot: Path | None = None, timeout: float = 60.0, full_page: bool = False
) -> PageCheck:
    """Load ``report`` from file://, wait until every figure has drawn, and collect console
    errors, any request that left the file (the page must need no network) and the text."""
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("no chromium found on PATH (Debian: apt-get install chromium)")
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, headless=True, args=_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("dialog", lambda dialog: _refuse(dialog, errors))
            page.on(
                "request",
                lambda r: (
                    None
                    if r.url.startswith(("file:", "data:", "blob:"))
                    else requests.append(r.url)
                ),
            )
            start = time.perf_counter()
            page.goto(report.resolve().as_uri(), wait_until="load", timeout=timeout * 1000)
            page.wait_for_function(_ALL_RENDERED, timeout=timeout * 1000)
            seconds = time.perf_counter() - start
            figures = page.locator(".figure").count()
            rendered = page.locator(".figure .js-plotly-plot .main-svg").count()
            rendered = min(rendered, figures)  # a plot may draw more than one svg layer
            text = page.inner_text("body")
            measured_top = page.evaluate(_MEASURED_TOP)
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=full_page)
        finally:
            browser.close()
    return PageCheck(figures, rendered, seconds, errors, requests, text, measured_top)


def main() -> None:
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        raise SystemExit(2)
    check = inspect_report(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else None)
    print(
        f"figures {check.figures}, rendered {check.rendered}, "
        f"load {check.load_seconds:.2f} s, console errors {len(check.console_errors)}, "
        f"network requests {len(check.network_requests)}"
    )
    for line in check.console_errors + check.network_requests:
        print(f"  {line}")
    raise SystemExit(0 if check.ok else 1)


if __name__ == "__main__":
    main()
