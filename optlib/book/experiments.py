r"""Chapter 4's experiments: the source article's mistakes made measurable, and the
logistic-regression protocol of Kingma & Ba (2015, section 6.1).

* :func:`one_step_change` runs the source article's training step, in which *several* optimizers
  step the *same* model after one backward pass, and returns what it did to the parameters; run it
  with one optimizer at a time to see that the shared step is the sum of the separate ones.
* :func:`with_inverse_sqrt_decay` gives any optimizer the step size of the paper's
  logistic-regression experiments, :math:`\alpha_t = \alpha / \sqrt{t}`.
* :data:`KINGMA_BA_OPTIMIZERS` and :func:`kingma_ba_factory` are that experiment's optimizers
  (Adam, SGD with Nesterov momentum, Adagrad), :data:`KINGMA_BA_BATCH_SIZE` its minibatch size.
* :func:`tune_lr_with` is :func:`optlib.train.tune_lr` for optimizers given by a factory (for
  instance one with a step-size schedule); it returns the same :class:`~optlib.train.TuningResult`.
* :func:`plot_lr_sensitivity`, :func:`plot_loss_curves`, :func:`plot_paired_accuracy` and
  :func:`summary_markdown` draw and tabulate the results in the book's palette.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from torch import Tensor, nn
from torch.nn.utils import parameters_to_vector
from torch.optim import Optimizer

from optlib import plotting
from optlib.results import RunRecord, SummaryRow, group_by_optimizer, training_loss_curve
from optlib.train import (
    OptimizerFactory,
    Task,
    TuningResult,
    optimizer_factory,
    tune_lr,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "DECAY_STEPS_KEY",
    "KINGMA_BA_BATCH_SIZE",
    "KINGMA_BA_L2",
    "KINGMA_BA_MOMENTUM",
    "KINGMA_BA_OPTIMIZERS",
    "ProtocolOptimizer",
    "inverse_sqrt_factor",
    "kingma_ba_factory",
    "one_step_change",
    "plot_loss_curves",
    "plot_lr_sensitivity",
    "plot_paired_accuracy",
    "protocol_style",
    "summary_markdown",
    "tune_lr_with",
    "with_inverse_sqrt_decay",
]


# --------------------------------------------------------------------------------------------
# The source article's training step
# --------------------------------------------------------------------------------------------
def one_step_change(
    model: nn.Module,
    factories: Sequence[OptimizerFactory],
    loss_of: Callable[[nn.Module], Tensor],
) -> Tensor:
    r"""Parameter change :math:`\theta_1 - \theta_0` of one training step of the source article's
    loop, in which every optimizer in ``factories`` steps the same model after one backward pass::

        for optimizer in optimizers: optimizer.zero_grad()
        loss_of(model).backward()
        for optimizer in optimizers: optimizer.step()

    ``model`` itself is not modified (a deep copy is trained). Returns the change of all
    parameters, flattened into one vector in ``model.parameters()`` order.

    With a single factory this is one ordinary step. Every optimizer reads the same gradient, so
    when each one's first step depends only on that gradient (Adam, Adagrad and SGD without weight
    decay do), the shared step is the *sum* of the separate steps.
    """
    if not factories:
        raise ValueError("Invalid factories: empty (give at least one optimizer factory)")
    trained = copy.deepcopy(model)
    optimizers = [factory(trained.parameters()) for factory in factories]
    before = parameters_to_vector(trained.parameters()).detach().clone()
    for optimizer in optimizers:
        optimizer.zero_grad(set_to_none=True)
    loss_of(trained).backward()
    for optimizer in optimizers:
        optimizer.step()
    return parameters_to_vector(trained.parameters()).detach() - before


# --------------------------------------------------------------------------------------------
# Step-size decay alpha_t = alpha / sqrt(t)
# --------------------------------------------------------------------------------------------
def inverse_sqrt_factor(steps_taken: int) -> float:
    r"""Multiplier of the base step size for the next step: :math:`1/\sqrt{t}` with
    :math:`t = ` ``steps_taken`` :math:`+ 1`, so the first step uses the full :math:`\alpha`.

    >>> [round(inverse_sqrt_factor(k), 3) for k in range(4)]
    [1.0, 0.707, 0.577, 0.5]
    """
    if steps_taken < 0:
        raise ValueError(f"Invalid steps_taken: {steps_taken} (expected >= 0)")
    return 1.0 / math.sqrt(steps_taken + 1)


def with_inverse_sqrt_decay(factory: OptimizerFactory) -> OptimizerFactory:
    r"""Wrap an optimizer factory so that step :math:`t = 1, 2, \dots` uses the step size

    .. math:: \alpha_t = \frac{\alpha}{\sqrt{t}},

    where :math:`\alpha` is the optimizer's ``lr``. This is the schedule of Kingma & Ba's
    logistic-regression experiments (their section 6.1), the one under which their convergence
    analysis (section 4) holds.

    A step post-hook of the optimizer advances the schedule, so the returned optimizer works in
    any plain training loop (such as :func:`optlib.train.fit`): every ``optimizer.step()`` also
    sets the next step size. The schedule keeps its position in the optimizer's parameter groups
    (``"initial_lr"`` and :data:`DECAY_STEPS_KEY`), which ``state_dict()`` saves, so a run
    resumed from a checkpoint continues the schedule where it stopped.

    >>> import torch
    >>> w = torch.zeros(1, requires_grad=True)
    >>> optimizer = with_inverse_sqrt_decay(lambda p: torch.optim.SGD(p, lr=1.0))([w])
    >>> lrs = []
    >>> for _ in range(4):
    ...     lrs.append(optimizer.param_groups[0]["lr"])
    ...     w.grad = torch.ones(1)
    ...     optimizer.step()
    >>> [round(lr, 3) for lr in lrs]
    [1.0, 0.707, 0.577, 0.5]
    """

    def make(params: Iterable[nn.Parameter]) -> Optimizer:
        optimizer = factory(params)
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
            group[DECAY_STEPS_KEY] = 0
        optimizer.register_step_post_hook(_advance_inverse_sqrt_decay)
        return optimizer

    return make


DECAY_STEPS_KEY = "inverse_sqrt_decay_steps"
"""Parameter-group key of :func:`with_inverse_sqrt_decay`: the steps taken under the schedule."""


def _advance_inverse_sqrt_decay(optimizer: Optimizer, _args: Any, _kwargs: Any) -> None:
    for group in optimizer.param_groups:
        group[DECAY_STEPS_KEY] += 1
        group["lr"] = group["initial_lr"] * inverse_sqrt_factor(group[DECAY_STEPS_KEY])


# --------------------------------------------------------------------------------------------
# Kingma & Ba (2015), section 6.1
# --------------------------------------------------------------------------------------------
KINGMA_BA_BATCH_SIZE = 128
"""Minibatch size of the paper's logistic-regression experiments."""

KINGMA_BA_MOMENTUM = 0.9
"""Momentum of SGD with Nesterov momentum. The paper does not state it; 0.9 is the usual value."""

KINGMA_BA_L2 = 1e-4
r"""L2 penalty :math:`\lambda` of the MNIST logistic regression. The paper does not state it."""


class ProtocolOptimizer(NamedTuple):
    """One optimizer of a comparison protocol: which optimizer, with what, on what schedule."""

    name: str
    """A name from :data:`optlib.optim.OPTIMIZERS`."""
    hyperparameters: Mapping[str, Any]
    """Fixed hyperparameters besides the learning rate (torch's defaults for the rest)."""
    decay: bool
    r"""Whether the step size follows :math:`\alpha/\sqrt{t}` (:func:`with_inverse_sqrt_decay`)."""
    display_name: str
    """How figures and tables name it."""


KINGMA_BA_OPTIMIZERS: dict[str, ProtocolOptimizer] = {
    "adam-decayed": ProtocolOptimizer("adam", {}, True, "Adam, α/√t"),
    "nesterov-decayed": ProtocolOptimizer(
        "sgd",
        {"momentum": KINGMA_BA_MOMENTUM, "nesterov": True},
        True,
        "SGD + Nesterov, α/√t",
    ),
    "adagrad-constant": ProtocolOptimizer("adagrad", {}, False, "Adagrad, constant α"),
    "adagrad-decayed": ProtocolOptimizer("adagrad", {}, True, "Adagrad, α/√t"),
}
r"""The optimizers of Kingma & Ba's section 6.1, by label.

The paper decays "the stepsize :math:`\alpha`" as :math:`\alpha/\sqrt{t}`, the schedule of Adam's
convergence analysis, without saying whether Adagrad's step size was decayed too. Adagrad already
divides by :math:`\sqrt{\sum_s g_s^2}`, which grows like :math:`\sqrt{t}` when gradients keep
their size, so ``"adagrad-constant"`` keeps its constant :math:`\alpha` (its form in Duchi et al.,
2011) and ``"adagrad-decayed"`` is the other reading. The labels differ from the plain optimizer
names (``"adam"``, ...) so that figures and tables can tell the protocols apart.
"""


def kingma_ba_factory(label: str, lr: float) -> OptimizerFactory:
    """Factory of optimizer ``label`` of :data:`KINGMA_BA_OPTIMIZERS` with base step size ``lr``.

    >>> import torch
    >>> optimizer = kingma_ba_factory("nesterov-decayed", 0.5)([torch.zeros(2, requires_grad=True)])
    >>> type(optimizer).__name__, optimizer.defaults["nesterov"], optimizer.param_groups[0]["lr"]
    ('SGD', True, 0.5)
    """
    if label not in KINGMA_BA_OPTIMIZERS:
        raise ValueError(
            f"Unknown label: {label!r}; expected one of {', '.join(KINGMA_BA_OPTIMIZERS)}"
        )
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"Invalid lr: {lr!r} (expected a positive number)")
    spec = KINGMA_BA_OPTIMIZERS[label]
    factory = optimizer_factory(spec.name, lr=lr, **spec.hyperparameters)
    return with_inverse_sqrt_decay(factory) if spec.decay else factory


# --------------------------------------------------------------------------------------------
# Learning-rate tuning for optimizers given by a factory
# --------------------------------------------------------------------------------------------
def tune_lr_with(
    make_factory: Callable[[float], OptimizerFactory],
    label: str,
    task: Task,
    lrs: Sequence[float],
    seeds: Sequence[int],
    *,
    epochs: int,
    batch_size: int = 64,
    train_subset: int | None = None,
    progress: bool | None = False,
) -> TuningResult:
    """:func:`optlib.train.tune_lr` for an optimizer built by ``make_factory(lr)``.

    Same protocol and result: each ``(lr, seed)`` is one :func:`~optlib.train.fit` run from the
    seed's initial weights and minibatch order; its score is the validation loss after the last
    epoch (``inf`` if it diverged); the best learning rate has the lowest mean score over seeds.
    The test split is never evaluated. Use it when the optimizer is more than a name and
    hyperparameters, e.g. ``lambda lr: kingma_ba_factory("adam-decayed", lr)``.
    """
    return tune_lr(
        label,
        task,
        lrs,
        seeds,
        epochs=epochs,
        batch_size=batch_size,
        train_subset=train_subset,
        progress=progress,
        factory_for_lr=make_factory,
    )


# --------------------------------------------------------------------------------------------
# Figures and tables
# --------------------------------------------------------------------------------------------
class Style(NamedTuple):
    """How one optimizer label is drawn."""

    color: str
    linestyle: str
    display_name: str


def protocol_style(label: str) -> Style:
    """The book's colour and name for ``label``; step-size-decayed Adagrad is dashed.

    Labels of :data:`KINGMA_BA_OPTIMIZERS` take their optimizer's colour (SGD with Nesterov
    momentum its own); other labels are looked up in :mod:`optlib.plotting`.
    """
    if label in KINGMA_BA_OPTIMIZERS:
        spec = KINGMA_BA_OPTIMIZERS[label]
        palette_name = "nesterov" if spec.hyperparameters.get("nesterov") else spec.name
        dashed = spec.decay and spec.name == "adagrad"
        return Style(plotting.color(palette_name), "--" if dashed else "-", spec.display_name)
    return Style(plotting.color(label), "-", plotting.label(label))


def plot_lr_sensitivity(ax: Axes, tunings: Sequence[TuningResult]) -> None:
    """Validation loss against learning rate (log axis), mean ± std over seeds; a star marks the
    chosen learning rate. Diverged learning rates are left out of the line."""
    for result in tunings:
        style = protocol_style(result.optimizer)
        lrs = np.asarray(result.lrs)
        mean = np.asarray(result.mean_val_loss)
        std = np.nan_to_num(np.asarray(result.std_val_loss))
        finite = np.isfinite(mean)
        ax.errorbar(
            lrs[finite],
            mean[finite],
            yerr=std[finite],
            color=style.color,
            linestyle=style.linestyle,
            marker="o",
            markersize=4,
            capsize=3,
            label=style.display_name,
        )
        best = int(np.argmin(mean))
        ax.plot(lrs[best], mean[best], marker="*", markersize=15, color=style.color, zorder=3)
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
) -> None:
    """Minibatch training loss (window means), mean ± std over seeds, one line per label.

    The shaded band is ± one standard deviation over seeds; ``window`` defaults to about 20
    points per epoch (see :func:`optlib.results.training_loss_curve`).
    """
    for label, group in group_by_optimizer(runs).items():
        style = protocol_style(label)
        curve = training_loss_curve(group, window)
        ax.plot(
            curve.x,
            curve.mean,
            color=style.color,
            linestyle=style.linestyle,
            label=f"{style.display_name} ({len(group)} seeds)",
        )
        ax.fill_between(
            curve.x,
            curve.mean - curve.std,
            curve.mean + curve.std,
            color=style.color,
            alpha=0.2,
            linewidth=0,
        )
    ax.set(xlabel="epoch", ylabel="training loss (minibatch, nats)")
    if log_scale:
        ax.set_yscale("log")
    ax.legend()


def plot_paired_accuracy(ax: Axes, runs: Sequence[RunRecord]) -> None:
    """Final test accuracy of every run, one column per optimizer label, read seed by seed.

    A grey line joins the runs of one seed, which started from the same weights and saw the same
    minibatches, so the comparison can be read as paired differences; a bar with an error bar
    shows each label's mean ± std over seeds. Runs without a test accuracy are skipped.
    """
    groups = {
        label: [run for run in group if run.test_accuracy is not None]
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
        style = protocol_style(label)
        values = 100 * np.array([run.test_accuracy for run in groups[label]])
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.scatter(np.full(len(values), i), values, color=style.color, zorder=3, s=25)
        ax.errorbar(
            i + 0.15,
            values.mean(),
            yerr=std,
            color=style.color,
            marker="D",
            capsize=4,
            zorder=3,
        )
    ax.set_xticks(range(len(labels)), [protocol_style(label).display_name for label in labels])
    ax.set_xlim(-0.5, len(labels) - 0.5)
    ax.set(ylabel="test accuracy (%)")


def summary_markdown(rows: Sequence[SummaryRow]) -> str:
    """:func:`optlib.results.summarize` rows as a Markdown table (show it with
    ``IPython.display.Markdown``): learning rate, runs, test accuracy and seconds per epoch,
    mean ± sample standard deviation over runs."""

    def mean_std(mean: float, std: float, scale: float, digits: int) -> str:
        if math.isnan(mean):
            return "n/a"
        shown = f"{mean * scale:.{digits}f}"
        return shown if math.isnan(std) else f"{shown} ± {std * scale:.{digits}f}"

    def name(label: str) -> str:
        try:
            return protocol_style(label).display_name
        except KeyError:
            return label

    lines = [
        "| optimizer | learning rate | runs | test accuracy (%) | seconds per epoch |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lrs = ", ".join(f"{lr:g}" for lr in row.lrs)
        accuracy = mean_std(row.test_accuracy_mean, row.test_accuracy_std, 100, 2)
        seconds = mean_std(row.seconds_per_epoch_mean, row.seconds_per_epoch_std, 1, 2)
        lines.append(f"| {name(row.optimizer)} | {lrs} | {row.n_runs} | {accuracy} | {seconds} |")
    return "\n".join(lines)
