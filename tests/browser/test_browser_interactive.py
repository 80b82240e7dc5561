"""The interactive Plotly figures of the built book (issue 19), in a real browser, offline.

Each page listed in :data:`INTERACTIVE` must draw its figures with the plotly.js that the book
serves from its own ``_static`` folder, loaded once; every slider of every figure is moved to
each of its other steps by clicking the step on the rail, as a reader would, and each move must
change the drawing (the SVG paths of the visible lines) and the slider's position. In print,
the still image replaces the interactive figure. Pages without such a figure load no plotly.js.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from book_browser import RENDER_TIMEOUT_MS, toc_docnames

INTERACTIVE = {  # page -> number of interactive figures on it
    "chapters/02_core_concepts": 1,
    "chapters/03_algorithms_and_math": 1,
    "chapters/04_code_examples": 1,
}
PAGES = toc_docnames()

WAIT_FOR_FIGURES_JS = r"""
const done = arguments[arguments.length - 1];
const [expected, timeoutMs] = [arguments[0], arguments[1]];
const t0 = performance.now();
(function poll() {
  const boxes = Array.from(document.querySelectorAll(".optlib-interactive"));
  const drawn = boxes.filter((box) => box.querySelector(".plotly-graph-div .main-svg"));
  if ((boxes.length >= expected && drawn.length === boxes.length)
      || performance.now() - t0 > timeoutMs) {
    done({
      figures: boxes.length,
      drawn: drawn.length,
      noJs: boxes.filter((box) => box.classList.contains("optlib-no-js")).length,
      plotly: typeof window.Plotly === "object" ? window.Plotly.version : null,
      scripts: Array.from(document.scripts).map((s) => s.src).filter((s) => /plotly/i.test(s)),
      requests: performance.getEntriesByType("resource").map((r) => r.name)
        .filter((n) => /plotly/i.test(n)),
    });
  } else {
    setTimeout(poll, 100);
  }
})();
"""

# The visible lines of figure `i` (their SVG path data) and every slider's position and steps.
STATE_JS = r"""
const gd = document.querySelectorAll(".optlib-interactive .plotly-graph-div")[arguments[0]];
return {
  paths: Array.from(gd.querySelectorAll("g.scatterlayer path.js-line, g.scatterlayer path.js-fill"))
    .map((p) => p.getAttribute("d") || ""),
  active: (gd.layout.sliders || []).map((s) => s.active || 0),
  steps: (gd.layout.sliders || []).map((s) => s.steps.length),
};
"""

# Where to click for step `j` of slider `k` of figure `i`: the step's tick's x, the rail's y, as
# offsets from the centre of the rail's touch area (what Selenium's offsets are relative to).
# Every step has a tick; Plotly leaves out labels that would overlap.
STEP_OFFSET_JS = r"""
const gd = document.querySelectorAll(".optlib-interactive .plotly-graph-div")[arguments[0]];
const group = gd.querySelectorAll("g.slider-group")[arguments[1]];
const rail = group.querySelector("rect.slider-rail-touch-rect").getBoundingClientRect();
const tick = group.querySelectorAll("rect.slider-tick-rect")[arguments[2]];
const box = tick.getBoundingClientRect();
return [box.left + box.width / 2 - (rail.left + rail.width / 2), 0];
"""


def _open(browser: Any, book_url: str, docname: str, expected: int) -> dict[str, Any]:
    browser.get(f"{book_url}/{docname}.html")
    return browser.execute_async_script(WAIT_FOR_FIGURES_JS, expected, RENDER_TIMEOUT_MS)


def test_the_pages_with_interactive_figures_are_in_the_book() -> None:
    assert set(INTERACTIVE) <= set(PAGES), f"not in _toc.yml: {set(INTERACTIVE) - set(PAGES)}"


@pytest.mark.parametrize("docname", sorted(INTERACTIVE))
def test_plotly_comes_from_the_books_static_folder_once(browser, book_url, docname) -> None:
    page = _open(browser, book_url, docname, INTERACTIVE[docname])
    assert page["figures"] == INTERACTIVE[docname], (
        f"{docname}: {page['figures']} interactive figures, {INTERACTIVE[docname]} expected"
    )
    assert page["plotly"], f"{docname}: window.Plotly is not defined ({page})"
    assert page["noJs"] == 0 and page["drawn"] == page["figures"], f"{docname}: not drawn {page}"
    assert len(page["scripts"]) == 1 and len(page["requests"]) == 1, (
        f"{docname}: plotly.js must load exactly once: scripts {page['scripts']}, "
        f"requests {page['requests']}"
    )
    (script,) = page["scripts"]
    assert script.startswith(f"{book_url}/_static/plotly-"), f"{docname}: plotly.js from {script}"


@pytest.mark.parametrize("docname", sorted(INTERACTIVE))
def test_every_slider_step_changes_the_drawing(browser, book_url, docname) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    _open(browser, book_url, docname, INTERACTIVE[docname])
    moves = 0
    for figure in range(INTERACTIVE[docname]):
        start = browser.execute_script(STATE_JS, figure)
        assert start["steps"] and all(n >= 2 for n in start["steps"]), f"no sliders: {start}"
        for slider, n_steps in enumerate(start["steps"]):
            for step in range(n_steps):
                before = browser.execute_script(STATE_JS, figure)
                if before["active"][slider] == step:
                    continue
                rail = browser.find_elements(
                    "css selector", ".optlib-interactive .plotly-graph-div"
                )[figure].find_elements("css selector", "rect.slider-rail-touch-rect")[slider]
                browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", rail)
                dx, dy = browser.execute_script(STEP_OFFSET_JS, figure, slider, step)
                ActionChains(browser).move_to_element_with_offset(
                    rail, int(dx), int(dy)
                ).click().perform()
                after = _settled(browser, figure, before)
                where = f"{docname}, figure {figure + 1}, slider {slider + 1}, step {step + 1}"
                assert after["active"][slider] == step, (
                    f"{where}: clicking the step left the slider at {after['active']}"
                )
                assert after["paths"] != before["paths"], f"{where}: the drawing did not change"
                assert any(after["paths"]), f"{where}: no line is drawn"
                moves += 1
    assert moves >= INTERACTIVE[docname], f"{docname}: no slider was moved"


def _settled(browser: Any, figure: int, before: dict[str, Any]) -> dict[str, Any]:
    """The figure's state once the click has been handled (Plotly redraws asynchronously)."""
    deadline = time.monotonic() + 5
    state = browser.execute_script(STATE_JS, figure)
    while state["paths"] == before["paths"] and time.monotonic() < deadline:
        time.sleep(0.1)
        state = browser.execute_script(STATE_JS, figure)
    return state


PRINT_JS = r"""
return Array.from(document.querySelectorAll(".optlib-interactive")).map((box) => {
  const still = box.querySelector("img.optlib-still");
  const live = box.querySelector(".plotly-graph-div");
  return {
    stillShown: !!still && getComputedStyle(still).display !== "none" && still.naturalWidth > 0,
    stillAlt: still ? still.alt : "",
    liveShown: !!live && getComputedStyle(live).display !== "none",
  };
});
"""


@pytest.mark.parametrize("docname", sorted(INTERACTIVE))
def test_print_shows_the_still_instead(browser, book_url, docname) -> None:
    _open(browser, book_url, docname, INTERACTIVE[docname])
    on_screen = browser.execute_script(PRINT_JS)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        in_print = browser.execute_script(PRINT_JS)
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert all(f["liveShown"] and not f["stillShown"] for f in on_screen), on_screen
    assert all(f["stillShown"] and f["stillAlt"] and not f["liveShown"] for f in in_print), (
        f"{docname} in print: {in_print}"
    )


@pytest.mark.parametrize("docname", [p for p in PAGES if p not in INTERACTIVE])
def test_pages_without_interactive_figures_load_no_plotly(load_page, docname) -> None:
    page = load_page(docname)
    plotly = [r["name"] for r in page.resources if "plotly" in r["name"].lower()]
    assert not plotly, f"{page.url} loads {plotly} but has no interactive figure"
