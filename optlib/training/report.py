r"""What a comparison's results say, over seeds: means, paired differences, time to a target.

:func:`suite_report` summarises the final runs of a results file optimizer by optimizer
(:class:`OptimizerSummary`):

* mean ± sample standard deviation of the final test accuracy and the final validation loss;
* paired differences against a reference optimizer (:func:`paired_difference`): runs of one
  seed start from the same weights and see the same minibatches, so the difference seed by seed
  removes what the seeds share; its Student-*t* confidence interval and the smallest difference
  the experiment could have detected;
* steps and seconds until the validation loss first reaches a target (:func:`time_to_target`),
  at the resolution of the evaluations (after every epoch) and counting training time only;
* a status: diverged runs are counted, shown, and left out of every mean, standard deviation
  and paired difference (a pair with a diverged run is dropped).

:func:`optlib.figures.suites` draws and tabulates it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats

from optlib.training.results import RunRecord, group_by_optimizer

__all__ = [
    "OptimizerSummary",
    "PairedDifference",
    "TimeToTarget",
    "paired_difference",
    "suite_report",
    "time_to_target",
]


class PairedDifference(NamedTuple):
    r"""Differences :math:`d_s = a_s - b_s` over seeds :math:`s = 1..n`, summarised."""

    mean: float
    low: float
    """Lower end of the confidence interval of the mean difference."""
    high: float
    """Upper end of the confidence interval of the mean difference."""
    std: float
    """Sample standard deviation of the differences (``ddof=1``)."""
    n: int
    confidence: float
    detectable: float
    r"""Smallest true mean difference a two-sided paired *t*-test at level ``1 - confidence``
    detects with probability ``power``: :math:`(t_{1-\alpha/2,\,n-1} + t_{\mathrm{power},\,n-1})
    \, s/\sqrt{n}` (the usual approximation, with the observed :math:`s`)."""

    @property
    def detected(self) -> bool:
        """Whether the interval excludes zero."""
        return self.low > 0 or self.high < 0


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95, power: float = 0.8
) -> PairedDifference:
    r"""Mean of ``a[s] - b[s]`` over seeds, its Student-*t* interval and the detectable effect.

    .. math:: \bar d \pm t_{1-\alpha/2,\,n-1}\, \frac{s_d}{\sqrt{n}}, \qquad
              \alpha = 1 - \text{confidence}

    ``a`` and ``b`` must be paired: entry ``s`` of each comes from the same seed.

    >>> result = paired_difference([0.95, 0.96, 0.97], [0.94, 0.96, 0.95])
    >>> round(result.mean, 4), result.low < result.mean < result.high, result.n
    (0.01, True, 3)
    """
    a_values, b_values = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_values.shape != b_values.shape or a_values.ndim != 1:
        raise ValueError(
            f"Invalid pairs: a has shape {a_values.shape}, b has shape {b_values.shape} "
            "(expected two 1-D sequences of the same length, one entry per seed)"
        )
    if len(a_values) < 2:
        raise ValueError(f"Invalid pairs: {len(a_values)} seed(s) (need at least 2)")
    if not 0 < confidence < 1:
        raise ValueError(f"Invalid confidence: {confidence} (expected a number in (0, 1))")
    if not 0 < power < 1:
        raise ValueError(f"Invalid power: {power} (expected a number in (0, 1))")
    differences = a_values - b_values
    n = len(differences)
    mean = float(differences.mean())
    std = float(differences.std(ddof=1))
    standard_error = std / math.sqrt(n)
    t_interval = float(stats.t.ppf(0.5 + confidence / 2, n - 1))
    t_power = float(stats.t.ppf(power, n - 1))
    return PairedDifference(
        mean=mean,
        low=mean - t_interval * standard_error,
        high=mean + t_interval * standard_error,
        std=std,
        n=n,
        confidence=confidence,
        detectable=(t_interval + t_power) * standard_error,
    )


class TimeToTarget(NamedTuple):
    """When a run's validation loss first reached the target (at an evaluation)."""

    steps: int
    """Optimizer steps taken before that evaluation."""
    seconds: float
    """Training time up to that evaluation: the epochs' step time, evaluations excluded."""


def time_to_target(run: RunRecord, target: float) -> TimeToTarget | None:
    """The first evaluation at which ``run``'s validation loss is at most ``target``, or
    ``None`` if none is. The resolution is that of the evaluations (one per epoch in
    :func:`optlib.training.fit`'s default)."""
    for step, loss in zip(run.eval_steps, run.epoch_val_loss, strict=False):
        if loss <= target:
            epochs = math.ceil(step / max(1, run.steps_per_epoch))
            return TimeToTarget(step, float(sum(run.epoch_seconds[:epochs])))
    return None


class OptimizerSummary(NamedTuple):
    """One optimizer's final runs in a comparison, over seeds (diverged runs left out)."""

    optimizer: str
    lrs: tuple[float, ...]
    n_runs: int
    n_diverged: int
    test_accuracy: tuple[float, float]
    """Mean and sample standard deviation (``nan`` with one run) of the final test accuracy."""
    val_loss: tuple[float, float]
    """Mean and sample standard deviation of the final validation loss."""
    accuracy_vs_reference: PairedDifference | None
    """Test accuracy minus the reference's, seed by seed (``None`` for the reference itself, or
    with fewer than two complete pairs)."""
    val_loss_vs_reference: PairedDifference | None
    """Final validation loss minus the reference's, seed by seed."""
    n_reached: int
    """Runs whose validation loss reached the target."""
    steps_to_target: tuple[float, float]
    """Mean and std over the runs that reached the target (``nan`` if none did)."""
    seconds_to_target: tuple[float, float]

    @property
    def status(self) -> str:
        """``"ok"``, or how many runs diverged (left out of the means)."""
        if not self.n_diverged:
            return "ok"
        return f"{self.n_diverged} of {self.n_runs + self.n_diverged} diverged (left out)"


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    std = statistics.stdev(values) if len(values) > 1 else math.nan
    return statistics.fmean(values), std


def _paired(
    runs: Sequence[RunRecord], reference: Sequence[RunRecord], value
) -> PairedDifference | None:
    by_seed = {run.seed: value(run) for run in reference}
    pairs = [(value(run), by_seed[run.seed]) for run in runs if run.seed in by_seed]
    if len(pairs) < 2:
        return None
    return paired_difference([a for a, _ in pairs], [b for _, b in pairs])


def suite_report(
    runs: Sequence[RunRecord], *, reference: str, target: float | None
) -> list[OptimizerSummary]:
    """One :class:`OptimizerSummary` per optimizer label of ``runs`` (final runs: each with a
    test accuracy), in order of first appearance; paired differences against the label
    ``reference``; time to the validation loss ``target`` (skipped if ``None``)."""
    groups = group_by_optimizer(runs)
    if reference not in groups:
        raise ValueError(f"Invalid reference {reference!r}: the runs have {', '.join(groups)}")
    finished = {
        label: [run for run in group if not run.diverged] for label, group in groups.items()
    }
    for label, group in finished.items():
        if any(run.test_accuracy is None or not run.epoch_val_loss for run in group):
            raise ValueError(f"Runs of {label!r} lack a test accuracy or validation loss")
    rows = []
    for label, group in finished.items():
        is_reference = label == reference
        reached = [t for t in (time_to_target(run, target) for run in group) if t] if target else []
        rows.append(
            OptimizerSummary(
                optimizer=label,
                lrs=tuple(sorted({run.lr for run in groups[label]})),
                n_runs=len(group),
                n_diverged=len(groups[label]) - len(group),
                test_accuracy=_mean_std([run.test_accuracy for run in group]),
                val_loss=_mean_std([run.epoch_val_loss[-1] for run in group]),
                accuracy_vs_reference=None
                if is_reference
                else _paired(group, finished[reference], lambda run: run.test_accuracy),
                val_loss_vs_reference=None
                if is_reference
                else _paired(group, finished[reference], lambda run: run.epoch_val_loss[-1]),
                n_reached=len(reached),
                steps_to_target=_mean_std([float(t.steps) for t in reached]),
                seconds_to_target=_mean_std([t.seconds for t in reached]),
            )
        )
    return rows
