"""Sliders over precomputed traces: each trace says at which slider positions it is shown.

A figure is the plain dictionary ``{"data": [...], "layout": {...}}`` that plotly.js reads
(:data:`Figure`). A trace's ``meta`` says at which slider positions it is shown:
``{"slider": {"0": i, "2": k}}`` is slider 0 at step ``i`` and slider 2 at step ``k``, whatever
slider 1 says (:func:`keyed`). :func:`add_sliders` puts the sliders under the plot;
:data:`SLIDERS_JS`, a dozen lines run in the page, shows exactly the traces that match every
slider, and :func:`visible_at` is its Python twin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

Figure = dict[str, Any]
"""A Plotly figure as plotly.js reads it: ``{"data": [trace, ...], "layout": {...}}``."""


class Slider(NamedTuple):
    """A slider over the values of one hyperparameter; ``default`` indexes the first view."""

    name: str  # shown before the value, e.g. "β₂"
    values: tuple[float, ...]
    default: int = 0


def slider_index(values: Sequence[float], value: float) -> int:
    """The position of ``value`` in ``values`` (relative tolerance 1e-9), or ``ValueError``."""
    for i, candidate in enumerate(values):
        if math.isclose(candidate, value, rel_tol=1e-9):
            return i
    raise ValueError(f"Invalid value: {value!r} is not one of the slider values {tuple(values)}")


def keyed(trace: dict[str, Any], *positions: int | None) -> dict[str, Any]:
    """``trace``, shown only where slider ``k`` is at ``positions[k]`` (``None``: any position).

    >>> keyed({"type": "scatter"}, 2, None, 0)["meta"]
    {'slider': {'0': 2, '2': 0}}
    """
    at = {str(k): int(i) for k, i in enumerate(positions) if i is not None}
    return {**trace, "meta": {"slider": at}}


def add_sliders(fig: Figure, sliders: Sequence[Slider], *, y: float) -> Figure:
    """Put ``sliders`` side by side under the plot (at paper height ``y``) and set every trace's
    visibility to the first view.

    Slider steps do nothing themselves (``method="skip"``): :data:`SLIDERS_JS` listens to the
    sliders and shows the traces whose ``meta["slider"]`` matches every position.
    """
    width = 1.0 / len(sliders)
    layout_sliders = []
    for k, slider in enumerate(sliders):
        if not 0 <= slider.default < len(slider.values):
            raise ValueError(f"Invalid default for slider {slider.name!r}: {slider.default}")
        layout_sliders.append(
            {
                "active": slider.default,
                "x": k * width + 0.02,
                "len": width - 0.04,
                "y": y,
                "yanchor": "top",
                "pad": {"t": 0, "b": 0},
                "currentvalue": {"prefix": f"{slider.name} = ", "font": {"size": 13}},
                "font": {"size": 11},
                "steps": [{"method": "skip", "label": f"{v:g}", "args": []} for v in slider.values],
            }
        )
    fig["layout"]["sliders"] = layout_sliders
    for trace, shown in zip(fig["data"], visible_at(fig), strict=True):
        trace["visible"] = shown
    return fig


def visible_at(fig: Figure, positions: Sequence[int] | None = None) -> list[bool]:
    """Which traces the page shows with the sliders at ``positions`` (default: the first view).

    The Python twin of :data:`SLIDERS_JS`; a trace without ``meta["slider"]`` is always shown.
    """
    if positions is None:
        positions = [slider["active"] for slider in fig["layout"].get("sliders", ())]
    return [
        all(positions[int(k)] == i for k, i in trace.get("meta", {}).get("slider", {}).items())
        for trace in fig["data"]
    ]


SLIDERS_JS = """
function optlibConnectSliders(gd) {
  function show() {
    var active = (gd.layout.sliders || []).map(function (s) { return s.active || 0; });
    var visible = gd.data.map(function (trace) {
      var at = (trace.meta && trace.meta.slider) || {};
      return Object.keys(at).every(function (k) { return at[k] === active[Number(k)]; });
    });
    Plotly.restyle(gd, {visible: visible});
  }
  gd.on("plotly_sliderchange", show);
}
"""
"""The page's half of :func:`add_sliders`: on every slider move, show the matching traces."""
