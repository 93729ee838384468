"""The report opened in a real headless browser renders every figure and table.

Needs playwright (a test dependency) and a Chromium binary; skipped, with the reason, when
either is missing. The browser is ``$GOODWILL_CHROMIUM`` if set, else the first of
``chromium``, ``chromium-browser`` and ``google-chrome`` on PATH. To run it on Debian or
Ubuntu::

    apt-get install chromium            # the distribution's Chromium (no download by playwright)
    python -m pytest tests/test_report_browser.py

or point ``GOODWILL_CHROMIUM=/path/to/chrome`` at any Chromium or Chrome binary. CI sets
``GOODWILL_REQUIRE_BROWSER=1``, which turns a missing Chromium into an error, not a skip. The test
saves a full-page screenshot of the report in its temporary directory (``report.png``).
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from sim.figures import draw_run_figures
from sim.report import write_report

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = pytest.mark.browser

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """The Chromium to use: ``$GOODWILL_CHROMIUM``, else the first one on PATH."""
    if os.environ.get("GOODWILL_CHROMIUM"):
        return os.environ["GOODWILL_CHROMIUM"]
    names = ("chromium", "chromium-browser", "google-chrome")
    return next((path for path in map(shutil.which, names) if path), None)


CHROMIUM = chromium_path()
if CHROMIUM is None and os.environ.get("GOODWILL_REQUIRE_BROWSER"):
    raise RuntimeError("GOODWILL_REQUIRE_BROWSER is set (as in CI) but no Chromium was found")
if CHROMIUM is None:
    pytest.skip(
        "no Chromium: install it (`apt-get install chromium`) or set GOODWILL_CHROMIUM",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield browser
        browser.close()


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG file, from its header."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_report_renders_every_figure_and_table(small_run, tmp_path, browser):
    directory = tmp_path / "run"
    shutil.copytree(small_run, directory)
    figures = draw_run_figures(directory)
    n_figures = len(figures)
    assert n_figures >= 3
    write_report(directory, figures)
    del figures

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, requests = [], []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto((directory / "report.html").as_uri(), wait_until="load")

    images = page.eval_on_selector_all(
        "img", "images => images.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(images) == n_figures
    assert all(complete and width > 0 and height > 0 for complete, width, height in images)
    tables = page.locator("table")
    assert tables.count() == 8  # multipliers, by event time, costs, 2 break-even, sensitivity,
    # versions, timings
    for i in range(tables.count()):
        assert tables.nth(i).is_visible()
        assert tables.nth(i).bounding_box()["height"] > 50
    assert page.locator("tr.optimum").count() == 1
    assert page.locator("#config").is_visible()
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests

    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    width, height = png_size(screenshot)
    assert width == 1200 and height > 3000  # the whole page, not the viewport
    assert screenshot.stat().st_size > 100_000
