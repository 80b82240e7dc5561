r"""Chapter 3 and optlib.rules state the same equations: the book and the code cannot drift apart.

Every labelled ``{math}`` block of chapter 3 whose label is not chapter-local (``eq-ch3-...``)
belongs to one function of :mod:`optlib.rules`: the first function, in source order, whose
docstring's first line names the label with an ``:eq:`` role (e.g. ``adagrad_accumulate`` for
``eq-adagrad-accumulate``; ``adagrad_update`` names it too, but comes later). That function's
``.. math::`` block must be the notebook's LaTeX, up to whitespace. Conversely, every label a
docstring of ``optlib.rules`` refers to must be defined in the chapter.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import nbformat
import pytest

from optlib import rules

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "03_algorithms_and_math.ipynb"
EQ_ROLE = re.compile(r":eq:`([^`]+)`")
FENCE = re.compile(r"^(`{3,}|:{3,})\{math\}\s*$")
LOCAL_PREFIX = "eq-ch3-"


def normalize(latex: str) -> str:
    """Collapse every run of whitespace to one space."""
    return " ".join(latex.split())


def notebook_equations(path: Path = CHAPTER) -> dict[str, str]:
    """``{label: latex}`` of every labelled ``{math}`` block in the notebook's markdown cells."""
    notebook = nbformat.read(path, as_version=4)
    equations: dict[str, str] = {}
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        index = 0
        while index < len(lines):
            opening = FENCE.match(lines[index].strip())
            index += 1
            if not opening:
                continue
            fence = opening.group(1)
            label, body = None, []
            while index < len(lines) and lines[index].strip() != fence:
                line = lines[index].strip()
                if not body and line.startswith(":label:"):
                    label = line.removeprefix(":label:").strip()
                elif not body and line.startswith(":"):
                    pass  # another directive option
                else:
                    body.append(lines[index])
                index += 1
            index += 1  # the closing fence
            if label is not None:
                assert label not in equations, f"label {label} is defined twice in {path.name}"
                equations[label] = "\n".join(body).strip()
    return equations


def docstring_math(docstring: str) -> str | None:
    """The LaTeX of the first ``.. math::`` directive: its line plus indented continuations."""
    lines = docstring.splitlines()
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        if not stripped.startswith(".. math::"):
            continue
        indent = len(line) - len(stripped)
        body = [stripped.removeprefix(".. math::").strip()]
        for following in lines[index + 1 :]:
            if not following.strip():
                if body != [""]:
                    break
                continue  # a directive whose content starts on the next lines
            if len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following.strip())
        return "\n".join(part for part in body if part)
    return None


def rules_functions() -> list:
    """The functions defined in optlib.rules, in source order."""
    functions = [
        function
        for _, function in inspect.getmembers(rules, inspect.isfunction)
        if function.__module__ == rules.__name__
    ]
    return sorted(functions, key=lambda function: inspect.getsourcelines(function)[1])


def label_owners() -> dict[str, object]:
    """``{label: function}``: the first function whose docstring's first line names the label."""
    owners: dict[str, object] = {}
    for function in rules_functions():
        first_line = (inspect.getdoc(function) or "").splitlines()[0]
        for label in EQ_ROLE.findall(first_line):
            owners.setdefault(label, function)
    return owners


def referenced_labels() -> set[str]:
    """Every label named by an ``:eq:`` role anywhere in optlib.rules' docstrings."""
    documented = [rules] + [
        member
        for _, member in inspect.getmembers(rules)
        if (inspect.isfunction(member) or inspect.isclass(member))
        and member.__module__ == rules.__name__
    ]
    return {label for item in documented for label in EQ_ROLE.findall(inspect.getdoc(item) or "")}


EQUATIONS = notebook_equations()
OWNERS = label_owners()


def test_the_parsers_find_what_they_should():
    assert len(EQUATIONS) >= 8
    assert OWNERS["eq-adagrad-accumulate"] is rules.adagrad_accumulate
    assert OWNERS["eq-adagrad-update"] is rules.adagrad_step
    assert OWNERS["eq-decoupled-decay"] is rules.decoupled_decay
    assert docstring_math("Intro.\n\n.. math:: a = b\n          + c\n\nText") == "a = b\n+ c"
    assert docstring_math(".. math::\n\n   x = 1\n   + y\n\nText") == "x = 1\n+ y"
    assert docstring_math("No equation here.") is None


@pytest.mark.parametrize("label", sorted(OWNERS))
def test_every_rule_equation_is_stated_in_the_chapter_with_the_same_latex(label):
    function = OWNERS[label]
    code_latex = docstring_math(inspect.getdoc(function))
    assert code_latex, f"{function.__name__} names {label} but has no '.. math::' block"
    assert label in EQUATIONS, f"chapter 3 defines no equation labelled {label}"
    assert normalize(EQUATIONS[label]) == normalize(code_latex), (
        f"{label}: chapter 3 and optlib.rules.{function.__name__} differ\n"
        f"  chapter: {normalize(EQUATIONS[label])}\n  code:    {normalize(code_latex)}"
    )


def test_every_label_referenced_by_the_code_is_defined_in_the_chapter():
    missing = sorted(referenced_labels() - set(EQUATIONS))
    assert not missing, f"optlib.rules refers to labels chapter 3 does not define: {missing}"


def test_every_shared_label_in_the_chapter_belongs_to_a_rule():
    shared = {label for label in EQUATIONS if not label.startswith(LOCAL_PREFIX)}
    orphans = sorted(shared - set(OWNERS))
    assert not orphans, (
        f"chapter 3 labels {orphans} are neither chapter-local ({LOCAL_PREFIX}...) nor owned by "
        "a function of optlib.rules"
    )
