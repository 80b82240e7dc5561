"""Every display equation of the built book fits its column and clears its number (issue 18).

At window widths of 1024 and 1280 CSS pixels, for every display equation (MathJax CHTML's
``mjx-container[display=true]``) on every page of ``_toc.yml``:

* the formula's box (``mjx-math``) lies inside the equation's block (Sphinx's ``div.math``, as
  wide as the text column) and the container does not scroll sideways;
* the equation number (Sphinx's ``span.eqno``, measured on its text, not on the hidden ``#``
  link beside it) stays inside the column and does not overlap the formula.

A failure lists each offending equation with its page, its label (the ``equation-...`` id) or
its first characters of TeX, and the sizes involved.
"""

from __future__ import annotations

from typing import Any

import pytest
from book_browser import RENDER_TIMEOUT_MS, toc_docnames

PAGES = toc_docnames()
WIDTHS = (1024, 1280)
HEIGHT = 900
SLACK_PX = 1.0  # sub-pixel rounding

MEASURE_JS = r"""
const done = arguments[arguments.length - 1];
const [timeoutMs, slack] = [arguments[0], arguments[1]];
const t0 = performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
(async () => {
  const hasMath = !!document.querySelector("div.math, span.math");
  if (hasMath) {
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
      if (performance.now() - t0 > timeoutMs) { done({error: "MathJax never started"}); return; }
      await sleep(50);
    }
    await MathJax.startup.promise;
  }
  await sleep(200);  // let the layout settle after typesetting
  const problems = [];
  const containers = Array.from(document.querySelectorAll('mjx-container[display="true"]'));
  for (const container of containers) {
    const block = container.closest("div.math") || container.parentElement;
    const math = container.querySelector("mjx-math");
    if (!math) continue;
    const col = block.getBoundingClientRect();
    const box = math.getBoundingClientRect();
    const label = block.id || (block.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60);
    const why = [];
    if (box.left < col.left - slack || box.right > col.right + slack) {
      why.push(`formula ${box.width.toFixed(0)} px wide spans ${box.left.toFixed(0)}-` +
               `${box.right.toFixed(0)}, column ${col.left.toFixed(0)}-${col.right.toFixed(0)}`);
    }
    if (container.scrollWidth > container.clientWidth + slack) {
      why.push(`scrolls sideways (${container.scrollWidth} > ${container.clientWidth} px)`);
    }
    const eqno = block.querySelector(":scope > span.eqno");
    let number = "";
    if (eqno && eqno.firstChild) {
      const range = document.createRange();
      range.selectNodeContents(eqno.firstChild);  // the "(2.1)" text, not the "#" link
      const num = range.getBoundingClientRect();
      number = eqno.firstChild.textContent.trim();
      if (num.right > col.right + slack) {
        why.push(`number ${number} ends at ${num.right.toFixed(0)}, column at ` +
                 `${col.right.toFixed(0)}`);
      }
      const overlapX = Math.min(num.right, box.right) - Math.max(num.left, box.left);
      const overlapY = Math.min(num.bottom, box.bottom) - Math.max(num.top, box.top);
      if (overlapX > slack && overlapY > slack) {
        why.push(`number ${number} overlaps the formula by ${overlapX.toFixed(0)} px`);
      }
    }
    if (why.length) problems.push({label, number, why: why.join("; ")});
  }
  done({count: containers.length, problems, innerWidth: window.innerWidth});
})().catch((e) => done({error: String(e && e.stack || e)}));
"""


@pytest.fixture
def window_width(browser: Any):
    """Set the viewport width for one test; restore the browser's own size afterwards."""

    def set_width(width: int) -> None:
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )

    yield set_width
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("docname", PAGES)
def test_display_equations_fit_and_clear_their_numbers(
    browser: Any, book_url: str, window_width, docname: str, width: int
) -> None:
    window_width(width)
    browser.get(f"{book_url}/{docname}.html")
    result = browser.execute_async_script(MEASURE_JS, RENDER_TIMEOUT_MS, SLACK_PX)
    assert "error" not in result, f"{docname}: {result['error']}"
    assert result["innerWidth"] == width, f"window is {result['innerWidth']} px, not {width}"
    problems = result["problems"]
    assert not problems, (
        f"{len(problems)} of {result['count']} display equations on {docname} at {width} px "
        "overflow their column or collide with their number:\n"
        + "\n".join(f"  {p['label']} {p['number']}: {p['why']}" for p in problems)
    )
