"""Executable claims: every number the book's prose states is computed, then checked here.

``claim(condition, statement, **values)`` raises :class:`ClaimError` (an ``AssertionError``)
with the statement and the values when the condition is false, so a change that breaks the story
fails the build. When the condition holds it shows a visible check line, in the executed notebook
and in the HTML book, so readers see what was checked and with which numbers:

>>> claim(0.978 > 0.97, "Adam's test accuracy exceeds 97%", accuracy=0.978)
✔ Checked: Adam's test accuracy exceeds 97% (accuracy = 0.978)
"""

from __future__ import annotations

import html
import math
import numbers
from typing import Any, NamedTuple


class ClaimError(AssertionError):
    """A claim the book makes did not hold."""


def format_value(value: Any) -> str:
    """A short, readable rendering of a number (4 significant digits), or ``repr`` otherwise."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # 0-d tensors and NumPy scalars
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return repr(number) if not math.isfinite(number) else f"{number:.4g}"
    return repr(value)


class Check(NamedTuple):
    """A claim that held: the statement and the values it was checked with."""

    statement: str
    values: dict[str, Any]

    def details(self) -> str:
        """The values as ``name = value`` pairs."""
        return ", ".join(f"{name} = {format_value(value)}" for name, value in self.values.items())

    def __str__(self) -> str:
        details = f" ({self.details()})" if self.values else ""
        return f"✔ Checked: {self.statement}{details}"

    def _repr_html_(self) -> str:
        details = (
            f' <span style="opacity:0.75">({html.escape(self.details())})</span>'
            if self.values
            else ""
        )
        return (
            '<div class="optlib-claim" style="border-left:4px solid #2e7d32;background:#edf7ee;'
            "padding:0.3em 0.7em;margin:0.2em 0;font-family:var(--pst-font-family-monospace,"
            'monospace);font-size:0.9em">'
            f"✔ Checked: {html.escape(self.statement)}{details}</div>"
        )


def _show(check: Check) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency of the book
        print(check)
        return
    if get_ipython() is None:
        print(check)
    else:
        display(check)


def claim(condition: Any, statement: str, **values: Any) -> None:
    """Check that ``condition`` holds for the ``statement`` the prose makes; show or raise.

    ``values`` are the numbers behind the statement (shown either way). ``condition`` may be a
    Python, NumPy or one-element torch boolean.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError(f"Invalid statement: {statement!r} (expected a non-empty string)")
    check = Check(statement, dict(values))
    if not bool(condition):
        details = f" ({check.details()})" if values else ""
        raise ClaimError(f"Claim failed: {statement}{details}")
    _show(check)


def glue(name: str, value: Any, *, display: bool = False) -> None:
    """Hand a measured number to the prose: myst-nb's ``glue``, with NumPy and torch scalars
    turned into Python numbers first.

    The prose then writes ``{glue:text}`name:.2f```. The conversion matters: NumPy 2 prints a
    scalar as ``np.float64(0.5)``, which myst-nb cannot format as a number.
    """
    from myst_nb import glue as myst_nb_glue

    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # 0-d tensors and NumPy scalars
    myst_nb_glue(name, value, display=display)
