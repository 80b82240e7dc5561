"""Figures of training runs: loss curves, learning-rate sensitivity, paired accuracies.

Every line takes its optimizer's colour, marker and dash from :mod:`optlib.figures.style`;
labels the palette does not know get matplotlib's next colour and are shown as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from optlib.figures.style import Style, style
from optlib.training.results import (
    RunRecord,
    epoch_curve,
    group_by_optimizer,
    training_loss_curve,
)
from optlib.training.tuning import TuningResult


def _style(name: str, algorithm: str | None = None) -> Style:
    """The palette's style of ``name`` (else of ``algorithm``); unknown: no colour, solid."""
    for candidate in (name, algorithm):
        if candidate is not None:
            try:
                return style(candidate)._replace(label=_known_label(name))
            except KeyError:
                pass
    return Style(None, "o", "-", name)


def _known_label(name: str) -> str:
    try:
        return style(name).label
    except KeyError:
        return name


def plot_lr_sensitivity(ax: Axes, tunings: Sequence[TuningResult]) -> None:
    """Validation loss against learning rate (log axis), mean ± std over seeds; a star marks the
    chosen learning rate. Diverged learning rates are left out of the line."""
    for result in tunings:
        chosen = _style(result.optimizer)
        lrs = np.asarray(result.lrs)
        mean = np.asarray(result.mean_val_loss)
        std = np.nan_to_num(np.asarray(result.std_val_loss))
        finite = np.isfinite(mean)
        ax.errorbar(
            lrs[finite],
            mean[finite],
            yerr=std[finite],
            color=chosen.color,
            linestyle=chosen.dash,
            marker=chosen.marker,
            markersize=4,
            capsize=3,
            label=chosen.label,
        )
        best = int(np.argmin(mean))
        ax.plot(lrs[best], mean[best], marker="*", markersize=15, color=chosen.color, zorder=3)
    epochs = {result.epochs for result in tunings}
    if len(epochs) == 1:
        n_epochs = epochs.pop()
        after = f"after {n_epochs} epoch{'s' if n_epochs != 1 else ''}"
    else:
        after = "at the end of tuning"
    ax.set(
        xscale="log",
        xlabel="learning rate (base step size α)",
        ylabel=f"validation loss {after} (nats)",
    )
    ax.legend()


def plot_loss_curves(
    ax: Axes, runs: Sequence[RunRecord], *, window: int | None = None, log_scale: bool = True
) -> dict[str, str]:
    """Minibatch training loss (window means), mean ± std over seeds, one line per label;
    returns each label's colour.

    The shaded band is ± one standard deviation over seeds; ``window`` defaults to about 20
    points per epoch (see :func:`optlib.training.results.training_loss_curve`). Diverged runs are
    left out of the mean and band: each is drawn as an ✕ at its last recorded loss, and the
    legend says how many diverged.
    """
    colors = {}
    for label, every_run in group_by_optimizer(runs).items():
        chosen = _style(label, every_run[0].algorithm)
        group = [run for run in every_run if not run.diverged]
        diverged = [run for run in every_run if run.diverged]
        note = f"; {len(diverged)} diverged, left out" if diverged else ""
        color = chosen.color
        if group:
            color = _plot_mean_loss(ax, group, window, chosen, note)
        for index, run in enumerate(diverged):
            if run.train_loss:
                ax.plot(
                    (len(run.train_loss) - 1) / max(1, run.steps_per_epoch),
                    run.train_loss[-1],
                    marker="X",
                    markersize=9,
                    linestyle="none",
                    color=color,
                    label="_nolegend_" if group or index else f"{chosen.label}: all diverged",
                )
                color = ax.get_lines()[-1].get_color()
        colors[label] = color
    ax.set(xlabel="epoch", ylabel="training loss (minibatch, nats)")
    if log_scale:
        ax.set_yscale("log")
    ax.legend()
    return colors


def _plot_mean_loss(
    ax: Axes, group: Sequence[RunRecord], window: int | None, chosen: Style, note: str
) -> str:
    """One label's mean training-loss line and ± std band; returns the colour used."""
    curve = training_loss_curve(group, window)
    seeds = "1 seed" if len(group) == 1 else f"{len(group)} seeds"
    (line,) = ax.plot(
        curve.x,
        curve.mean,
        color=chosen.color,
        linestyle=chosen.dash,
        marker=chosen.marker,
        markevery=0.1,
        markersize=5,
        label=f"{chosen.label} ({seeds}{note})",
    )
    ax.fill_between(
        curve.x,
        curve.mean - curve.std,
        curve.mean + curve.std,
        color=line.get_color(),
        alpha=0.2,
        linewidth=0,
    )
    return line.get_color()


def plot_paired_accuracy(ax: Axes, runs: Sequence[RunRecord]) -> None:
    """Final test accuracy of every run, one column per optimizer label, read seed by seed.

    A grey line joins the runs of one seed, which started from the same weights and saw the same
    minibatches, so the comparison can be read as paired differences; a bar with an error bar
    shows each label's mean ± std over seeds. Runs without a test accuracy, and diverged runs,
    are skipped.
    """
    groups = {
        label: [run for run in group if run.test_accuracy is not None and not run.diverged]
        for label, group in group_by_optimizer(runs).items()
    }
    groups = {label: group for label, group in groups.items() if group}
    if not groups:
        raise ValueError("plot_paired_accuracy needs runs with a test accuracy")
    labels = list(groups)
    seeds = sorted({run.seed for group in groups.values() for run in group})
    for seed in seeds:
        by_label = {
            label: next((r.test_accuracy for r in groups[label] if r.seed == seed), None)
            for label in labels
        }
        xs = [i for i, label in enumerate(labels) if by_label[label] is not None]
        ys = [100 * by_label[labels[i]] for i in xs]
        ax.plot(xs, ys, color="0.75", linewidth=1, zorder=1)
    for i, label in enumerate(labels):
        chosen = _style(label)
        values = 100 * np.array([run.test_accuracy for run in groups[label]])
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.scatter(np.full(len(values), i), values, color=chosen.color, zorder=3, s=25)
        ax.errorbar(
            i + 0.15,
            values.mean(),
            yerr=std,
            color=chosen.color,
            marker="D",
            capsize=4,
            zorder=3,
        )
    ax.set_xticks(range(len(labels)), [_style(label).label for label in labels])
    ax.set_xlim(-0.5, len(labels) - 0.5)
    ax.set(ylabel="test accuracy (%)")


def plot_runs(runs: Sequence[RunRecord], *, title: str | None = None) -> Figure:
    """Two panels: training loss per step (:func:`plot_loss_curves`) and test accuracy per
    epoch, mean ± std over seeds; diverged runs are marked on the first and left out of both
    means."""
    groups = group_by_optimizer(runs)
    if not groups:
        raise ValueError("plot_runs needs at least one run")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    colors = plot_loss_curves(ax_loss, runs)
    ax_loss.set_title("Training loss (minibatch, window mean)")
    for label, every_run in groups.items():
        group = [run for run in every_run if not run.diverged]  # told in the loss legend
        if group and all(run.epoch_test_accuracy for run in group):
            acc = epoch_curve(group, "epoch_test_accuracy")
            chosen = _style(label, group[0].algorithm)
            ax_acc.errorbar(
                acc.x,
                100 * acc.mean,
                yerr=100 * acc.std,
                color=colors[label],
                marker=chosen.marker,
                linestyle=chosen.dash,
                capsize=3,
                label=chosen.label,
            )
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ax_acc.has_data():
        ax_acc.legend()
    if title:
        fig.suptitle(title)
    return fig
