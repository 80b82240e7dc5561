r"""Chapter 4's figures (paired differences across seeds are
:func:`optlib.training.report.paired_difference`).

* :func:`plot_loss_curves`, :func:`plot_loss_differences` and :func:`plot_paired_differences`
  draw the chapter's figures in the book's palette (:func:`optlib.figures.style`: every line its
  own colour *and* marker *and* dash, so the four lines of the Kingma & Ba protocol, two of them
  Adagrad, stay apart at a glance and in greyscale); legends go below the axes, off the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from optlib import figures
from optlib.training import RunRecord, group_by_optimizer, training_loss_curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from optlib.training.report import PairedDifference


__all__ = [
    "legend_below",
    "plot_loss_curves",
    "plot_loss_differences",
    "plot_paired_differences",
]


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------
def legend_below(ax: Axes, ncol: int = 2) -> None:
    """The legend of ``ax`` centred under its x-axis label, off the data."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, frameon=False)


def plot_loss_curves(ax: Axes, runs: Sequence[RunRecord], *, window: int | None = None) -> None:
    """Minibatch training loss (window means, log scale), mean ± std over seeds, one styled
    line per run label (markers at every fourth point, staggered between lines). No legend: see
    :func:`legend_below`."""
    for index, (label, group) in enumerate(group_by_optimizer(runs).items()):
        style = figures.style(label)
        curve = training_loss_curve(group, window)
        ax.plot(
            curve.x,
            curve.mean,
            color=style.color,
            linestyle=style.dash,
            marker=style.marker,
            markevery=(index % 4, 4),  # staggered, so lines that coincide still show
            markersize=5,
            label=f"{style.label} ({len(group)} seeds)",
        )
        ax.fill_between(
            curve.x, curve.mean - curve.std, curve.mean + curve.std, color=style.color, alpha=0.2
        )
    ax.set(xlabel="epoch", ylabel="training loss (nats)", yscale="log")


def plot_loss_differences(
    ax: Axes, runs: Sequence[RunRecord], reference: str, *, window: int | None = None
) -> None:
    """Each label's training loss minus ``reference``'s, seed by seed (same initial weights and
    minibatches), then mean ± std over seeds: curves that coincide in :func:`plot_loss_curves`
    separate here. The reference is the zero line."""
    groups = group_by_optimizer(runs)
    if reference not in groups:
        raise ValueError(f"Invalid reference: {reference!r}; labels are {', '.join(groups)}")
    reference_by_seed = {run.seed: run for run in groups[reference]}
    ax.axhline(
        0.0,
        color=figures.style(reference).color,
        linewidth=1.5,
        label=figures.style(reference).label,
    )
    for index, (label, group) in enumerate(groups.items()):
        if label == reference:
            continue
        style = figures.style(label)
        own = training_loss_curve(group, window)
        paired = [
            training_loss_curve([run], window).mean
            - training_loss_curve([reference_by_seed[run.seed]], window).mean
            for run in group
        ]
        n = min(len(own.x), *(len(values) for values in paired))
        paired = [values[:n] for values in paired]
        mean = np.mean(paired, axis=0)
        std = np.std(paired, axis=0, ddof=1) if len(paired) > 1 else np.zeros(n)
        ax.plot(
            own.x[:n],
            mean,
            color=style.color,
            linestyle=style.dash,
            marker=style.marker,
            markevery=(index % 4, 4),
            markersize=5,
            label=style.label,
        )
        ax.fill_between(own.x[:n], mean - std, mean + std, color=style.color, alpha=0.2)
    ax.set(xlabel="epoch", ylabel=f"loss minus {figures.style(reference).label} (nats)")


def plot_paired_differences(
    ax: Axes, differences: Sequence[float], summary: PairedDifference, *, unit: str
) -> None:
    """One dot per seed for a paired difference, the mean with its confidence interval beside
    them, and the zero line: a difference plot, so no run hides under another."""
    values = np.asarray(differences, dtype=float)
    ax.axhline(0.0, color="0.4", linewidth=1)
    ax.scatter(np.zeros(len(values)), values, color="0.2", zorder=3, label="one seed")
    ax.errorbar(
        [0.4],
        [summary.mean],
        yerr=[[summary.mean - summary.low], [summary.high - summary.mean]],
        color="0.2",
        marker="D",
        capsize=5,
        label=f"mean, {summary.confidence:.0%} interval",
    )
    ax.set_xlim(-0.5, 0.9)
    ax.set_xticks([])
    ax.set_ylabel(unit)
