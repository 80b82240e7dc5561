r"""Chapter 4's experiments: the source article's mistakes made measurable, and the
logistic-regression protocol of Kingma & Ba (2015, section 6.1).

* :func:`one_step_change` runs the source article's training step, in which *several* optimizers
  step the *same* model after one backward pass, and returns what it did to the parameters; run it
  with one optimizer at a time to see that the shared step is the sum of the separate ones.
* :func:`with_inverse_sqrt_decay` gives any optimizer the step size of the paper's
  logistic-regression experiments, :math:`\alpha_t = \alpha / \sqrt{t}`
  (:func:`optlib.rules.inverse_sqrt_decay`).
* :data:`KINGMA_BA_OPTIMIZERS` and :func:`kingma_ba_factory` are that experiment's optimizers
  (Adam, SGD with Nesterov momentum, Adagrad), :data:`KINGMA_BA_BATCH_SIZE` its minibatch size.
  Tune them with ``optlib.training.tune_lr(lambda lr: kingma_ba_factory(label, lr), ...)``; draw
  them with :mod:`optlib.figures` (the palette knows their labels).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from torch import Tensor, nn
from torch.nn.utils import parameters_to_vector
from torch.optim import Optimizer

from optlib import rules
from optlib.training.harness import OptimizerFactory, optimizer_factory

__all__ = [
    "DECAY_STEPS_KEY",
    "KINGMA_BA_BATCH_SIZE",
    "KINGMA_BA_L2",
    "KINGMA_BA_MOMENTUM",
    "KINGMA_BA_OPTIMIZERS",
    "ProtocolOptimizer",
    "kingma_ba_factory",
    "one_step_change",
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
def with_inverse_sqrt_decay(factory: OptimizerFactory) -> OptimizerFactory:
    r"""Wrap an optimizer factory so that step :math:`t = 1, 2, \dots` uses the step size

    .. math:: \alpha_t = \frac{\alpha}{\sqrt{t}},

    where :math:`\alpha` is the optimizer's ``lr``. This is the schedule of Kingma & Ba's
    logistic-regression experiments (their section 6.1), the one under which their convergence
    analysis (section 4) holds.

    A step post-hook of the optimizer advances the schedule, so the returned optimizer works in
    any plain training loop (such as :func:`optlib.training.fit`): every ``optimizer.step()`` also
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
        group["lr"] = group["initial_lr"] * rules.inverse_sqrt_decay(group[DECAY_STEPS_KEY])


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
