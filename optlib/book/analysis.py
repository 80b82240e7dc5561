r"""Measurements behind chapter 3: hand traces, effective learning rates, state sizes, step times.

Nothing here is a new optimizer: every function reads or replays the pure rules of
:mod:`optlib.rules`, so what chapter 3 measures is what :mod:`optlib.optim` runs.

* :func:`trace_adam` and :func:`trace_adagrad` run a few steps on a 1-D function with plain Python
  floats and keep every intermediate quantity (:math:`g, m, v, \hat m, \hat v, G`, the step), so a
  reader can check them by hand; :func:`table` shows them.
* :func:`trajectory` runs any ``torch.optim``-style optimizer on the same 1-D function, the
  oracle a hand trace is compared with.
* :func:`adagrad_effective_lr` and :func:`adam_effective_lr` are the per-coordinate factors
  :math:`\eta_t/(\sqrt{G_t}+\epsilon)` and :math:`\alpha/(\sqrt{\hat v_t}+\epsilon)`;
  :func:`train_and_record` trains a model and records their quantiles at every step, together
  with the gradients of a few tracked coordinates.
* :func:`replay` feeds a recorded gradient stream to any pure update rule (open loop), e.g.
  :func:`adam_update_without_bias_correction` or :func:`adagrad_convention_update`.
* :func:`state_size` measures the bytes an optimizer keeps per parameter and
  :func:`time_per_step` the wall-clock time of ``optimizer.step()``.
"""

from __future__ import annotations

import html
import math
import statistics
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer

from optlib import rules

Array = rules.Array
GradFn = Callable[[float], float]

__all__ = [
    "ADAGRAD_CONVENTIONS",
    "AdagradConvention",
    "AdagradTraceRow",
    "AdamTraceRow",
    "StateSize",
    "StreamRecord",
    "Table",
    "adagrad_convention_update",
    "adagrad_effective_lr",
    "adam_effective_lr",
    "adam_update_without_bias_correction",
    "effective_lrs",
    "flat_index_sample",
    "minibatches",
    "replay",
    "replay_states",
    "state_size",
    "table",
    "time_per_step",
    "trace_adagrad",
    "trace_adam",
    "train_and_record",
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


class Table(NamedTuple):
    """Formatted cells that show as HTML in notebooks and the book, and as Markdown text."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown, every column but the first right-aligned."""
        lines = [
            "| " + " | ".join(self.headers) + " |",
            "|---|" + "".join("---:|" for _ in self.headers[1:]),
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        def cells(tag: str, values: Sequence[str]) -> str:
            return "".join(
                f'<{tag} style="text-align:{"left" if i == 0 else "right"}">'
                f"{html.escape(value)}</{tag}>"
                for i, value in enumerate(values)
            )

        head = f"<thead><tr>{cells('th', self.headers)}</tr></thead>"
        body = "".join(f"<tr>{cells('td', row)}</tr>" for row in self.rows)
        table = f'<table class="table">{head}<tbody>{body}</tbody></table>'
        return f'<div style="overflow-x:auto">{table}</div>'


def table(
    rows: Sequence[Sequence[Any]],
    *,
    headers: Sequence[str] | Mapping[str, str] | None = None,
    digits: int = 6,
) -> Table:
    """A :class:`Table` of ``rows``; floats get ``digits`` significant digits, strings stay as is.

    For NamedTuple rows, ``headers`` optionally maps field names to column titles (default: the
    field names); for plain sequences it must list the titles.

    >>> class Row(NamedTuple):
    ...     t: int
    ...     x: float
    >>> print(table([Row(1, 0.123456789)], headers={"x": "xₜ"}, digits=3))
    | t | xₜ |
    |---|---:|
    | 1 | 0.123 |
    """
    if not rows:
        raise ValueError("Invalid rows: expected at least one row")
    fields = getattr(rows[0], "_fields", None)
    if fields is not None:
        titles = dict(headers or {})
        if not isinstance(headers, Mapping | None) or set(titles) - set(fields):
            raise ValueError(f"Invalid headers: {headers!r} (expected a mapping over {fields})")
        header_row = tuple(titles.get(field, field) for field in fields)
    else:
        if headers is None or isinstance(headers, Mapping):
            raise ValueError("Invalid headers: plain rows need a sequence of column titles")
        header_row = tuple(headers)
    if any(len(row) != len(header_row) for row in rows):
        raise ValueError(f"Invalid rows: every row needs {len(header_row)} cells")

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.{digits}g}"
        return str(value)

    return Table(header_row, tuple(tuple(cell(value) for value in row) for row in rows))


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


def train_and_record(
    model: nn.Module,
    optimizer: Optimizer,
    batches: Iterable[tuple[Tensor, Tensor]],
    *,
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    record_at: Collection[int] | None = None,
    track: Tensor | None = None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
) -> StreamRecord:
    """Train ``model`` on ``batches``, one step per batch, recording effective learning rates.

    After step ``t`` (for every ``t`` in ``record_at``, default: every step) the quantiles of
    :func:`effective_lrs` over the coordinates that have seen a gradient are recorded.
    ``track`` (indices into the flattened parameters, see :func:`flat_index_sample`) selects
    coordinates whose raw gradients are recorded at every step, so the same stream can be
    replayed through other rules with :func:`replay`.
    """
    levels = torch.tensor(list(quantiles), dtype=torch.float64)
    if levels.numel() == 0 or bool(((levels < 0) | (levels > 1)).any()):
        raise ValueError(f"Invalid quantiles: {list(quantiles)} (expected values in [0, 1])")
    wanted = None if record_at is None else set(record_at)
    steps, rates, grads, losses = [], [], [], []
    for t, (x, y) in enumerate(batches, start=1):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        if track is not None:
            flat = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
            grads.append(flat[track].double().numpy())
        optimizer.step()
        if wanted is None or t in wanted:
            steps.append(t)
            rates.append(torch.nanquantile(effective_lrs(optimizer).double(), levels).numpy())
        losses.append(loss.item())
    if not losses:
        raise ValueError("Invalid batches: expected at least one batch")
    n_tracked = 0 if track is None else len(track)
    return StreamRecord(
        steps=np.array(steps, dtype=int),
        effective_lr=np.array(rates).reshape(len(steps), len(levels)),
        grads=np.array(grads) if grads else np.zeros((len(losses), n_tracked)),
        losses=np.array(losses),
    )


# --------------------------------------------------------------------------------------------
# Replaying a gradient stream through a pure rule
# --------------------------------------------------------------------------------------------
def replay(
    update: Callable[..., tuple[Array, Any]],
    state: Any,
    grads: np.ndarray,
    param: np.ndarray,
    **hyperparameters: Any,
) -> np.ndarray:
    r"""Feed a fixed gradient stream ``grads[t]`` to a pure update rule; return every change.

    Open loop: the gradients do not depend on the parameter (they were recorded, or drawn),
    but the changes are applied, so ``weight_decay`` sees the right parameter. Returns an array
    of shape ``grads.shape`` whose row ``t`` is :math:`\Delta\theta_{t+1}`.

    >>> deltas = replay(rules.adagrad_update, rules.adagrad_init(np.zeros(1)),
    ...                 np.ones((4, 1)), np.zeros(1), lr=1.0, eps=0.0)
    >>> np.round(deltas[:, 0] ** -2.0, 6).tolist()  # step_t = -1/sqrt(t)
    [1.0, 2.0, 3.0, 4.0]
    """
    grads = np.asarray(grads)
    deltas = np.empty_like(grads)
    for t, (delta, _) in enumerate(replay_states(update, state, grads, param, **hyperparameters)):
        deltas[t] = delta
    return deltas


def replay_states(
    update: Callable[..., tuple[Array, Any]],
    state: Any,
    grads: np.ndarray,
    param: np.ndarray,
    **hyperparameters: Any,
) -> Iterator[tuple[np.ndarray, Any]]:
    """Like :func:`replay`, but yield ``(delta, state)`` after every step, to inspect the state.

    >>> states = replay_states(rules.adagrad_update, rules.adagrad_init(np.zeros(1)),
    ...                        np.full((3, 1), 2.0), np.zeros(1), lr=1.0)
    >>> [float(state.sum_sq[0]) for _, state in states]
    [4.0, 8.0, 12.0]
    """
    grads = np.asarray(grads)
    if grads.ndim < 1 or len(grads) == 0:
        raise ValueError(f"Invalid grads: shape {grads.shape} (expected at least one step)")
    param = np.array(param, dtype=grads.dtype, copy=True)
    if param.shape != grads.shape[1:]:
        raise ValueError(f"Invalid param: shape {param.shape}, gradients are {grads.shape[1:]}")
    for grad in grads:
        delta, state = update(grad, state, param, **hyperparameters)
        param = param + delta
        yield delta, state


def adam_update_without_bias_correction(
    grad: Array,
    state: rules.AdamState,
    param: Array,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[Array, rules.AdamState]:
    r"""Adam *without* the bias correction of eq. (adam-bias): what the correction fixes.

    .. math:: \Delta\theta_t = -\alpha\,\frac{m_t}{\sqrt{v_t} + \epsilon}

    Same moments as :func:`optlib.rules.adam_update` (:func:`~optlib.rules.adam_first_moment`,
    :func:`~optlib.rules.adam_second_moment`); a demonstration, not an optimizer to use.
    """
    beta1, beta2 = betas
    exp_avg = rules.adam_first_moment(state.exp_avg, grad, beta1)
    exp_avg_sq = rules.adam_second_moment(state.exp_avg_sq, grad, beta2)
    delta = -lr * exp_avg / (exp_avg_sq**0.5 + eps)
    return delta, rules.AdamState(exp_avg, exp_avg_sq, None, state.step + 1)


class AdagradConvention(NamedTuple):
    """Where a library puts Adagrad's epsilon, and where its accumulator starts."""

    name: str
    initial_accumulator_value: float  # G_0
    eps: float
    eps_inside_root: bool  # eta g / sqrt(G + eps) instead of eta g / (sqrt(G) + eps)


ADAGRAD_CONVENTIONS: tuple[AdagradConvention, ...] = (
    AdagradConvention("PyTorch", 0.0, 1e-10, False),
    AdagradConvention("optax", 0.1, 1e-7, True),
    AdagradConvention("d2l", 0.0, 1e-6, True),
)
"""The defaults of ``torch.optim.Adagrad``, ``optax.adagrad`` (``scale_by_rss``) and the
from-scratch Adagrad of *Dive into Deep Learning*."""


def adagrad_convention_update(
    grad: Array,
    state: rules.AdagradState,
    param: Array,
    *,
    lr: float,
    eps: float,
    eps_inside_root: bool,
) -> tuple[Array, rules.AdagradState]:
    r"""One Adagrad step with epsilon outside (PyTorch) or inside (optax, d2l) the square root.

    .. math:: \Delta\theta_t = -\eta\,\frac{g_t}{\sqrt{G_t} + \epsilon}
              \qquad\text{or}\qquad \Delta\theta_t = -\eta\,\frac{g_t}{\sqrt{G_t + \epsilon}}

    Start the state with ``rules.adagrad_init(param, G_0)`` to choose :math:`G_0`.
    """
    sum_sq = rules.adagrad_accumulate(state.sum_sq, grad)
    if eps_inside_root:
        delta = -lr * grad / (sum_sq + eps) ** 0.5
    else:
        delta = rules.adagrad_step(grad, sum_sq, lr, eps)
    return delta, rules.AdagradState(sum_sq, state.step + 1)


# --------------------------------------------------------------------------------------------
# Cost: memory and time
# --------------------------------------------------------------------------------------------
class StateSize(NamedTuple):
    """The memory an optimizer's ``state`` holds, split by kind of tensor."""

    param_bytes: int  # bytes of all the parameters the optimizer updates
    per_coordinate_tensors: int  # state tensors shaped like their parameter
    per_coordinate_bytes: int  # their bytes
    other_bytes: int  # every other state tensor (e.g. the step counter)

    @property
    def ratio(self) -> float:
        """State bytes per parameter byte (all state tensors)."""
        return (self.per_coordinate_bytes + self.other_bytes) / self.param_bytes


def state_size(optimizer: Optimizer) -> StateSize:
    """Measure the tensors in ``optimizer.state`` against the parameters it optimizes.

    Call it after at least one ``step()`` (most optimizers create their state lazily). Plain
    Python numbers in the state (``optlib.optim`` keeps the step count as an ``int``) are not
    tensors and count as zero bytes; an optimizer without state (plain SGD) has ratio 0.
    """
    params = [param for group in optimizer.param_groups for param in group["params"]]
    param_bytes = sum(param.numel() * param.element_size() for param in params)
    if param_bytes == 0:
        raise ValueError("Invalid optimizer: its parameters hold no elements")
    per_coordinate_tensors = per_coordinate_bytes = other_bytes = 0
    for param in params:
        for value in optimizer.state.get(param, {}).values():
            if not isinstance(value, Tensor):
                continue
            size = value.numel() * value.element_size()
            if value.shape == param.shape and value.dim() > 0:
                per_coordinate_tensors += 1
                per_coordinate_bytes += size
            else:
                other_bytes += size
    return StateSize(param_bytes, per_coordinate_tensors, per_coordinate_bytes, other_bytes)


def time_per_step(optimizer: Optimizer, *, steps: int = 50, repeats: int = 5) -> float:
    """Median wall-clock seconds of one ``optimizer.step()``, gradients left as they are.

    Runs ``repeats`` timed blocks of ``steps`` steps (after one warm-up step) and returns the
    median block time divided by ``steps``. The parameters change: time a copy of the model.
    """
    _check_positive_int("steps", steps)
    _check_positive_int("repeats", repeats)
    optimizer.step()
    blocks = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            optimizer.step()
        blocks.append((time.perf_counter() - start) / steps)
    return statistics.median(blocks)
