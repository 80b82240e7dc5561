"""The book's three interactive figures, built from precomputed data.

* :func:`landscape_explorer` -- Adam and Adagrad on the test functions, sliders for α, β₁ and
  β₂ (chapter 2; the paths of :func:`optlib.problems.landscape_paths`);
* :func:`forgetting_explorer` -- forgetting a gradient spike, sliders for β₂ and the spike's
  step (chapter 3; the rates of :func:`optlib.book.ch03.forgetting_rates`);
* :func:`lr_study` -- training curves, a slider over the learning rate (chapter 4; the curves of
  :func:`optlib.training.results.lr_curves`).

Every grid point is its own trace, shown at its slider positions (:mod:`.sliders`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from optlib import problems
from optlib.figures.interactive.sliders import Figure, Slider, add_sliders, keyed, slider_index
from optlib.figures.interactive.style import base_layout, line
from optlib.figures.style import color, label
from optlib.training.results import LrCurve

if TYPE_CHECKING:  # chapter 3's data; the book layer sits above the figures
    from optlib.book.ch03 import ForgettingGrid

# --------------------------------------------------------------------------------------------
# Figure 1: Adam and Adagrad on the test functions, sliders for α, β₁ and β₂
# --------------------------------------------------------------------------------------------


def landscape_explorer(
    grids: Sequence[problems.PathGrid], *, lr: float, beta1: float = 0.9, beta2: float = 0.999
) -> Figure:
    """Adam and Adagrad on each landscape of ``grids`` (one panel each), with sliders for the
    step size (Adam's α and Adagrad's η, the same number), β₁ and β₂ (Adam's only).

    ``lr``, ``beta1`` and ``beta2`` choose the first view. The grids share their slider values.
    """
    first = grids[0]
    if any((g.lrs, g.beta1s, g.beta2s) != (first.lrs, first.beta1s, first.beta2s) for g in grids):
        raise ValueError("Invalid grids: every landscape needs the same slider values")
    sliders = [
        Slider("α = η", first.lrs, slider_index(first.lrs, lr)),
        Slider("β₁", first.beta1s, slider_index(first.beta1s, beta1)),
        Slider("β₂", first.beta2s, slider_index(first.beta2s, beta2)),
    ]
    data, axes, titles = [], {}, []
    gap = 0.08
    width = (1.0 - gap * (len(grids) - 1)) / len(grids)
    for n, grid in enumerate(grids):
        x_name, y_name = ("x", "y") if n == 0 else (f"x{n + 1}", f"y{n + 1}")
        land, on = grid.landscape, {"xaxis": x_name, "yaxis": y_name}
        legend = n == 0  # one legend entry per name, from the first panel
        data.append({**_contour(land), **on})
        data += [keyed({**_path("adagrad", p, legend), **on}, i) for i, p in grid.adagrad.items()]
        data += [keyed({**_path("adam", p, legend), **on}, *ijk) for ijk, p in grid.adam.items()]
        data.append({**_points("start", land.start[None, :], "circle", 8, legend), **on})
        data.append({**_points("minimum", land.minimizers, "star", 12, legend), **on})
        left = n * (width + gap)
        axes[f"xaxis{n + 1 if n else ''}"] = {
            "domain": [left, left + width],
            "range": list(land.x_range),
            "title": {"text": "x"},
            "anchor": y_name,
        }
        axes[f"yaxis{n + 1 if n else ''}"] = {
            "range": list(land.y_range),
            "title": {"text": "y", "standoff": 2},
            "anchor": x_name,
        }
        titles.append(_title(land.title, left + width / 2))
    layout = {
        **base_layout(480, {"l": 45, "r": 10, "t": 80, "b": 120}, **axes),
        "annotations": titles,
    }
    layout["legend"]["y"] = 1.1
    return add_sliders({"data": data, "layout": layout}, sliders, y=-0.22)


def _title(text: str, x: float) -> dict[str, Any]:
    return {
        "text": text,
        "x": x,
        "y": 1.0,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 13},
    }


def _contour(landscape: problems.Landscape, resolution: int = 60) -> dict[str, Any]:
    """The landscape's level sets: a line at every half decade of the gap f - f*."""
    x = np.linspace(*landscape.x_range, resolution)
    y = np.linspace(*landscape.y_range, resolution)
    gap = landscape.value(np.stack(np.meshgrid(x, y), axis=-1)) - landscape.min_value
    return {
        "type": "contour",
        "x": x,
        "y": y,
        "z": np.log10(np.maximum(gap, 1e-12)),
        "contours": {"coloring": "lines", "start": -3, "end": 4, "size": 0.5},
        "line": {"width": 0.6},
        "colorscale": [[0, "#c8c8c8"], [1, "#c8c8c8"]],
        "showscale": False,
        "hoverinfo": "skip",
        "showlegend": False,
    }


def _path(name: str, path: problems.Trajectory, showlegend: bool) -> dict[str, Any]:
    return {
        "type": "scatter",
        "x": path.points[:, 0],
        "y": path.points[:, 1],
        "mode": "lines",
        "name": label(name),
        "legendgroup": name,
        "showlegend": showlegend,
        "hovertemplate": f"{label(name)}, step %{{pointNumber}}<extra></extra>",
        **line(name),
    }


def _points(name: str, points: np.ndarray, symbol: str, size: int, showlegend: bool) -> dict:
    return {
        "type": "scatter",
        "x": points[:, 0],
        "y": points[:, 1],
        "mode": "markers",
        "marker": {"color": "black", "size": size, "symbol": symbol},
        "name": name,
        "showlegend": showlegend,
        "hoverinfo": "skip",
    }


# --------------------------------------------------------------------------------------------
# Figure 2: forgetting a gradient spike, sliders for β₂ and the spike's step
# --------------------------------------------------------------------------------------------


def shown_steps(steps: int, spike_step: int, points: int = 150) -> np.ndarray:
    """The steps drawn: log-spaced from 1 to ``steps``, and every step from just before the
    spike to 40 after it (where a small β₂ forgets it)."""
    spread = np.geomspace(1, steps, points).round().astype(int)
    near = np.arange(max(1, spike_step - 1), min(spike_step + 40, steps) + 1)
    return np.unique(np.concatenate([spread, near]))


FORGETTING_NAMES = {"adagrad": "Adagrad", "amsgrad": "AMSGrad (torch.optim)", "adam": "Adam"}


def forgetting_explorer(
    grid: ForgettingGrid, *, beta2: float = 0.999, spike_step: int | None = None
) -> Figure:
    """The effective learning rate of the coordinate that saw the spike, over the steps, with
    sliders for β₂ and for the spike's step. Adagrad's (no β₂) never recovers."""
    sliders = [
        Slider("β₂", grid.beta2s, slider_index(grid.beta2s, beta2)),
        Slider(
            "spike at step",
            tuple(float(s) for s in grid.spike_steps),
            0 if spike_step is None else slider_index(grid.spike_steps, spike_step),
        ),
    ]
    n_steps = grid.rates["adagrad"].shape[-1]
    data = []
    for j, spike_at in enumerate(grid.spike_steps):
        t = shown_steps(n_steps, spike_at)
        data.append(keyed(_rate("adagrad", t, grid.rates["adagrad"][j]), None, j))
        for name in ("amsgrad", "adam"):
            data += [
                keyed(_rate(name, t, grid.rates[name][k, j]), k, j) for k in range(len(grid.beta2s))
            ]
    layout = base_layout(
        430,
        {"l": 60, "r": 10, "t": 40, "b": 110},
        xaxis={"type": "log", "title": {"text": "step t"}},
        yaxis={"type": "log", "title": {"text": "effective learning rate / step size"}},
    )
    return add_sliders({"data": data, "layout": layout}, sliders, y=-0.27)


def _rate(name: str, t: np.ndarray, rate: np.ndarray) -> dict[str, Any]:
    return {
        "type": "scatter",
        "x": t,
        "y": rate[t - 1],
        "mode": "lines",
        "name": FORGETTING_NAMES[name],
        "legendgroup": name,
        "hovertemplate": f"{FORGETTING_NAMES[name]}: %{{y:.3g}} at step %{{x}}<extra></extra>",
        **line(name),
    }


# --------------------------------------------------------------------------------------------
# Figure 3: the learning-rate study, a slider over the learning rate
# --------------------------------------------------------------------------------------------


def lr_study(
    curves: Sequence[LrCurve],
    *,
    lr: float | None = None,
    best_lrs: Mapping[str, float] | None = None,
) -> Figure:
    """Every optimizer's training curve at the learning rate the slider picks: mean over seeds,
    band ± one std. ``best_lrs`` (optimizer -> its chosen rate) is marked in the legend; an
    optimizer without runs at a rate has no line there and no legend entry."""
    lrs = tuple(sorted({c.lr for c in curves}))
    data, finite = [], []
    for c in curves:
        i = lrs.index(c.lr)
        x, mean, std = c.curve.x, c.curve.mean, c.curve.std
        name = label(c.optimizer)
        if math.isclose((best_lrs or {}).get(c.optimizer, math.nan), c.lr, rel_tol=1e-9):
            name += ", its chosen lr"
        name += f" ({c.curve.n_runs} seeds)" if c.curve.n_runs else ": diverged"
        band = {
            "type": "scatter",
            "x": np.concatenate([x, x[::-1]]),
            "y": np.concatenate([mean + std, (mean - std)[::-1]]),
            "fill": "toself",
            "fillcolor": color(c.optimizer),
            "opacity": 0.2,
            "line": {"width": 0},
            "hoverinfo": "skip",
            "showlegend": False,
            "legendgroup": c.optimizer,
        }
        mean_line = {
            "type": "scatter",
            "x": x,
            "y": mean,
            "mode": "lines+markers",
            "name": name,
            "legendgroup": c.optimizer,
            "hovertemplate": f"{label(c.optimizer)}: %{{y:.3f}} at epoch %{{x:.2f}}<extra></extra>",
            **line(c.optimizer),
        }
        data += [keyed(band, i), keyed(mean_line, i)]
        finite += [float(v) for v in mean if np.isfinite(v) and v > 0]
    low, high = (min(finite), max(finite)) if finite else (0.01, 10.0)
    layout = base_layout(
        420,
        {"l": 60, "r": 10, "t": 40, "b": 100},
        xaxis={"title": {"text": "epoch"}},
        yaxis={
            "type": "log",
            "dtick": "D2",  # labels at 2 and 5 too: the curves span less than a decade
            "title": {"text": "training loss"},
            "range": [math.log10(low) - 0.05, math.log10(high) + 0.05],
        },
    )
    default = 0 if lr is None else slider_index(lrs, lr)
    return add_sliders({"data": data, "layout": layout}, [Slider("lr", lrs, default)], y=-0.25)
