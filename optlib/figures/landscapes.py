"""Figures of the toy problems (:mod:`optlib.problems`): contours with trajectories, loss-gap
curves, and an animation of trajectories drawing themselves, with a self-contained HTML player
for the built book (:func:`animation_html`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation
from matplotlib.axes import Axes

from optlib.figures.style import color, label, line_style
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


def frame_steps(steps: int, frames: int) -> np.ndarray:
    """``frames`` step indices from 0 to ``steps``, denser early on (where most happens)."""
    if frames < 2:
        raise ValueError(f"Invalid frames: {frames!r} (expected >= 2)")
    return np.unique(np.round(np.linspace(0.0, 1.0, frames) ** 2 * steps).astype(int))


def animate_trajectories(
    panels: Sequence[tuple[Landscape, Sequence[Trajectory]]],
    *,
    frames: int = 48,
    figsize: tuple[float, float] = (8.0, 3.4),
    dpi: int = 72,
    interval_ms: int = 120,
) -> animation.FuncAnimation:
    """An animation of trajectories drawing themselves, one panel per landscape.

    Play it in a notebook or the HTML book with ``IPython.display.HTML(anim.to_jshtml())``
    (no kernel needed: every frame is embedded). The figure is closed, so only the animation shows.
    """
    if not panels:
        raise ValueError("Invalid panels: expected at least one (landscape, trajectories) pair")
    n_steps = min(len(path.points) - 1 for _, paths in panels for path in paths)
    schedule = frame_steps(n_steps, frames)
    fig, axes = plt.subplots(1, len(panels), figsize=figsize, dpi=dpi, squeeze=False)
    artists = []
    for ax, (landscape, paths) in zip(axes[0], panels, strict=True):
        plot_landscape(ax, landscape, levels=10, resolution=120)
        for path in paths:
            (trail,) = ax.plot([], [], "-", color=color(path.optimizer), linewidth=1.4)
            (head,) = ax.plot([], [], "o", color=color(path.optimizer), markersize=5)
            artists.append((path, trail, head))
    handles = [plt.Line2D([], [], color=color(p.optimizer), lw=2) for p in panels[0][1]]
    fig.legend(handles, [label(p.optimizer) for p in panels[0][1]], loc="lower center", ncol=5)
    counter = fig.suptitle("")
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))

    def draw(frame: int) -> list[Any]:
        step = int(schedule[frame])
        for path, trail, head in artists:
            shown = path.points[: step + 1]
            shown = shown[np.all(np.isfinite(shown), axis=1)]
            trail.set_data(shown[:, 0], shown[:, 1])
            head.set_data(shown[-1:, 0], shown[-1:, 1])
        counter.set_text(f"step {step}")
        return [artist for _, trail, head in artists for artist in (trail, head)] + [counter]

    anim = animation.FuncAnimation(fig, draw, frames=len(schedule), interval=interval_ms)
    plt.close(fig)
    return anim


def animation_html(
    animation,
    *,
    fps: float | None = None,
    scale: float = 2.0,
    frame_format: str = "png",
    jpeg_quality: int = 60,
    default_mode: str = "once",
):
    """An animation as a self-contained HTML player that plays in the built book, offline.

    The player is matplotlib's ``HTMLWriter`` (every frame embedded, no kernel needed). Frames are
    rendered at ``scale`` times the figure's resolution and shown at its nominal size (crisp on
    high-density screens); ``frame_format="jpeg"`` keeps contour plots several times lighter than
    PNG. Matplotlib's link to an icon font on a CDN is dropped, so the page loads nothing from the
    network (the book's theme already ships the icons).
    """
    import re
    import tempfile
    from pathlib import Path

    from IPython.display import HTML
    from matplotlib.animation import HTMLWriter

    if frame_format not in ("png", "jpeg"):
        raise ValueError(f"Invalid frame_format: {frame_format!r} (expected 'png' or 'jpeg')")
    if not 1 <= jpeg_quality <= 95:
        raise ValueError(f"Invalid jpeg_quality: {jpeg_quality!r} (expected 1..95)")
    if not scale > 0:
        raise ValueError(f"Invalid scale: {scale!r} (expected > 0)")
    figure = animation._fig
    fps = fps if fps is not None else 1000.0 / animation._interval
    savefig_kwargs = {"pil_kwargs": {"quality": jpeg_quality}} if frame_format == "jpeg" else {}
    with (
        tempfile.TemporaryDirectory() as folder,
        mpl.rc_context({"animation.frame_format": frame_format, "animation.embed_limit": 20.0}),
    ):
        writer = HTMLWriter(fps=fps, embed_frames=True, default_mode=default_mode)
        path = Path(folder, "animation.html")
        animation.save(
            str(path), writer=writer, dpi=scale * figure.dpi, savefig_kwargs=savefig_kwargs
        )
        html = path.read_text()
    html = re.sub(r"<link rel=\"stylesheet\"[^>]*>", "", html, count=1)
    width = round(figure.get_figwidth() * figure.dpi)
    html = html.replace("<img id=", f'<img style="width:{width}px;max-width:100%" id=', 1)
    return HTML(html)
