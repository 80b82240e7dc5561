"""Shared pieces of the browser tests: where the book is, its pages, and what a page report holds.

Imported by ``conftest.py`` (fixtures) and the test modules; see ``conftest.py`` for the set-up.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
HTML_DIR = Path(os.environ.get("BOOK_HTML_DIR", REPO_ROOT / "_build" / "html"))
SCREENSHOT_DIR = Path(os.environ.get("BOOK_SCREENSHOT_DIR", REPO_ROOT / "_build" / "screenshots"))
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
CHROMEDRIVER_CANDIDATES = ("chromedriver",)
PAGE_LOAD_TIMEOUT_S = 30
RENDER_TIMEOUT_MS = 20_000
WINDOW_SIZE = (1280, 900)


def in_ci() -> bool:
    """Whether we run in CI (``CI=true``), where a missing prerequisite is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip the test with ``reason``, or fail with it in CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def find_executable(env_var: str, candidates: tuple[str, ...]) -> str | None:
    """The path of the first executable found: ``$env_var`` first, then ``candidates`` on PATH."""
    override = os.environ.get(env_var)
    if override:
        return override if os.access(override, os.X_OK) else None
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
    return None


def toc_docnames(toc_path: Path = REPO_ROOT / "_toc.yml") -> list[str]:
    """Every page of the book in reading order, as Sphinx docnames (``chapters/01_background``)."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    names: list[str] = [_docname(toc["root"])]

    def walk(entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            if "file" in entry:
                names.append(_docname(entry["file"]))
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key, []))

    walk(toc.get("parts", []) + toc.get("chapters", []))
    return names


def _docname(path: str) -> str:
    return re.sub(r"\.(md|ipynb|rst)$", "", path)


def screenshot_name(docname: str) -> str:
    """``chapters/01_background`` -> ``01_background`` (the screenshot's file stem)."""
    return docname.rsplit("/", 1)[-1]


class PageReport(NamedTuple):
    """What one page looked like in the browser once MathJax and every image had finished."""

    docname: str
    url: str
    title: str
    mathjax_script: str | None  # src of the MathJax <script>, None when the page has no math
    mathjax_state: str  # "absent", "done", "never started" or "failed: <error>"
    math_elements: int  # Sphinx's span.math / div.math elements
    rendered_math: int  # MathJax <mjx-container> elements
    unrendered_math: list[str]  # sources of math elements that contain no mjx-container
    math_errors: list[str]  # MathJax error nodes (undefined macro, ...)
    images: list[dict[str, Any]]  # src, naturalWidth, renderedWidth, complete, inOutput, ...
    error_outputs: list[dict[str, Any]]  # tracebacks and error-looking stderr in cell outputs
    raises_cells: list[dict[str, Any]]  # cells tagged raises-exception: hasTraceback, text
    links: list[str]  # every <a href> on the page, absolute
    resources: list[dict[str, Any]]  # performance entries: name, decodedBodySize
    document_bytes: int  # decoded size of the HTML document itself
    wide_code: list[dict[str, Any]]  # code blocks wider than their column: text, widths
    console_errors: list[str]  # SEVERE browser-console messages
    screenshot: Path
    load_seconds: float

    @property
    def page_weight_bytes(self) -> int:
        """Bytes the page needed: its HTML plus every resource it loaded (decoded sizes)."""
        return self.document_bytes + sum(int(r["decodedBodySize"]) for r in self.resources)


# Runs in the page after load: waits for MathJax and the images, then collects everything at once.
COLLECT_JS = r"""
const done = arguments[arguments.length - 1];
const timeoutMs = arguments[0];
const t0 = performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(condition) {
  while (!condition()) {
    if (performance.now() - t0 > timeoutMs) return false;
    await sleep(50);
  }
  return true;
}
const text = (el, n) => (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, n);
(async () => {
  const mjScript = document.querySelector('script[src*="mathjax" i], script[src*="tex-chtml"]');
  let mathjaxState = "absent";
  if (mjScript) {
    const started = await waitFor(
      () => window.MathJax && MathJax.startup && MathJax.startup.promise
    );
    if (!started) {
      mathjaxState = "never started";
    } else {
      try { await MathJax.startup.promise; mathjaxState = "done"; }
      catch (e) { mathjaxState = "failed: " + e; }
    }
  }
  document.querySelectorAll('img[loading="lazy"]').forEach((img) => { img.loading = "eager"; });
  await waitFor(() => Array.from(document.images).every((img) => img.complete));

  const mathElements = Array.from(document.querySelectorAll("span.math, div.math"));
  // TeX MathJax could not typeset: <merror>, or an undefined macro shown in red (noundefined).
  const mathErrors = () => {
    const bad = Array.from(document.querySelectorAll("mjx-merror, [data-mjx-error]"))
      .map((el) => el.getAttribute("data-mjx-error") || text(el, 80));
    if (mathjaxState === "done" && MathJax.startup.document && MathJax.startup.toMML) {
      for (const item of MathJax.startup.document.math) {
        const mml = MathJax.startup.toMML(item.root);
        if (/<merror|mathcolor="red"/.test(mml)) bad.push(String(item.math).slice(0, 80));
      }
    }
    return bad;
  };
  const images = Array.from(document.images).map((img) => ({
    src: img.currentSrc.startsWith("data:") ? img.currentSrc.slice(0, 40) + "..." : img.currentSrc,
    naturalWidth: img.naturalWidth,
    renderedWidth: img.getBoundingClientRect().width,
    complete: img.complete,
    inArticle: !!img.closest("article"),
    inOutput: !!img.closest(".cell_output"),
    svg: /\.svg(\?|$)/i.test(img.currentSrc) || img.currentSrc.startsWith("data:image/svg"),
  }));
  const cellOf = (el) => el.closest(".cell");
  const errorOutputs = Array.from(
    document.querySelectorAll(".output.traceback, .output.error, .output.stderr")
  ).map((el) => {
    const cell = cellOf(el);
    return {
      kind: el.classList.contains("stderr") ? "stderr" : "traceback",
      text: text(el, 400),
      raisesTag: !!(cell && cell.classList.contains("tag_raises-exception")),
    };
  });
  const raisesCells = Array.from(document.querySelectorAll(".cell.tag_raises-exception")).map(
    (cell) => {
      const tb = cell.querySelector(".output.traceback, .output.error");
      return { hasTraceback: !!tb, text: tb ? text(tb, 2000) : "" };
    }
  );
  // Code a reader reads (cell inputs, code blocks in the prose; not outputs) that does not fit
  // its column and would need sideways scrolling.
  const wideCode = Array.from(
    document.querySelectorAll("article .cell_input pre, article div[class*=highlight-python] pre")
  ).filter((pre) => pre.scrollWidth > pre.clientWidth + 1).map((pre) => ({
    text: text(pre, 80), scrollWidth: pre.scrollWidth, clientWidth: pre.clientWidth,
  }));
  const nav = performance.getEntriesByType("navigation")[0];
  done({
    title: document.title,
    mathjaxScript: mjScript ? mjScript.getAttribute("src") : null,
    mathjaxState,
    mathElements: mathElements.length,
    renderedMath: document.querySelectorAll("mjx-container").length,
    unrenderedMath: mathElements.filter((el) => !el.querySelector("mjx-container"))
      .map((el) => text(el, 80)),
    mathErrors: mathErrors(),
    images,
    errorOutputs,
    raisesCells,
    wideCode,
    links: Array.from(document.querySelectorAll("a[href]")).map((a) => a.href),
    resources: performance.getEntriesByType("resource").map((r) => ({
      name: r.name.startsWith("data:") ? r.name.slice(0, 40) : r.name,
      decodedBodySize: r.decodedBodySize || 0,
    })),
    documentBytes: nav ? nav.decodedBodySize : 0,
  });
})().catch((e) => done({ fatal: String(e && e.stack || e) }));
"""


def full_page_png(driver: Any) -> bytes:
    """A screenshot of the whole page, not just the window (Chrome DevTools protocol)."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    clip = {
        "x": 0,
        "y": 0,
        "width": max(WINDOW_SIZE[0], int(size["width"])),
        "height": max(WINDOW_SIZE[1], int(size["height"])),
        "scale": 1,
    }
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    return base64.b64decode(shot["data"])
