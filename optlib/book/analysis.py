r"""Measurements behind chapter 3: hand traces and effective learning rates.

Nothing here is a new optimizer: every function reads the pure rules of :mod:`optlib.rules`, so
what chapter 3 measures is what :mod:`optlib.optim` runs.

* :func:`trace_adam` and :func:`trace_adagrad` run a few steps on a 1-D function with plain Python
  floats and keep every intermediate quantity (:math:`g, m, v, \hat m, \hat v, G`, the step), so a
  reader can check them by hand; :func:`optlib.figures.table` shows them.
* :func:`trajectory` runs any ``torch.optim``-style optimizer on the same 1-D function, the
  oracle a hand trace is compared with.
* :func:`adagrad_effective_lr` and :func:`adam_effective_lr` are the per-coordinate factors
  :math:`\eta_t/(\sqrt{G_t}+\epsilon)` and :math:`\alpha/(\sqrt{\hat v_t}+\epsilon)`;
  :func:`train_and_record` trains a model one step per batch and records their quantiles, the
  gradients of a few tracked coordinates (to replay them through other rules with
  :func:`optlib.problems.replay`) and the size of each step.

Memory and time per step are measured in :mod:`optlib.book.costs`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer

from optlib import rules

Array = rules.Array
GradFn = Callable[[float], float]

__all__ = [
    "AdagradTraceRow",
    "AdamTraceRow",
    "StreamRecord",
    "adagrad_effective_lr",
    "adam_effective_lr",
    "effective_lrs",
    "flat_index_sample",
    "minibatches",
    "trace_adagrad",
    "trace_adam",
    "train_and_record",
    "train_recording_changes",
    "trajectory",
]


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= 1)")


# --------------------------------------------------------------------------------------------
# Hand traces with plain floats
# --------------------------------------------------------------------------------------------
class AdamTraceRow(NamedTuple):
    """One Adam step on a 1-D function: every quantity of eqs. (adam-m) to (adam-update)."""

    t: int
    theta: float  # the parameter before the step, theta_{t-1}
    g: float  # the gradient at theta_{t-1}
    m: float  # first moment m_t
    v: float  # second moment v_t
    m_hat: float  # bias-corrected m_t / (1 - beta1^t)
    v_hat: float  # bias-corrected v_t / (1 - beta2^t)
    step: float  # Delta theta_t, added to theta_{t-1}


class AdagradTraceRow(NamedTuple):
    """One Adagrad step on a 1-D function: every quantity of eqs. (adagrad-accumulate) to
    (adagrad-update)."""

    t: int
    theta: float  # the parameter before the step, theta_{t-1}
    g: float  # the gradient at theta_{t-1}
    G: float  # accumulator G_t
    lr_t: float  # the decayed global learning rate eta_t
    step: float  # Delta theta_t, added to theta_{t-1}


def trace_adam(
    grad_fn: GradFn,
    theta0: float,
    *,
    steps: int = 3,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> list[AdamTraceRow]:
    r"""Run ``steps`` Adam steps on a 1-D function with Python floats, keeping every quantity.

    Each row is computed with the one-equation functions of :mod:`optlib.rules`
    (:func:`~optlib.rules.adam_first_moment`, :func:`~optlib.rules.adam_second_moment`,
    :func:`~optlib.rules.bias_correction`, :func:`~optlib.rules.adam_step`).

    >>> rows = trace_adam(lambda x: x, 1.0, steps=1, lr=0.1)
    >>> round(rows[0].m_hat, 12), round(rows[0].step, 6)
    (1.0, -0.1)
    """
    _check_positive_int("steps", steps)
    beta1, beta2 = betas
    theta, m, v = float(theta0), 0.0, 0.0
    rows = []
    for t in range(1, steps + 1):
        g = float(grad_fn(theta))
        m = rules.adam_first_moment(m, g, beta1)
        v = rules.adam_second_moment(v, g, beta2)
        m_hat = m / rules.bias_correction(beta1, t)
        v_hat = v / rules.bias_correction(beta2, t)
        step = rules.adam_step(m, v, t, lr, beta1, beta2, eps)
        rows.append(AdamTraceRow(t, theta, g, m, v, m_hat, v_hat, step))
        theta = theta + step
    return rows


def trace_adagrad(
    grad_fn: GradFn,
    theta0: float,
    *,
    steps: int = 3,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    eps: float = 1e-10,
    initial_accumulator_value: float = 0.0,
) -> list[AdagradTraceRow]:
    r"""Run ``steps`` Adagrad steps on a 1-D function with Python floats, keeping every quantity.

    Each row is computed with :func:`~optlib.rules.adagrad_accumulate`,
    :func:`~optlib.rules.adagrad_lr` and :func:`~optlib.rules.adagrad_step`.

    >>> rows = trace_adagrad(lambda x: x, 1.0, steps=2, lr=0.1)
    >>> [round(row.G, 6) for row in rows]
    [1.0, 1.81]
    """
    _check_positive_int("steps", steps)
    theta, sum_sq = float(theta0), float(initial_accumulator_value)
    rows = []
    for t in range(1, steps + 1):
        g = float(grad_fn(theta))
        sum_sq = rules.adagrad_accumulate(sum_sq, g)
        lr_t = rules.adagrad_lr(lr, t, lr_decay)
        step = rules.adagrad_step(g, sum_sq, lr_t, eps)
        rows.append(AdagradTraceRow(t, theta, g, sum_sq, lr_t, step))
        theta = theta + step
    return rows


def trajectory(
    make_optimizer: Callable[[list[Tensor]], Optimizer],
    grad_fn: GradFn,
    theta0: float,
    *,
    steps: int = 3,
) -> list[float]:
    """The parameter after each of ``steps`` steps of a ``torch.optim``-style optimizer.

    The parameter is a one-element float64 tensor whose gradient is set to ``grad_fn(theta)``
    before every step, so the result can be compared with a float trace to ~1e-16.

    >>> trajectory(lambda p: torch.optim.SGD(p, lr=0.5), lambda x: x, 1.0, steps=2)
    [0.5, 0.25]
    """
    _check_positive_int("steps", steps)
    param = torch.tensor([float(theta0)], dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([param])
    thetas = []
    for _ in range(steps):
        param.grad = torch.tensor([float(grad_fn(param.item()))], dtype=torch.float64)
        optimizer.step()
        thetas.append(param.item())
    return thetas


# --------------------------------------------------------------------------------------------
# Effective per-coordinate learning rates
# --------------------------------------------------------------------------------------------
def adagrad_effective_lr(
    sum_sq: Array, step: int, *, lr: float, lr_decay: float = 0.0, eps: float = 1e-10
) -> Array:
    r"""Adagrad's per-coordinate learning rate, the factor that multiplies :math:`g_t`.

    .. math:: \frac{\eta_t}{\sqrt{G_t} + \epsilon}

    >>> adagrad_effective_lr(4.0, 1, lr=0.1, eps=0.0)
    0.05
    """
    return rules.adagrad_lr(lr, step, lr_decay) / (sum_sq**0.5 + eps)


def adam_effective_lr(
    exp_avg_sq: Array, step: int, *, lr: float, beta2: float = 0.999, eps: float = 1e-8
) -> Array:
    r"""Adam's per-coordinate learning rate, the factor that multiplies :math:`\hat m_t`.

    .. math:: \frac{\alpha}{\sqrt{\hat v_t} + \epsilon}, \qquad \hat v_t = v_t/(1-\beta_2^t)

    >>> round(adam_effective_lr(0.004, 1, lr=0.1, beta2=0.999, eps=0.0), 12)
    0.05
    """
    return lr / ((exp_avg_sq / rules.bias_correction(beta2, step)) ** 0.5 + eps)


def effective_lrs(optimizer: Optimizer) -> Tensor:
    """Every coordinate's effective learning rate, flattened over the parameters with state.

    Works for Adagrad (state key ``sum``) and Adam/AdamW (``exp_avg_sq``, or
    ``max_exp_avg_sq`` with AMSGrad), from ``torch.optim`` or :mod:`optlib.optim`. Coordinates
    whose accumulator is still exactly zero (they never had a gradient) get ``nan``: they have
    no step to scale.
    """
    pieces = []
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param)
            if not state:
                continue
            step = int(state.get("step", 0))
            if "sum" in state:
                accumulator = state["sum"]
                rate = adagrad_effective_lr(
                    accumulator, step, lr=group["lr"], lr_decay=group["lr_decay"], eps=group["eps"]
                )
            elif "exp_avg_sq" in state:
                accumulator = state.get("max_exp_avg_sq", state["exp_avg_sq"])
                rate = adam_effective_lr(
                    accumulator, step, lr=group["lr"], beta2=group["betas"][1], eps=group["eps"]
                )
            else:
                raise ValueError(
                    f"Invalid optimizer: {type(optimizer).__name__} keeps neither 'sum' "
                    "(Adagrad) nor 'exp_avg_sq' (Adam) in its state"
                )
            rate = torch.where(accumulator > 0, rate, torch.full_like(rate, math.nan))
            pieces.append(rate.detach().reshape(-1))
    if not pieces:
        raise ValueError("Invalid optimizer: no parameter has state yet (call step() first)")
    return torch.cat(pieces)


def flat_index_sample(model: nn.Module, n: int, *, seed: int = 0) -> Tensor:
    """``n`` distinct indices into the model's flattened parameter vector, drawn from ``seed``."""
    total = sum(p.numel() for p in model.parameters())
    _check_positive_int("n", n)
    if n > total:
        raise ValueError(f"Invalid n: {n} (the model has only {total} parameters)")
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=generator)[:n].sort().values


def minibatches(
    x: Tensor, y: Tensor, *, batch_size: int, steps: int, seed: int = 0
) -> Iterator[tuple[Tensor, Tensor]]:
    """``steps`` minibatches of ``(x, y)``, epoch after epoch, each epoch in a seeded order.

    The order depends only on ``seed``, so two optimizers fed ``minibatches(..., seed=s)`` see
    the same batches in the same order. An epoch's last batch may be smaller.

    >>> batches = minibatches(torch.arange(5.0), torch.arange(5), batch_size=2, steps=4)
    >>> [len(xb) for xb, _ in batches]
    [2, 2, 1, 2]
    """
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("steps", steps)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"Invalid data: {len(x)} inputs and {len(y)} labels")
    generator = torch.Generator().manual_seed(seed)
    produced = 0
    while True:
        for indices in torch.randperm(len(x), generator=generator).split(batch_size):
            if produced == steps:
                return
            produced += 1
            yield x[indices], y[indices]


class StreamRecord(NamedTuple):
    """What :func:`train_and_record` saw during steps ``t = 1 .. T``."""

    steps: np.ndarray  # (S,) int: the steps t at which effective_lr was recorded
    effective_lr: np.ndarray  # (S, len(quantiles)): quantiles over coordinates, nan ignored
    grads: np.ndarray  # (T, n_tracked) float64: row t-1 holds the tracked gradients of step t
    losses: np.ndarray  # (T,): minibatch loss before each step
    median_abs_change: np.ndarray  # (T,) if record_changes, else (0,): median |delta theta|


def train_and_record(
    model: nn.Module,
    optimizer: Optimizer,
    batches: Iterable[tuple[Tensor, Tensor]],
    *,
    quantiles: Sequence[float] | None = (0.1, 0.5, 0.9),
    record_at: Collection[int] | None = None,
    track: Tensor | None = None,
    record_changes: bool = False,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
) -> StreamRecord:
    """Train ``model`` on ``batches``, one step per batch, recording what each step did.

    After step ``t`` (for every ``t`` in ``record_at``, default: every step) the quantiles of
    :func:`effective_lrs` over the coordinates that have seen a gradient are recorded
    (``quantiles=None``: not recorded, for optimizers without an accumulator such as SGD).
    ``track`` (indices into the flattened parameters, see :func:`flat_index_sample`) selects
    coordinates whose raw gradients are recorded at every step, so the same stream can be
    replayed through other rules with :func:`optlib.problems.replay`. ``record_changes``
    records the median of :math:`|\theta_t - \theta_{t-1}|` over all coordinates at every step.

    >>> model = nn.Linear(3, 2)
    >>> batches = [(torch.ones(4, 3), torch.zeros(4, dtype=torch.long))]
    >>> adam = torch.optim.Adam(model.parameters(), lr=0.1)
    >>> record = train_and_record(model, adam, batches, quantiles=None, record_changes=True)
    >>> round(float(record.median_abs_change[0]), 6)  # Adam's first step is lr in every coordinate
    0.1
    """
    levels = torch.tensor(list(quantiles or ()), dtype=torch.float64)
    if quantiles is not None and (levels.numel() == 0 or bool(((levels < 0) | (levels > 1)).any())):
        raise ValueError(f"Invalid quantiles: {list(quantiles)} (expected values in [0, 1])")
    wanted = None if record_at is None else set(record_at)
    params = [param for param in model.parameters() if param.requires_grad]
    steps, rates, grads, losses, changes = [], [], [], [], []
    for t, (x, y) in enumerate(batches, start=1):
        before = _flat([param.detach() for param in params]) if record_changes else None
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        if track is not None:
            grads.append(_flat([p.grad for p in model.parameters()])[track].double().numpy())
        optimizer.step()
        if quantiles is not None and (wanted is None or t in wanted):
            steps.append(t)
            rates.append(torch.nanquantile(effective_lrs(optimizer).double(), levels).numpy())
        if before is not None:
            changes.append((_flat([param.detach() for param in params]) - before).abs().median())
        losses.append(loss.item())
    if not losses:
        raise ValueError("Invalid batches: expected at least one batch")
    n_tracked = 0 if track is None else len(track)
    return StreamRecord(
        steps=np.array(steps, dtype=int),
        effective_lr=np.array(rates).reshape(len(steps), len(levels)),
        grads=np.array(grads) if grads else np.zeros((len(losses), n_tracked)),
        losses=np.array(losses),
        median_abs_change=np.array([float(c) for c in changes]),
    )


def _flat(tensors: Sequence[Tensor]) -> Tensor:
    return torch.cat([tensor.reshape(-1) for tensor in tensors])


def train_recording_changes(
    model: nn.Module,
    optimizer: Optimizer,
    batches: Iterable[tuple[Tensor, Tensor]],
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
) -> StreamRecord:
    r""":func:`train_and_record` recording each loss and the median :math:`|\Delta\theta_t|`
    (``.losses``, ``.median_abs_change``), for any optimizer: what switching optimizers
    mid-training does to the step."""
    return train_and_record(
        model, optimizer, batches, quantiles=None, record_changes=True, loss_fn=loss_fn
    )
