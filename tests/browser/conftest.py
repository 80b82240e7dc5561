"""Fixtures for the real-browser tests of the built book (`make book`, then `make browser-test`).

A headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by Selenium) loads every
page of ``_build/html`` served over ``http://127.0.0.1:<free port>`` by Python's ``http.server``.
Each page is loaded once per session: :func:`load_page` waits until MathJax has finished and every
image has loaded, collects what the tests check into a :class:`PageReport` and saves a full-page
screenshot to ``_build/screenshots/<page>.png`` for a human to look at.

The browser resolves no host name (``--host-resolver-rules``), so a page that still needed the
network (MathJax from a CDN, say) fails here exactly as it would for an offline reader.

When Chromium, its driver or the built book is missing, the tests skip with the reason; when the
environment variable ``CI`` is ``"true"`` they fail instead, so CI cannot pass by skipping them.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from book_browser import (
    CHROMEDRIVER_CANDIDATES,
    CHROMIUM_CANDIDATES,
    COLLECT_JS,
    HTML_DIR,
    PAGE_LOAD_TIMEOUT_S,
    RENDER_TIMEOUT_MS,
    SCREENSHOT_DIR,
    WINDOW_SIZE,
    PageReport,
    find_executable,
    full_page_png,
    screenshot_name,
    skip_or_fail,
)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture(scope="session")
def html_dir() -> Path:
    """The built book; skips (fails in CI) when ``make book`` has not run."""
    if not (HTML_DIR / "index.html").is_file():
        skip_or_fail(f"no built book at {HTML_DIR} (run `make book` first)")
    return HTML_DIR


@pytest.fixture(scope="session")
def book_url(html_dir: Path) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` serving ``_build/html`` (search needs http, not file://)."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser(html_dir: Path) -> Iterator[Any]:
    """A headless Chromium that can reach nothing but 127.0.0.1."""
    chromium = find_executable("CHROMIUM", CHROMIUM_CANDIDATES)
    chromedriver = find_executable("CHROMEDRIVER", CHROMEDRIVER_CANDIDATES)
    if chromium is None or chromedriver is None:
        skip_or_fail(
            "headless browser tests need Debian's chromium and chromium-driver "
            f"(found chromium={chromium}, chromedriver={chromedriver}); "
            "install them with `apt-get install chromium chromium-driver`"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail("selenium is not installed (pip install -r requirements.txt)")

    profile = tempfile.mkdtemp(prefix="book-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--window-size={WINDOW_SIZE[0]},{WINDOW_SIZE[1]}",
        f"--user-data-dir={profile}",
        # Offline like a reader without network: every host name fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    # Without the cache every page reports the full weight of what it loads, not just what's new.
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
    driver.set_script_timeout(RENDER_TIMEOUT_MS / 1000 + 10)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def load_page(browser: Any, book_url: str) -> Callable[[str], PageReport]:
    """``load_page(docname)``: the page's :class:`PageReport`, loading it on first use only."""
    reports: dict[str, PageReport] = {}
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def load(docname: str) -> PageReport:
        if docname in reports:
            return reports[docname]
        url = f"{book_url}/{docname}.html"
        browser.get_log("browser")  # drop messages of earlier pages
        start = time.perf_counter()
        browser.get(url)
        data = browser.execute_async_script(COLLECT_JS, RENDER_TIMEOUT_MS)
        if "fatal" in data:
            pytest.fail(f"{url}: collecting the page failed: {data['fatal']}", pytrace=False)
        seconds = time.perf_counter() - start
        shot = SCREENSHOT_DIR / f"{screenshot_name(docname)}.png"
        shot.write_bytes(full_page_png(browser))
        console = [
            entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
        ]
        reports[docname] = PageReport(
            docname=docname,
            url=url,
            title=data["title"],
            mathjax_script=data["mathjaxScript"],
            mathjax_state=data["mathjaxState"],
            math_elements=data["mathElements"],
            rendered_math=data["renderedMath"],
            unrendered_math=data["unrenderedMath"],
            math_errors=data["mathErrors"],
            images=data["images"],
            error_outputs=data["errorOutputs"],
            raises_cells=data["raisesCells"],
            links=data["links"],
            resources=data["resources"],
            document_bytes=int(data["documentBytes"]),
            wide_code=data["wideCode"],
            console_errors=console,
            screenshot=shot,
            load_seconds=seconds,
        )
        return reports[docname]

    _LOADED_REPORTS.append(reports)
    return load


_LOADED_REPORTS: list[dict[str, PageReport]] = []


def _tree_bytes(path: Path, pattern: str = "*") -> int:
    return sum(f.stat().st_size for f in path.rglob(pattern) if f.is_file())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the book's size on disk and each page's weight in the browser."""
    if not any(_LOADED_REPORTS):  # no page was loaded: nothing to report
        return
    mb = 1024 * 1024

    def size(n: int) -> str:
        return f"{n / mb:.1f} MiB" if n >= mb else f"{n / 1024:.0f} KiB"

    write = terminalreporter.write_line
    terminalreporter.section("built book size")
    total = _tree_bytes(HTML_DIR)
    figures = _tree_bytes(HTML_DIR / "_images")
    mathjax = _tree_bytes(HTML_DIR / "_static" / "mathjax")
    write(
        f"{HTML_DIR}: {size(total)}, of which figures (_images) {size(figures)} "
        f"and the bundled MathJax (_static/mathjax) {size(mathjax)}"
    )
    for reports in _LOADED_REPORTS:
        for report in reports.values():
            write(
                f"{report.docname:<36} weight {size(report.page_weight_bytes):>9}, "
                f"math {report.rendered_math:4d}, images {len(report.images):3d}, "
                f"loaded in {report.load_seconds:4.1f} s"
            )
    if SCREENSHOT_DIR.is_dir():
        write(f"screenshots: {SCREENSHOT_DIR}")
