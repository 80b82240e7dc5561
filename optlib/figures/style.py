"""One look for every figure in the book: each optimizer has one colour, one marker and one dash.

Colours are Okabe-Ito / Tol colour-blind-safe hues; the marker and the dash pattern tell the lines
apart in greyscale print too. A reader who learned "Adam is the vermilion solid line with crosses"
in chapter 2 reads chapter 4's curves without the legend. Draw a line with
``ax.plot(x, y, **line_style("adam"))``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import matplotlib as mpl


class Style(NamedTuple):
    """How one optimizer is drawn and named everywhere in the book."""

    color: str
    marker: str
    dash: str | tuple[float, tuple[float, ...]]  # a matplotlib linestyle
    label: str


STYLES: dict[str, Style] = {
    "sgd": Style("#555555", "o", ":", "SGD"),
    "momentum": Style("#009E73", "s", "-.", "SGD + momentum"),
    "nesterov": Style("#56B4E9", "^", (0, (5, 2, 1, 2, 1, 2)), "SGD + Nesterov"),
    "adagrad": Style("#0072B2", "D", "--", "Adagrad"),
    "adagrad-decayed": Style("#332288", "d", (0, (1, 1)), "Adagrad, α/√t"),
    "adagrad-optax": Style("#DDCC77", "H", (0, (3, 3)), "Adagrad (optax: G₀ = 0.1, ε in the root)"),
    "adagrad-d2l": Style("#661100", "8", (0, (6, 1, 1, 1, 1, 1)), "Adagrad (d2l: ε in the root)"),
    "rmsprop": Style("#E69F00", "v", (0, (3, 1, 1, 1)), "RMSprop"),
    "adadelta": Style("#999933", "<", (0, (5, 5)), "Adadelta"),
    "adam": Style("#D55E00", "X", "-", "Adam"),
    "amsgrad": Style("#882255", "*", (0, (6, 2)), "AMSGrad"),
    "adamw": Style("#CC79A7", "h", (0, (8, 2, 2, 2)), "AdamW"),
    "nelder-mead": Style("#117733", ">", (0, (2, 3)), "Nelder–Mead"),
    "cma-es": Style("#44AA99", "p", (0, (4, 2, 1, 2)), "CMA-ES"),
    # Chapter 4's protocol of Kingma & Ba (2015, section 6.1): step size alpha / sqrt(t).
    "adam-decayed": Style("#D55E00", "X", "-", "Adam, α/√t"),
    "nesterov-decayed": Style("#56B4E9", "^", (0, (5, 2, 1, 2, 1, 2)), "SGD + Nesterov, α/√t"),
    "adagrad-constant": Style("#0072B2", "D", "--", "Adagrad, constant α"),
    "adamw-decayed": Style("#CC79A7", "h", (0, (8, 2, 2, 2)), "AdamW, α/√t"),
    "rmsprop-decayed": Style("#E69F00", "v", (0, (3, 1, 1, 1)), "RMSprop, α/√t"),
}
"""Every optimizer the book draws. Colours, markers and dash patterns are all distinct, except
that a protocol label (``"adam-decayed"``, ...) looks like its optimizer (``tests/test_figures.py``
checks it)."""

COLORS: dict[str, str] = {name: style.color for name, style in STYLES.items()}
LABELS: dict[str, str] = {name: style.label for name, style in STYLES.items()}

_ALIASES = {
    "sgdmomentum": "momentum",
    "heavyball": "momentum",
    "sgdnesterov": "nesterov",
    "nag": "nesterov",
    "adamamsgrad": "amsgrad",
    "neldermead": "nelder-mead",
    "cmaes": "cma-es",
}


def canonical_name(name: str) -> str:
    """The palette key for an optimizer name: ``"SGD + Momentum"`` -> ``"momentum"``."""
    key = name.strip().lower()
    if key in STYLES:
        return key
    squashed = "".join(ch for ch in key if ch.isalnum())
    key = _ALIASES.get(squashed, squashed)
    if key not in STYLES:
        raise KeyError(f"No style for optimizer {name!r}; known: {', '.join(STYLES)}")
    return key


def style(name: str) -> Style:
    """The book-wide :class:`Style` of the optimizer called ``name``."""
    return STYLES[canonical_name(name)]


def color(name: str) -> str:
    """The book-wide colour of the optimizer called ``name``."""
    return style(name).color


def label(name: str) -> str:
    """The display name of the optimizer called ``name`` (e.g. ``"adagrad"`` -> ``"Adagrad"``)."""
    return style(name).label


def line_style(
    name: str, *, markevery: float | int | None = 0.1, **overrides: Any
) -> dict[str, Any]:
    """Keyword arguments for ``ax.plot``: colour, marker, dash and label of ``name``, then
    ``overrides`` (e.g. ``markersize=4``, ``label="Adam, lr 0.1"``).

    ``markevery=0.1`` spaces the markers a tenth of the axes apart, however many points the line
    has; ``None`` marks every point.
    """
    chosen = style(name)
    return {
        "color": chosen.color,
        "marker": chosen.marker,
        "linestyle": chosen.dash,
        "label": chosen.label,
        "markevery": markevery,
        "markersize": 5,
        **overrides,
    }


BOOK_RC: dict[str, Any] = {
    "figure.figsize": (6.4, 3.8),
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
}
"""The book's matplotlib settings. Figures are 6.4 in wide, about the book's text column, so they
show at nominal size and no text is smaller than 9 pt (tick labels, legends)."""


def use_book_style() -> None:
    """The book's matplotlib look, and crisp (retina) figures when running in a notebook."""
    mpl.rcParams.update(BOOK_RC)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # pragma: no cover
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")
