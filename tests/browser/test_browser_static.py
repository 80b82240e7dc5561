"""Checks on the built HTML files themselves (no browser): offline assets, numbering, references.

Sphinx's nitpicky build already fails on an unknown reference; these catch what it cannot see:
a page that pulls MathJax from a CDN, a link to an anchor that is not there, an equation or figure
without a number, and chapters that never refer to one another's equations.
"""

from __future__ import annotations

import html.parser
import posixpath
import re
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import pytest
from book_browser import toc_docnames

PAGES = toc_docnames()
CHAPTERS = [page for page in PAGES if page.startswith("chapters/")]
BUNDLED_MATHJAX = "_static/mathjax/tex-chtml.js"


class ParsedPage(NamedTuple):
    ids: set[str]
    links: list[str]  # href of every <a>
    assets: list[str]  # src of every <script>/<img>, href of every <link rel=stylesheet>
    equations: dict[str, bool]  # id of each labelled display equation -> has a number
    figures: dict[str, bool]  # id of each figure -> has a "Fig. N" caption number


class _Parser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.assets: list[str] = []
        self.equations: dict[str, bool] = {}
        self.figures: dict[str, bool] = {}
        self._open: list[tuple[str, str, str]] = []  # (tag, kind, id) of open equation/figure

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        classes = attr.get("class", "").split()
        if attr.get("id"):
            self.ids.add(attr["id"])
        if tag == "a" and "href" in attr:
            self.links.append(attr["href"])
        if tag in ("script", "img") and attr.get("src"):
            self.assets.append(attr["src"])
        if tag == "link" and "stylesheet" in attr.get("rel", "") and attr.get("href"):
            self.assets.append(attr["href"])
        if tag == "div" and "math" in classes and attr.get("id", "").startswith("equation-"):
            self.equations[attr["id"]] = False
            self._open.append((tag, "equation", attr["id"]))
        elif tag == "figure" and attr.get("id"):
            self.figures[attr["id"]] = False
            self._open.append((tag, "figure", attr["id"]))
        elif tag in ("div", "figure") and self._open:
            self._open.append((tag, "", ""))
        if tag == "span" and self._open:
            kinds = {kind: ident for _, kind, ident in self._open if kind}
            if "eqno" in classes and "equation" in kinds:
                self.equations[kinds["equation"]] = True
            if "caption-number" in classes and "figure" in kinds:
                self.figures[kinds["figure"]] = True

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            self._open.pop()


def _parse(path: Path) -> ParsedPage:
    parser = _Parser()
    parser.feed(path.read_text(encoding="utf-8"))
    return ParsedPage(parser.ids, parser.links, parser.assets, parser.equations, parser.figures)


@pytest.fixture(scope="module")
def parsed(html_dir: Path) -> dict[str, ParsedPage]:
    """Every page of the toc, parsed, by docname."""
    missing = [page for page in PAGES if not (html_dir / f"{page}.html").is_file()]
    assert not missing, f"pages of _toc.yml missing from {html_dir}: {missing}"
    return {page: _parse(html_dir / f"{page}.html") for page in PAGES}


def _resolve(docname: str, href: str) -> tuple[str, str] | None:
    """``(target docname, fragment)`` of a link inside the book, or None for other links."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not (parts.path.endswith(".html") or not parts.path):
        return None
    if not parts.path:
        return docname, unquote(parts.fragment)
    target = posixpath.normpath(posixpath.join(posixpath.dirname(docname), parts.path))
    return target.removesuffix(".html"), unquote(parts.fragment)


def test_math_uses_the_bundled_mathjax(html_dir: Path, parsed: dict[str, ParsedPage]) -> None:
    assert (html_dir / BUNDLED_MATHJAX).is_file(), f"{BUNDLED_MATHJAX} was not copied into the book"
    for page, content in parsed.items():
        mathjax = [src for src in content.assets if "mathjax" in src.lower() or "tex-" in src]
        for src in mathjax:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(page), urlsplit(src).path))
            assert target == BUNDLED_MATHJAX, f"{page} loads MathJax from {src}"


def test_every_script_and_stylesheet_is_local(parsed: dict[str, ParsedPage]) -> None:
    remote = {
        page: [src for src in content.assets if urlsplit(src).scheme in ("http", "https")]
        or [src for src in content.assets if src.startswith("//")]
        for page, content in parsed.items()
    }
    remote = {page: srcs for page, srcs in remote.items() if srcs}
    assert not remote, f"pages that load assets from the network: {remote}"


def test_every_internal_link_and_anchor_exists(
    html_dir: Path, parsed: dict[str, ParsedPage]
) -> None:
    broken: list[str] = []
    ids_of: dict[str, set[str]] = {page: content.ids for page, content in parsed.items()}
    for page, content in parsed.items():
        for href in content.links:
            resolved = _resolve(page, href)
            if resolved is None:
                continue
            target, fragment = resolved
            if target not in ids_of:
                path = html_dir / f"{target}.html"
                if not path.is_file():
                    broken.append(f"{page}: {href} (no such page)")
                    continue
                ids_of[target] = _parse(path).ids
            if fragment and fragment not in ids_of[target]:
                broken.append(f"{page}: {href} (no anchor #{fragment})")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_labelled_equations_and_figures_are_numbered(parsed: dict[str, ParsedPage]) -> None:
    unnumbered = [
        f"{page}#{ident}"
        for page, content in parsed.items()
        for ident, numbered in (content.equations | content.figures).items()
        if not numbered
    ]
    assert not unnumbered, f"labelled equations or figures without a number: {unnumbered}"


def _references(parsed: dict[str, ParsedPage], kind: str) -> dict[tuple[str, str], set[str]]:
    """(citing page, cited page) -> ids, for links to labelled equations or figures."""
    targets = {
        page: set(content.equations if kind == "equation" else content.figures)
        for page, content in parsed.items()
    }
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for page, content in parsed.items():
        for href in content.links:
            resolved = _resolve(page, href)
            if resolved and resolved[0] in targets and resolved[1] in targets[resolved[0]]:
                found[(page, resolved[0])].add(resolved[1])
    return found


def test_chapters_reference_each_others_equations(parsed: dict[str, ParsedPage]) -> None:
    equations = _references(parsed, "equation")
    across = {pair: ids for pair, ids in equations.items() if pair[0] != pair[1]}
    labelled = sum(len(parsed[page].equations) for page in CHAPTERS)
    assert across, (
        f"no chapter refers to an equation of another chapter ({labelled} labelled equations; "
        "use {eq}`eq-chN-...` across chapters)"
    )


def test_figures_are_referenced_from_the_prose(parsed: dict[str, ParsedPage]) -> None:
    figures = {page: set(parsed[page].figures) for page in CHAPTERS}
    referenced = set().union(*_references(parsed, "figure").values())
    total = sum(len(ids) for ids in figures.values())
    assert total > 0, "no chapter has a numbered, labelled figure"
    orphans = sorted(
        f"{page}#{ident}" for page, ids in figures.items() for ident in ids - referenced
    )
    assert not orphans, f"figures never referenced with {{numref}}: {orphans}"


def test_bibliography_page_lists_the_cited_works(
    html_dir: Path, parsed: dict[str, ParsedPage]
) -> None:
    bibliography = next((p for p in PAGES if Path(p).name == "bibliography"), None)
    assert bibliography is not None, "_toc.yml has no bibliography page"
    entries = set(
        re.findall(
            r'class="citation" id="([^"]+)"',
            (html_dir / f"{bibliography}.html").read_text(encoding="utf-8"),
        )
    )
    assert entries, "the bibliography page lists no entries"
    cited = {
        resolved[1]
        for page in PAGES
        if page != bibliography
        for href in parsed[page].links
        if (resolved := _resolve(page, href)) and resolved[0] == bibliography and resolved[1]
    }
    assert cited, "no page cites a work of the bibliography ({cite:t} / {cite:p})"
    assert cited <= entries, f"citations the bibliography does not list: {cited - entries}"
