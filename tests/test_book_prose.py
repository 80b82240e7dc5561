"""The book's prose states no measured number by hand (issue 17).

Every measured number must reach the prose through myst-nb's ``glue`` from the cell that computed
it, so the sentence cannot drift from the result. This test reads every page of the book (the six
chapters, the intro and the appendix pages) and fails on a *measured-looking* number typed into
the prose: a number with a decimal point (``0.93``, ``1.5x``) or a percentage (``97 %``).

What is not prose, and so not looked at: math (``$...$``, ``$$...$$``), code spans and code
blocks, MyST roles (``{glue:text}`...```, ``{cite:p}`...```, ``{ref}`...```, ...), directive
options (``:label: ...``), labels and URLs.

What is allowed, because it is not a measurement of this book:

* section numbers written with a section sign or the word "section" (``§6.1``, ``section 4.2``);
* a cited figure: a paragraph that carries a ``{cite:p}``/``{cite:t}`` role may quote the cited
  work's numbers;
* hyperparameter values and constants, *if* written as math or code (``$\\beta_2 = 0.999$``,
  ```lr=1e-3```): that is how the book writes definitions, so a bare ``0.999`` in a sentence is
  flagged and must be moved into math or code.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    [*ROOT.glob("chapters/0[1-6]_*.ipynb"), ROOT / "intro.md", *ROOT.glob("appendix/*.ipynb")]
    + [*ROOT.glob("appendix/*.md")]
)

NOT_PROSE = [
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S),  # amsmath environments
    re.compile(r"(?<!\\)\$[^$]+\$"),  # inline math (a paragraph has no blank line)
    re.compile(r"\{[\w:.-]+\}`[^`]*`"),  # MyST roles: {glue:text}`k:.2f`, {cite:p}`x`, {ref}`y`
    re.compile(r"`[^`\n]*`"),  # code spans
    re.compile(r"(?m)^\s*:[\w-]+:.*$"),  # directive options
    re.compile(r"(?m)^\s*\([\w:.-]+\)=\s*$"),  # labels
    re.compile(r"https?://\S+"),  # URLs
]
FENCE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*(.*)$")
CODE_DIRECTIVES = ("{code-block}", "{code-cell}", "{code}", "{math}", "{literalinclude}")
MEASURED_LOOKING = re.compile(r"(?<![\w.§])(\d+(?:\.\d+)?\s?%|\d+\.\d+)")
SECTION_NUMBER = re.compile(r"(§|[Ss]ections?\s+|[Ss]ecs?\.\s*)$")
CITATION = re.compile(r"\{cite(:[a-z]+)?\}`")


def markdown_of(page: Path) -> str:
    if page.suffix == ".md":
        return page.read_text(encoding="utf-8")
    notebook = nbformat.read(page, as_version=4)
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def without_code_blocks(markdown: str) -> str:
    """``markdown`` without code and math blocks; directives (admonitions, exercises, solutions,
    figures) keep their body, which is prose, and lose only their fence lines."""
    kept, open_directives, code_fence = [], [], None
    for line in markdown.splitlines():
        fence = FENCE.match(line)
        if code_fence is not None:  # inside a code block: skip to its closing fence
            if fence and fence.group(1)[0] == code_fence[0] and not fence.group(2).strip():
                if len(fence.group(1)) >= len(code_fence):
                    code_fence = None
            continue
        if not fence:
            kept.append(line)
            continue
        marker, info = fence.group(1), fence.group(2).strip()
        if not info and open_directives and marker == open_directives[-1]:
            open_directives.pop()  # a directive closes
        elif not info.startswith("{") or info.startswith(CODE_DIRECTIVES):  # ```python, ~~~
            code_fence = marker
        else:
            open_directives.append(marker)  # a directive opens: keep its body
    return "\n".join(kept)


def strip_non_prose(text: str) -> str:
    for pattern in NOT_PROSE:
        text = pattern.sub(" ", text)
    return text


def typed_numbers(markdown: str) -> list[str]:
    """Measured-looking numbers in the prose of ``markdown``, with their context."""
    found = []
    for paragraph in re.split(r"\n\s*\n", without_code_blocks(markdown)):
        if CITATION.search(paragraph):
            continue
        prose = strip_non_prose(paragraph)
        for match in MEASURED_LOOKING.finditer(prose):
            if SECTION_NUMBER.search(prose[: match.start()]):
                continue
            context = " ".join(prose[max(0, match.start() - 50) : match.end() + 30].split())
            found.append(f"{match.group(0)!r} in '...{context}...'")
    return found


def test_the_rule_catches_typed_numbers_and_spares_the_rest() -> None:
    assert typed_numbers("Adam reached 97.8 % accuracy.") == [
        "'97.8 %' in '...Adam reached 97.8 % accuracy....'"
    ]
    assert typed_numbers("The ratio is 1.5x, see below.")
    assert typed_numbers("with beta2 = 0.999 the correction fades")
    assert typed_numbers("Adam's accuracy was 91 % after one epoch.")
    spared = (
        "Adam reached {glue:text}`ch4_acc:.1f` % with $\\beta_2 = 0.999$ and `lr=1e-3`; "
        "see §6.1 and section 4.2.\n\n"
        "Kingma & Ba report 1.5x faster convergence {cite:p}`kingma2015`.\n\n"
        "$$\n\\alpha = 0.001\n$$\n\n```python\nx = 0.5\n```\n\n(sec-2.1)=\n"
    )
    assert typed_numbers(spared) == []
    in_directives = (
        "```{admonition} Key takeaways\nAdam ends 2.5 points ahead.\n```\n\n"
        "```{solution} ex-1\n:class: dropdown\n\n~~~python\nstats.t.ppf(0.975, 4)\n~~~\n\n"
        "The answer is {glue:text}`n`.\n```\n"
    )
    assert typed_numbers(in_directives) == ["'2.5' in '...Adam ends 2.5 points ahead....'"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_measured_number_is_typed_into_the_prose(page: Path) -> None:
    found = typed_numbers(markdown_of(page))
    assert not found, (
        f"{page.relative_to(ROOT)} types measured-looking numbers into its prose; glue them "
        "from the cell that computes them ({glue:text}), or write constants as math/code:\n  "
        + "\n  ".join(found)
    )


OPTLIB_NAME = re.compile(r"`(optlib(?:\.\w+)+)")


def resolves(dotted: str) -> bool:
    """Whether ``optlib.a.b.c`` names an importable module or an attribute of one."""
    import importlib

    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                target = getattr(target, attribute)
        except AttributeError:
            return False
        return True
    return False


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_optlib_name_the_prose_gives_exists(page: Path) -> None:
    """A reader who looks up `optlib.training.fit` from the prose finds it: no stale names."""
    names = sorted(set(OPTLIB_NAME.findall(markdown_of(page))))
    stale = [name for name in names if not resolves(name)]
    assert not stale, f"{page.relative_to(ROOT)} names what optlib does not have: {stale}"
