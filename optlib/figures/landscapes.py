"""Figures of the toy problems (:mod:`optlib.problems`): contours with trajectories and loss-gap
curves. (Paths a reader can steer are Plotly figures: :mod:`optlib.figures.interactive`.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from optlib.figures.style import label, line_style
from optlib.problems.driver import Trajectory, gaps
from optlib.problems.landscapes import Landscape


def _grid(landscape: Landscape, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = np.linspace(*landscape.x_range, resolution)
    ys = np.linspace(*landscape.y_range, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    gap = landscape.value(np.stack([grid_x, grid_y], axis=-1)) - landscape.min_value
    return grid_x, grid_y, gap


def plot_landscape(
    ax: Axes, landscape: Landscape, *, levels: int = 14, resolution: int = 200
) -> None:
    """Contours of the loss gap (log-spaced levels), the minimizers (stars) and the start (dot)."""
    grid_x, grid_y, gap = _grid(landscape, resolution)
    positive = gap[gap > 0]
    low = max(float(np.percentile(positive, 0.5)), 1e-4)
    contour_levels = np.geomspace(low, float(np.max(gap)), levels)
    ax.contour(grid_x, grid_y, gap, levels=contour_levels, colors="0.6", linewidths=0.6)
    ax.plot(*landscape.minimizers.T, "*", color="black", markersize=10, zorder=5)
    ax.plot(*landscape.start, "o", color="black", markersize=4, zorder=5)
    ax.set_xlim(*landscape.x_range)
    ax.set_ylim(*landscape.y_range)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    ax.set_title(landscape.title)
    ax.grid(False)


def plot_trajectories(
    ax: Axes,
    landscape: Landscape,
    trajectories: Sequence[Trajectory],
    *,
    names: Mapping[str, str] | None = None,
    linewidth: float = 1.4,
) -> None:
    """The landscape's contours with each trajectory drawn in its optimizer's book colour."""
    plot_landscape(ax, landscape)
    for path in trajectories:
        shown = names.get(path.optimizer, label(path.optimizer)) if names else label(path.optimizer)
        drawn = {**line_style(path.optimizer), "label": shown, "markersize": 4}
        ax.plot(*path.points.T, linewidth=linewidth, alpha=0.9, **drawn)


def plot_gaps(
    ax: Axes,
    landscape: Landscape,
    trajectories: Sequence[Trajectory],
    *,
    tol: float | None = None,
    floor: float = 1e-16,
) -> None:
    r"""Loss gap :math:`f(\theta_t) - f^\star` against step, log scale, one line per optimizer."""
    for path in trajectories:
        ax.semilogy(
            np.maximum(gaps(path, landscape.min_value), floor),
            linewidth=1.4,
            **line_style(path.optimizer),
        )
    if tol is not None:
        ax.axhline(tol, color="black", linestyle=":", linewidth=1)
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"loss gap $f(\theta_t) - f^\star$")
    ax.set_title(landscape.title)
