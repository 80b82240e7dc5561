"""The book's look in Plotly's terms: every optimizer keeps its colour, marker, dash and name
(:mod:`optlib.figures.style`), so no two lines differ by colour alone, here as in the matplotlib
figures; :func:`base_layout` is the look of every interactive figure."""

from __future__ import annotations

from typing import Any

from optlib.figures.style import style

MARKERS = {
    "o": "circle",
    "s": "square",
    "^": "triangle-up",
    "v": "triangle-down",
    "<": "triangle-left",
    ">": "triangle-right",
    "D": "diamond",
    "d": "diamond-tall",
    "X": "x",
    "*": "star",
    "h": "hexagon",
    "H": "hexagon2",
    "p": "pentagon",
    "8": "octagon",
}
DASHES = {"-": "solid", "--": "dash", ":": "dot", "-.": "dashdot"}
LINE_WIDTH = 2


def plotly_dash(dash: str | tuple[float, tuple[float, ...]]) -> str:
    """A matplotlib line style as Plotly's ``line.dash``: a name, or dash lengths in pixels
    (matplotlib's are in line widths).

    >>> plotly_dash("--"), plotly_dash((0, (6, 2)))
    ('dash', '12px,4px')
    """
    if isinstance(dash, str):
        return DASHES[dash]
    return ",".join(f"{length * LINE_WIDTH:g}px" for length in dash[1])


def line(name: str) -> dict[str, Any]:
    """The ``line`` and ``marker`` of ``name``'s traces: its book colour, dash and marker."""
    look = style(name)
    return {
        "line": {"color": look.color, "dash": plotly_dash(look.dash), "width": LINE_WIDTH},
        "marker": {"color": look.color, "symbol": MARKERS.get(look.marker, "circle"), "size": 6},
    }


def base_layout(height: int, margin: dict[str, int], **axes: Any) -> dict[str, Any]:
    """The book's look; ``axes`` are ``xaxis=...``, ``yaxis2=...`` (log axes: decades only)."""
    for axis in axes.values():
        if axis.get("type") == "log":
            axis.setdefault("dtick", 1)
    return {
        "template": "simple_white",
        "height": height,
        "margin": margin,
        "font": {"size": 12},
        "hovermode": "closest",
        "legend": {"orientation": "h", "x": 0.0, "y": 1.0, "yanchor": "bottom"},
        **{name: {"zeroline": False, **axis} for name, axis in axes.items()},
    }
