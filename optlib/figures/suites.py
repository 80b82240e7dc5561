"""Figures and the table of a full-budget suite (:mod:`optlib.book.suites`), read from its
results file: final test accuracy seed by seed, paired differences with confidence intervals,
validation-loss curves, and :func:`suite_table`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from optlib.figures.runs import _style, plot_paired_accuracy
from optlib.figures.tables import Table, table
from optlib.training.report import OptimizerSummary, PairedDifference
from optlib.training.results import RunRecord, epoch_curve, group_by_optimizer

__all__ = [
    "plot_final_accuracy",
    "plot_suite_differences",
    "plot_val_loss_curves",
    "suite_table",
]

plot_final_accuracy = plot_paired_accuracy
"""Final test accuracy of every run, seeds as points joined seed by seed, mean ± std beside."""


def _mean_std(values: tuple[float, float], scale: float, digits: int) -> str:
    mean, std = values
    if math.isnan(mean):
        return "n/a"
    shown = f"{mean * scale:.{digits}f}"
    return shown if math.isnan(std) else f"{shown} ± {std * scale:.{digits}f}"


def _interval(difference: PairedDifference | None, scale: float, digits: int) -> str:
    if difference is None:
        return "(reference)"
    return (
        f"{difference.mean * scale:+.{digits}f} "
        f"[{difference.low * scale:+.{digits}f}, {difference.high * scale:+.{digits}f}]"
    )


def suite_table(rows: Sequence[OptimizerSummary], *, target: float | None) -> Table:
    """One row per optimizer: tuned learning rate, runs and status, test accuracy (%) and final
    validation loss (mean ± std over seeds), paired differences against the reference with 95 %
    intervals, and steps and seconds to the validation-loss ``target`` (mean over the runs that
    reached it, and how many did)."""

    def reached(row: OptimizerSummary, values: tuple[float, float], digits: int) -> str:
        if not row.n_reached:
            return "not reached"
        shown = _mean_std(values, 1, digits)
        return shown if row.n_reached == row.n_runs else f"{shown} ({row.n_reached} reached)"

    headers = [
        "optimizer",
        "lr",
        "runs",
        "test accuracy (%)",
        "Δ accuracy vs ref. (points, 95 % CI)",
        "final val. loss",
        "Δ val. loss vs ref. (95 % CI)",
    ]
    if target is not None:
        headers += [f"steps to val. loss {target:g}", f"seconds to val. loss {target:g}"]
    cells = []
    for row in rows:
        line = [
            _style(row.optimizer).label,
            ", ".join(f"{lr:g}" for lr in row.lrs),
            str(row.n_runs) if row.status == "ok" else f"{row.n_runs}; {row.status}",
            _mean_std(row.test_accuracy, 100, 2),
            _interval(row.accuracy_vs_reference, 100, 2),
            _mean_std(row.val_loss, 1, 4),
            _interval(row.val_loss_vs_reference, 1, 4),
        ]
        if target is not None:
            line += [reached(row, row.steps_to_target, 0), reached(row, row.seconds_to_target, 1)]
        cells.append(line)
    return table(cells, headers=headers)


def plot_suite_differences(
    ax: Axes, rows: Sequence[OptimizerSummary], *, metric: str = "accuracy"
) -> None:
    """Paired difference against the reference, one row per optimizer: the mean and its 95 %
    confidence interval; ``metric`` is ``"accuracy"`` (test accuracy, points) or
    ``"val_loss"`` (final validation loss, nats). A vertical line marks no difference."""
    if metric not in ("accuracy", "val_loss"):
        raise ValueError(f"Invalid metric: {metric!r}; expected 'accuracy' or 'val_loss'")
    scale = 100.0 if metric == "accuracy" else 1.0
    shown = [
        (row, getattr(row, f"{metric}_vs_reference"))
        for row in rows
        if getattr(row, f"{metric}_vs_reference") is not None
    ]
    if not shown:
        raise ValueError("plot_suite_differences needs rows with paired differences")
    for y, (row, difference) in enumerate(shown):
        chosen = _style(row.optimizer)
        ax.errorbar(
            scale * difference.mean,
            y,
            xerr=[
                [scale * (difference.mean - difference.low)],
                [scale * (difference.high - difference.mean)],
            ],
            color=chosen.color,
            marker=chosen.marker,
            capsize=4,
            linestyle="none",
        )
    ax.axvline(0.0, color="0.4", linewidth=1)
    ax.set_yticks(range(len(shown)), [_style(row.optimizer).label for row, _ in shown])
    ax.set_ylim(len(shown) - 0.5, -0.5)  # top to bottom in the table's order
    unit = "percentage points" if metric == "accuracy" else "nats"
    what = "test accuracy" if metric == "accuracy" else "final validation loss"
    ax.set_xlabel(f"{what} minus the reference's, same seed ({unit}; 95 % CI)")


def plot_val_loss_curves(
    ax: Axes, runs: Sequence[RunRecord], *, target: float | None = None
) -> None:
    """Validation loss after every epoch, mean ± std over seeds (diverged runs left out); a
    dotted line marks the report's ``target``."""
    for label, every_run in group_by_optimizer(runs).items():
        group = [run for run in every_run if not run.diverged and run.epoch_val_loss]
        if not group:
            continue
        curve = epoch_curve(group, "epoch_val_loss")
        chosen = _style(label, group[0].algorithm)
        ax.plot(
            curve.x,
            curve.mean,
            color=chosen.color,
            marker=chosen.marker,
            linestyle=chosen.dash,
            markevery=max(1, len(curve.x) // 8),
            markersize=5,
            label=chosen.label,
        )
        ax.fill_between(
            curve.x, curve.mean - curve.std, curve.mean + curve.std, color=chosen.color, alpha=0.2
        )
    if target is not None:
        ax.axhline(target, color="0.3", linestyle=":", linewidth=1, label=f"target {target:g}")
    ax.set(xlabel="epoch", ylabel="validation loss (nats)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    if ax.has_data():
        ax.legend()
