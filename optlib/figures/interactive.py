r"""Interactive figures for the HTML book: Plotly sliders over precomputed runs, no kernel.

A reader moves a slider and the curves change, in the built book, offline. Each figure is built
in two steps that the tests check separately:

1. a **data** function runs optlib's pure rules when the chapter executes, over a small grid of
   slider values: :func:`landscape_paths` with :func:`optlib.problems.run_on`,
   :func:`forgetting_rates` with :func:`optlib.problems.replay_states` (the drivers and rules
   the tests check); :func:`lr_curves` takes training runs, live from a chapter's tuning or
   stored in a results file;
2. a **figure** function draws every grid point as its own trace of a Plotly figure, kept as
   the plain dictionary ``{"data": [...], "layout": {...}}`` that plotly.js reads
   (``plotly.graph_objects.Figure(fig)`` validates it; the tests do). A trace's ``meta`` says
   at which slider positions it is shown: ``{"slider": {"0": i, "2": k}}`` is slider 0 at step
   ``i`` and slider 2 at step ``k``, whatever slider 1 says. :data:`SLIDERS_JS`, a dozen lines
   run in the page, shows exactly the traces that match every slider; :func:`visible_at` is its
   Python twin.

:func:`show` puts a figure in a cell's output as HTML *without* plotly.js: the book serves one
copy of the bundle from its own ``_static`` folder on the pages that need it
(``_ext/plotly_offline.py``). Beside each figure goes a still PNG of its first view
(:func:`still_png`), shown in print and wherever plotly.js is missing (a notebook opened outside
the book).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from optlib import problems
from optlib.figures import color, label, style
from optlib.problems import replay_states
from optlib.training import RunRecord, training_loss_curve
from optlib.training.results import Curve

Figure = dict[str, Any]
"""A Plotly figure as plotly.js reads it: ``{"data": [trace, ...], "layout": {...}}``."""

# --------------------------------------------------------------------------------------------
# Sliders: one per hyperparameter; each trace is shown at the slider positions it belongs to
# --------------------------------------------------------------------------------------------


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


# Every optimizer keeps its book colour, marker, dash and name (optlib.figures.style), in Plotly's
# terms: no two lines differ by colour alone, here as in the matplotlib figures.
_MARKERS = {
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
_DASHES = {"-": "solid", "--": "dash", ":": "dot", "-.": "dashdot"}
LINE_WIDTH = 2


def plotly_dash(dash: str | tuple[float, tuple[float, ...]]) -> str:
    """A matplotlib line style as Plotly's ``line.dash``: a name, or dash lengths in pixels
    (matplotlib's are in line widths).

    >>> plotly_dash("--"), plotly_dash((0, (6, 2)))
    ('dash', '12px,4px')
    """
    if isinstance(dash, str):
        return _DASHES[dash]
    return ",".join(f"{length * LINE_WIDTH:g}px" for length in dash[1])


def _line(name: str) -> dict[str, Any]:
    look = style(name)
    return {
        "line": {"color": look.color, "dash": plotly_dash(look.dash), "width": LINE_WIDTH},
        "marker": {"color": look.color, "symbol": _MARKERS.get(look.marker, "circle"), "size": 6},
    }


def _layout(height: int, margin: dict[str, int], **axes: Any) -> dict[str, Any]:
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


# --------------------------------------------------------------------------------------------
# Figure 1: Adam and Adagrad on the test functions, sliders for α, β₁ and β₂
# --------------------------------------------------------------------------------------------


class PathGrid(NamedTuple):
    """Adam's and Adagrad's paths on one landscape at every grid point of the sliders.

    ``adam[i, j, k]`` ran with ``lrs[i]``, ``beta1s[j]``, ``beta2s[k]``; ``adagrad[i]`` with
    ``lrs[i]`` (Adagrad has no β). Everything else is PyTorch's default.
    """

    landscape: problems.Landscape
    lrs: tuple[float, ...]
    beta1s: tuple[float, ...]
    beta2s: tuple[float, ...]
    adam: dict[tuple[int, int, int], problems.Trajectory]
    adagrad: dict[int, problems.Trajectory]


def landscape_paths(
    landscape: problems.Landscape,
    *,
    lrs: Sequence[float],
    beta1s: Sequence[float],
    beta2s: Sequence[float],
    steps: int,
) -> PathGrid:
    """Adam at every (α, β₁, β₂) and Adagrad at every η = α of the grid, ``steps`` steps each
    from the landscape's start (:func:`optlib.problems.run_on`)."""
    lrs, beta1s, beta2s = (tuple(float(v) for v in values) for values in (lrs, beta1s, beta2s))
    adam = {
        (i, j, k): problems.run_on(landscape, "adam", lr=lr, steps=steps, betas=(b1, b2))
        for i, lr in enumerate(lrs)
        for j, b1 in enumerate(beta1s)
        for k, b2 in enumerate(beta2s)
    }
    adagrad = {
        i: problems.run_on(landscape, "adagrad", lr=lr, steps=steps) for i, lr in enumerate(lrs)
    }
    return PathGrid(landscape, lrs, beta1s, beta2s, adam, adagrad)


def landscape_explorer(
    grids: Sequence[PathGrid], *, lr: float, beta1: float = 0.9, beta2: float = 0.999
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
    layout = {**_layout(480, {"l": 45, "r": 10, "t": 80, "b": 120}, **axes), "annotations": titles}
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
        **_line(name),
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


class ForgettingGrid(NamedTuple):
    """Effective learning rates per unit step size along a stream of unit gradients with one
    spike, for every β₂ and spike step of the sliders.

    ``rates["adam"]`` and ``rates["amsgrad"]`` have shape ``(len(beta2s), len(spike_steps),
    steps)``, ``rates["adagrad"]`` ``(len(spike_steps), steps)``; index ``t - 1`` is step ``t``.
    """

    beta2s: tuple[float, ...]
    spike_steps: tuple[int, ...]
    spike: float
    rates: dict[str, np.ndarray]


def spike_stream(steps: int, spike_steps: Sequence[int], spike: float) -> np.ndarray:
    """Unit gradients, one column per spike step, with ``spike`` at that step (1-based)."""
    grads = np.ones((steps, len(spike_steps)))
    for column, step in enumerate(spike_steps):
        if not 1 <= step <= steps:
            raise ValueError(f"Invalid spike step: {step} (expected 1 ... {steps})")
        grads[step - 1, column] = spike
    return grads


def effective_rate(state: Any, *, beta2: float, eps: float) -> np.ndarray:
    r"""What a rule's state multiplies the (averaged) gradient by, per unit step size:
    :math:`1/(\sqrt{G_t}+\epsilon)` for Adagrad, :math:`1/(\sqrt{v_t/(1-\beta_2^t)}+\epsilon)`
    for Adam, and the same with :math:`v^{\max}_t` for AMSGrad (torch.optim's form)."""
    if hasattr(state, "sum_sq"):
        return 1.0 / (np.sqrt(state.sum_sq) + eps)
    second = state.exp_avg_sq if state.max_exp_avg_sq is None else state.max_exp_avg_sq
    return 1.0 / (np.sqrt(second / (1.0 - beta2**state.step)) + eps)


def rule_rates(optimizer: str, grads: np.ndarray, **hyper: Any) -> np.ndarray:
    """:func:`effective_rate` at every step of ``optimizer``'s rule (a key of
    :data:`optlib.problems.METHODS`) fed the gradient stream ``grads`` (steps x columns),
    with step size 1 and PyTorch's defaults unless ``hyper`` says otherwise."""
    method = problems.method(optimizer)
    settings = {**method.hyper, **hyper}
    eps = settings.get("eps", 1e-10 if optimizer == "adagrad" else 1e-8)
    beta2 = settings.get("betas", (0.9, 0.999))[1]
    zeros = np.zeros(grads.shape[1:])
    states = replay_states(method.update, method.init(zeros), grads, zeros, lr=1.0, **settings)
    return np.array([effective_rate(state, beta2=beta2, eps=eps) for _, state in states])


def forgetting_rates(
    *, beta2s: Sequence[float], spike_steps: Sequence[int], steps: int, spike: float = 100.0
) -> ForgettingGrid:
    """Adam's, AMSGrad's and Adagrad's effective rates along :func:`spike_stream` with
    :func:`rule_rates`; every spike step runs at once, one column each (β₁ = 0.9)."""
    beta2s, spike_steps = tuple(float(b) for b in beta2s), tuple(int(s) for s in spike_steps)
    grads = spike_stream(steps, spike_steps, spike)
    rates = {
        name: np.stack([rule_rates(name, grads, betas=(0.9, b2)).T for b2 in beta2s])
        for name in ("adam", "amsgrad")
    }
    rates["adagrad"] = rule_rates("adagrad", grads).T
    return ForgettingGrid(beta2s, spike_steps, float(spike), rates)


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
    layout = _layout(
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
        **_line(name),
    }


# --------------------------------------------------------------------------------------------
# Figure 3: the learning-rate study, a slider over the learning rate
# --------------------------------------------------------------------------------------------


class LrCurve(NamedTuple):
    """An optimizer's training-loss curve at one learning rate, mean ± std over seeds."""

    optimizer: str
    lr: float
    curve: Curve  # x in epochs; n_runs == 0 when every run at this rate diverged


def lr_curves(
    runs: Iterable[RunRecord | Mapping[str, Any]], *, window: int | None = None
) -> list[LrCurve]:
    """Group runs (records, or their dictionaries from a results file) by optimizer and
    learning rate: each group's minibatch training loss, mean ± std over its seeds, in windows
    of ``window`` steps (:func:`optlib.training.training_loss_curve`) or, when every run of
    the group comes from a results file that keeps one mean per epoch
    (``train_loss_epoch_mean``, the full-budget suites), per epoch. Diverged runs are left out
    (:func:`_diverged`)."""
    groups: dict[tuple[str, float], list[tuple[RunRecord, list | None]]] = defaultdict(list)
    for run in runs:
        epoch_means = run.get("train_loss_epoch_mean") if isinstance(run, Mapping) else None
        record = RunRecord.from_dict(run) if isinstance(run, Mapping) else run
        groups[record.optimizer, float(record.lr)].append((record, epoch_means))
    curves = []
    for (optimizer, lr), group in sorted(groups.items()):
        finished = [(run, means) for run, means in group if not _diverged(run)]
        if finished and all(means for _, means in finished):
            curve = _epoch_curve([means for _, means in finished])
        elif finished:
            curve = training_loss_curve([run for run, _ in finished], window)
        else:
            curve = Curve(np.array([]), np.array([]), np.array([]), 0)
        curves.append(LrCurve(optimizer, lr, curve))
    return curves


def _epoch_curve(epoch_means: Sequence[Sequence[float]]) -> Curve:
    """Mean ± std over runs of per-epoch mean losses, at the middle of each epoch."""
    n = min(len(means) for means in epoch_means)
    values = np.array([means[:n] for means in epoch_means], dtype=float)
    std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(n)
    return Curve(np.arange(n) + 0.5, values.mean(axis=0), std, len(values))


def _diverged(run: RunRecord) -> bool:
    """A run whose curve cannot join its group's mean: marked ``"diverged"``, a non-finite
    loss, or one a sweep stopped recording mid-epoch (more losses than finished steps: the
    sweep stops a run at its first non-finite loss and counts steps at epoch ends). A results
    file's record may keep fewer losses than steps (only the first ones); that is not a
    divergence."""
    losses = np.asarray(run.train_loss, dtype=float)
    return (
        run.status == "diverged"
        or run.steps == 0
        or len(losses) > run.steps
        or not np.all(np.isfinite(losses))
    )


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
            **_line(c.optimizer),
        }
        data += [keyed(band, i), keyed(mean_line, i)]
        finite += [float(v) for v in mean if np.isfinite(v) and v > 0]
    low, high = (min(finite), max(finite)) if finite else (0.01, 10.0)
    layout = _layout(
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


# --------------------------------------------------------------------------------------------
# Into the page: HTML without plotly.js, and a still image
# --------------------------------------------------------------------------------------------


def to_json(fig: Figure) -> str:
    """The figure as JSON for plotly.js; NumPy arrays become base64 float32 typed arrays (a
    third of the bytes of printed decimals, precision far below a pixel; NaN stays a gap)."""

    def encode(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            data = np.ascontiguousarray(value, dtype="<f4")
            spec = {"dtype": "f4", "bdata": base64.b64encode(data.tobytes()).decode("ascii")}
            return {**spec, "shape": ",".join(map(str, data.shape))} if data.ndim > 1 else spec
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"Invalid figure value: {type(value).__name__} is not JSON")

    return json.dumps(fig, default=encode, separators=(",", ":"), ensure_ascii=False)


_CSS = (
    ".optlib-interactive .optlib-still{display:none;max-width:100%}"
    ".optlib-interactive.optlib-no-js .optlib-still{display:block}"
    ".optlib-interactive.optlib-no-js .plotly-graph-div{display:none}"
    "@media print{.optlib-interactive .optlib-still{display:block}"
    ".optlib-interactive .plotly-graph-div{display:none}}"
)


def to_html(fig: Figure, *, alt: str) -> str:
    """The figure as an HTML fragment: a div that plotly.js (loaded by the page, not embedded
    here) draws and wires to its sliders, and a still PNG with ``alt`` text, shown in print or
    when the page has no plotly.js."""
    spec = to_json(fig)
    plot_id = "optlib-" + hashlib.sha256(spec.encode()).hexdigest()[:12]
    still = base64.b64encode(still_png(fig)).decode("ascii")
    height = int(fig["layout"].get("height", 450))
    config = json.dumps({"responsive": True, "displayModeBar": False})
    return (
        f'<div class="optlib-interactive" id="{plot_id}-box"><style>{_CSS}</style>'
        f'<div id="{plot_id}" class="plotly-graph-div" style="height:{height}px;width:100%">'
        f'</div><img class="optlib-still" alt="{html.escape(alt)}" '
        f'src="data:image/png;base64,{still}"><script>(function () {{{SLIDERS_JS}'
        f'var box = document.getElementById("{plot_id}-box");'
        f'if (!window.Plotly) {{ box.classList.add("optlib-no-js"); return; }}'
        f"var spec = {spec};"
        f'Plotly.newPlot("{plot_id}", spec.data, spec.layout, {config})'
        f".then(optlibConnectSliders);}})();</script></div>"
    )


class Interactive(NamedTuple):
    """A figure as a cell's output: Jupyter and myst-nb render its HTML (:func:`to_html`)."""

    html: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<interactive figure, {len(self.html):,} bytes of HTML>"


def show(fig: Figure, *, alt: str) -> Interactive:
    """Display ``fig`` as a cell's output (end the cell with ``show(fig, alt=...)``)."""
    return Interactive(to_html(fig, alt=alt))


# The still image: the figure's first view, drawn with matplotlib.
_MPL_DASH = {name: dash for dash, name in _DASHES.items()}
_MPL_MARKER = {symbol: marker for marker, symbol in _MARKERS.items()}


def _mpl_dash(dash: str) -> str | tuple[float, tuple[float, ...]]:
    """:func:`plotly_dash` undone, for the still image."""
    if dash in _MPL_DASH:
        return _MPL_DASH[dash]
    return (0, tuple(float(length.removesuffix("px")) / LINE_WIDTH for length in dash.split(",")))


def still_png(fig: Figure, *, width_in: float = 7.0, dpi: int = 100) -> bytes:
    """A PNG of the traces the figure shows first (:func:`visible_at`), with its panel titles,
    axis titles, ranges and log scales: one matplotlib panel per Plotly x axis."""
    from matplotlib.figure import Figure as MplFigure

    layout = fig["layout"]
    shown = [t for t, on in zip(fig["data"], visible_at(fig), strict=True) if on]
    axis_names = sorted({t.get("xaxis", "x") for t in fig["data"]}, key=lambda a: int(a[1:] or 1))
    still = MplFigure(figsize=(width_in, width_in * layout.get("height", 450) / 900))
    axes = still.subplots(1, len(axis_names), squeeze=False)[0]
    titles = [a["text"] for a in layout.get("annotations", ())]
    for n, (ax, name) in enumerate(zip(axes, axis_names, strict=True)):
        for trace in shown:
            if trace.get("xaxis", "x") == name:
                _draw(ax, trace)
        for which, axis in (
            ("x", layout.get(f"xaxis{name[1:]}", {})),
            ("y", layout.get(f"yaxis{name[1:]}", {})),
        ):
            log = axis.get("type") == "log"
            getattr(ax, f"set_{which}scale")("log" if log else "linear")
            getattr(ax, f"set_{which}label")(axis.get("title", {}).get("text", ""))
            if "range" in axis:
                getattr(ax, f"set_{which}lim")(*(10.0**v if log else v for v in axis["range"]))
        if len(titles) == len(axis_names):
            ax.set_title(titles[n], fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        still.legend(
            handles,
            labels,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.82),
            ncol=min(3, len(labels)),
            frameon=False,
        )
    still.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.8, wspace=0.25)
    buffer = io.BytesIO()
    still.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")  # the legend stays whole
    return buffer.getvalue()


def _draw(ax: Any, trace: dict[str, Any]) -> None:
    if trace["type"] == "contour":
        contours = trace["contours"]
        levels = np.arange(contours["start"], contours["end"] + 1e-9, contours["size"])
        ax.contour(trace["x"], trace["y"], trace["z"], levels=levels, colors="0.8", linewidths=0.6)
        return
    x, y = np.asarray(trace["x"], dtype=float), np.asarray(trace["y"], dtype=float)
    if trace.get("fill") == "toself":
        ax.fill(x, y, color=trace["fillcolor"], alpha=trace.get("opacity", 0.2), linewidth=0)
        return
    mode, line, marker = trace.get("mode", "lines"), trace.get("line", {}), trace.get("marker", {})
    ax.plot(
        x,
        y,
        color=line.get("color", marker.get("color")),
        linestyle=_mpl_dash(line.get("dash", "solid")) if "lines" in mode else "none",
        marker=_MPL_MARKER.get(marker.get("symbol"), "o") if "markers" in mode else None,
        markersize=marker.get("size", 6) * 0.8,
        label=trace.get("name") if trace.get("showlegend", True) else None,
    )
