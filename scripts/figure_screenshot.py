"""A screenshot of one figure of a perfkit page (a report or a profile page), for docs.

    python scripts/figure_screenshot.py PAGE.html INDEX OUT.png

Drives the Debian ``chromium`` through playwright, as the report tests do.
"""

from __future__ import annotations

import sys
from pathlib import Path

from perfkit.report.browser import _FLAGS, find_chromium


def main() -> None:
    page_path, index, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no chromium on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, headless=True, args=_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            figure = page.locator(".figure").nth(index)
            figure.locator(".main-svg").first.wait_for(timeout=60_000)
            figure.screenshot(path=str(out))
        finally:
            browser.close()
    print(f"screenshot: {out}")


if __name__ == "__main__":
    main()
