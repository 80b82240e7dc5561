"""Every page of the built book, as a reader's browser shows it (headless Chromium, no network).

What each page must show is data: the generic checks run on every page of ``_toc.yml``, and
:data:`EXPECTED` adds what particular chapters promise (equations, figures, the deliberately
failing cell of chapter 4). Run after ``make book`` with ``make browser-test``.
"""

from __future__ import annotations

import json
import re
import struct
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest
import yaml
from book_browser import REPO_ROOT, SCREENSHOT_DIR, PageReport, full_page_png, toc_docnames


class Expect(NamedTuple):
    """What a page promises beyond the checks every page gets."""

    min_math: int = 0  # MathJax-rendered formulas the page must show at least
    min_figures: int = 0  # images in cell outputs (code-made figures) at least
    raises: tuple[str, ...] = ()  # exceptions cells tagged raises-exception must show


EXPECTED: dict[str, Expect] = {
    "chapters/02_core_concepts": Expect(min_math=1, min_figures=1),
    "chapters/03_algorithms_and_math": Expect(min_math=1, min_figures=1),
    # The source article's code, run as written, raises a RuntimeError: shown, not hidden.
    "chapters/04_code_examples": Expect(min_figures=1, raises=("RuntimeError",)),
    "chapters/05_trends_and_challenges": Expect(min_figures=1),
}

PAGES = toc_docnames()
CHAPTERS = [page for page in PAGES if page.startswith("chapters/")]
SEARCH_TERM = "Adagrad"
# Chapters are written to run in <= 90 s on a two-core CPU; fail the build well past that.
CHAPTER_TIME_BUDGET_S = 120.0
MIN_RETINA_RATIO = 1.5  # a raster figure holds at least 1.5 image pixels per CSS pixel
MIN_CHECKED_WIDTH_PX = 100  # smaller images are icons, not figures
PAGE_WEIGHT_BUDGET_BYTES = 12 * 1024 * 1024  # HTML + everything it loads, MathJax included
# Browser-console errors from the themes, not from the book (jupyter-book 1.x / Sphinx 7.4):
KNOWN_CONSOLE_NOISE = (
    # sphinx-thebe's inline config is emitted twice; the second `const` fails. Thebe is unused.
    "Identifier 'THEBE_JS_URL' has already been declared",
    # pydata-sphinx-theme logs this on a first visit, before a light/dark mode is stored.
    "Got invalid theme mode",
    # The book sets no favicon and Chromium asks for one anyway.
    "/favicon.ico - Failed to load resource",
)
# stderr lines that mean something went wrong (progress bars on stderr are fine).
ERROR_TEXT = re.compile(r"Traceback|\b\w*(Error|Exception|Warning)\b")


def expect(docname: str) -> Expect:
    return EXPECTED.get(docname, Expect())


def test_the_toc_lists_the_pages_the_expectations_name() -> None:
    unknown = sorted(set(EXPECTED) - set(PAGES))
    assert not unknown, f"EXPECTED names pages that are not in _toc.yml: {unknown}"
    assert len(CHAPTERS) == 6, f"the book has six chapters, _toc.yml lists {CHAPTERS}"


@pytest.mark.parametrize("docname", PAGES)
def test_page_loads_offline_without_console_errors(load_page, book_url: str, docname: str):
    page: PageReport = load_page(docname)
    assert page.title.strip(), f"{page.url} has no <title>"
    external = [
        r["name"]
        for r in page.resources
        if not (r["name"].startswith(book_url) or r["name"].startswith(("data:", "blob:")))
    ]
    assert not external, f"{page.url} requested resources from the network: {external}"
    errors = [m for m in page.console_errors if not any(k in m for k in KNOWN_CONSOLE_NOISE)]
    assert not errors, f"{page.url} logged errors in the browser console:\n" + "\n".join(errors)


@pytest.mark.parametrize("docname", PAGES)
def test_mathjax_rendered_every_formula(load_page, docname: str) -> None:
    page: PageReport = load_page(docname)
    wanted = expect(docname).min_math
    if page.math_elements == 0:
        assert wanted == 0, f"{page.url} has no math, but the chapter promises equations"
        return
    assert page.mathjax_script is not None, f"{page.url} has math but loads no MathJax"
    assert re.fullmatch(r"(\.\./)*_static/mathjax/tex-chtml\.js(\?.*)?", page.mathjax_script), (
        f"{page.url} loads MathJax from {page.mathjax_script}, not the bundled copy"
    )
    assert page.mathjax_state == "done", f"MathJax on {page.url}: {page.mathjax_state}"
    assert not page.unrendered_math, (
        f"{len(page.unrendered_math)} of {page.math_elements} formulas on {page.url} were not "
        f"rendered, e.g. {page.unrendered_math[:3]}"
    )
    assert page.rendered_math >= max(page.math_elements, wanted), (
        f"{page.url}: {page.rendered_math} rendered formulas for {page.math_elements} "
        f"math elements (at least {wanted} expected)"
    )
    assert not page.math_errors, f"MathJax errors on {page.url}: {page.math_errors[:5]}"


@pytest.mark.parametrize("docname", PAGES)
def test_every_image_loaded_and_figures_are_crisp(load_page, docname: str) -> None:
    page: PageReport = load_page(docname)
    broken = [img["src"] for img in page.images if not img["complete"] or img["naturalWidth"] <= 0]
    assert not broken, f"images that did not load on {page.url}: {broken}"
    figures = [img for img in page.images if img["inOutput"]]
    wanted = expect(docname).min_figures
    assert len(figures) >= wanted, (
        f"{page.url} shows {len(figures)} figures from code, at least {wanted} expected"
    )
    blurry = [
        f"{img['src']} ({img['naturalWidth']} px shown {img['renderedWidth']:.0f} px wide)"
        for img in page.images
        if img["inArticle"]
        and not img["svg"]
        and img["renderedWidth"] >= MIN_CHECKED_WIDTH_PX
        and img["naturalWidth"] < MIN_RETINA_RATIO * img["renderedWidth"]
    ]
    assert not blurry, (
        f"raster figures on {page.url} below {MIN_RETINA_RATIO}x resolution (use retina PNG or "
        f"SVG, e.g. optlib.use_book_style()): {blurry}"
    )


@pytest.mark.parametrize("docname", PAGES)
def test_no_error_output_except_the_deliberate_failure(load_page, docname: str) -> None:
    page: PageReport = load_page(docname)
    allowed = expect(docname).raises
    unexpected = [
        out["text"]
        for out in page.error_outputs
        if (out["kind"] == "traceback" and not (out["raisesTag"] and allowed))
        or (out["kind"] == "stderr" and ERROR_TEXT.search(out["text"]))
    ]
    assert not unexpected, f"error output on {page.url}:\n" + "\n---\n".join(unexpected)
    if not allowed:
        return
    cells = page.raises_cells
    assert cells, f"{page.url} should show a cell tagged raises-exception raising {allowed}"
    silent = [cell for cell in cells if not cell["hasTraceback"]]
    assert not silent, f"{len(silent)} cell(s) tagged raises-exception on {page.url} raise nothing"
    for name in allowed:
        assert any(re.search(rf"\b{name}\b", cell["text"]) for cell in cells), (
            f"no cell on {page.url} shows the expected {name}; shown: "
            f"{[cell['text'][-200:] for cell in cells]}"
        )


@pytest.mark.parametrize("docname", PAGES)
def test_code_fits_its_column(load_page, docname: str) -> None:
    """Code cells and code blocks read without sideways scrolling in a 1280-pixel window
    (chapters/ruff.toml formats the chapters' code to 88 columns; _static/book.css sets its
    font size)."""
    page: PageReport = load_page(docname)
    assert not page.wide_code, f"code wider than its column on {page.url}:\n" + "\n".join(
        f"{block['scrollWidth']} > {block['clientWidth']} px: {block['text']}"
        for block in page.wide_code
    )


def _repository_url() -> str:
    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text(encoding="utf-8"))
    return str(config["repository"]["url"]).rstrip("/")


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_offers_its_notebook_and_the_repository(load_page, book_url: str, docname: str):
    page: PageReport = load_page(docname)
    notebooks = [link for link in page.links if urlsplit(link).path.endswith(".ipynb")]
    assert notebooks, f"{page.url} has no .ipynb download button"
    stem = Path(docname).name
    ours = [link for link in notebooks if Path(urlsplit(link).path).name == f"{stem}.ipynb"]
    assert ours, f"the .ipynb links on {page.url} are not this chapter's: {notebooks}"
    assert all(link.startswith(book_url) for link in ours), f"notebook links leave the book: {ours}"
    with urllib.request.urlopen(ours[0], timeout=10) as response:  # 127.0.0.1 only
        notebook = json.load(response)
    assert notebook.get("nbformat") == 4, f"{ours[0]} is not an nbformat-4 notebook"
    assert any(cell["cell_type"] == "code" for cell in notebook["cells"]), f"{ours[0]}: no code"
    repository = _repository_url()
    assert any(link.rstrip("/") == repository for link in page.links), (
        f"{page.url} has no button to the repository.url of _config.yml ({repository})"
    )


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.mark.parametrize("docname", PAGES)
def test_full_page_screenshot_saved(load_page, docname: str) -> None:
    page: PageReport = load_page(docname)
    width, height = _png_size(page.screenshot)
    assert width >= 1000 and height >= 800, f"{page.screenshot} is only {width}x{height}"
    assert page.screenshot.parent == SCREENSHOT_DIR


@pytest.mark.parametrize("docname", PAGES)
def test_page_weight_is_reasonable(load_page, docname: str) -> None:
    page: PageReport = load_page(docname)
    assert page.page_weight_bytes <= PAGE_WEIGHT_BUDGET_BYTES, (
        f"{page.url} weighs {page.page_weight_bytes / 2**20:.1f} MiB "
        f"(budget {PAGE_WEIGHT_BUDGET_BYTES / 2**20:.0f} MiB); biggest resources: "
        f"{sorted(page.resources, key=lambda r: -r['decodedBodySize'])[:5]}"
    )


SEARCH_JS = r"""
const done = arguments[arguments.length - 1];
const timeoutMs = arguments[0];
const t0 = performance.now();
(function poll() {
  const summary = document.querySelector("#search-results .search-summary");
  if (summary && summary.innerText.trim()) {
    done({
      summary: summary.innerText.trim(),
      hits: Array.from(document.querySelectorAll("#search-results ul.search > li a"))
        .map((a) => a.href),
    });
  } else if (performance.now() - t0 > timeoutMs) {
    done({ summary: "timed out", hits: [] });
  } else {
    setTimeout(poll, 50);
  }
})();
"""


def test_search_finds_adagrad(browser: Any, book_url: str) -> None:
    browser.get(f"{book_url}/search.html?q={SEARCH_TERM}")
    found: dict[str, Any] = browser.execute_async_script(SEARCH_JS, 15_000)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    (SCREENSHOT_DIR / "search.png").write_bytes(full_page_png(browser))
    pages = {urlsplit(hit).path.lstrip("/").removesuffix(".html") for hit in found["hits"]}
    assert pages, f"searching {SEARCH_TERM!r} found nothing: {found['summary']}"
    assert pages <= set(PAGES) | {"genindex"}, f"search results outside the book: {pages}"
    assert pages & set(CHAPTERS), f"no chapter in the results for {SEARCH_TERM!r}: {pages}"


def test_execution_times_page_lists_every_chapter(browser: Any, book_url: str) -> None:
    """The nb-exec-table: one row per executed chapter, all succeeded, within the time budget."""
    page = next((p for p in PAGES if Path(p).name == "execution_times"), None)
    assert page is not None, "_toc.yml has no execution_times page"
    browser.get(f"{book_url}/{page}.html")
    rows: list[list[str]] = browser.execute_script(
        "return Array.from(document.querySelectorAll('article table tbody tr'))"
        ".map((tr) => Array.from(tr.cells).map((td) => td.innerText.trim()));"
    )
    by_doc = {row[0]: row for row in rows if len(row) == 5}
    missing = [chapter for chapter in CHAPTERS if chapter not in by_doc]
    assert not missing, f"chapters missing from the execution-time table: {missing} (rows {rows})"
    for chapter in CHAPTERS:
        _doc, _modified, _method, runtime, status = by_doc[chapter]
        assert status == "✅", f"{chapter} did not execute successfully: {status!r}"
        assert float(runtime) <= CHAPTER_TIME_BUDGET_S, (
            f"{chapter} took {runtime} s to execute (budget {CHAPTER_TIME_BUDGET_S:.0f} s)"
        )
