r"""Online convex optimization: regret, a projected online driver, and where Adam fails.

In *online* optimization a player picks :math:`x_t` in a convex set :math:`\mathcal F`, then the
round's convex loss :math:`f_t` is revealed and the player pays :math:`f_t(x_t)`. The *regret*
after :math:`T` rounds compares the player with the best fixed point in hindsight
(Zinkevich, 2003):

.. math:: R_T = \sum_{t=1}^{T} f_t(x_t) - \min_{x \in \mathcal F} \sum_{t=1}^{T} f_t(x).

An algorithm "learns" when :math:`R_T / T \to 0`. This module plays *online linear* problems on an
interval, :math:`f_t(x) = a_t x` with :math:`\mathcal F = [\text{low}, \text{high}]`: the hardest
case, since for convex :math:`f_t` with gradient :math:`g_t` at :math:`x_t`,
:math:`f_t(x_t) - f_t(x) \le g_t\,(x_t - x)`, so any regret bound for linear losses holds for
convex ones. Each problem is a tensor of coefficients of shape ``(T, n)``: ``n`` independent
copies (seeds, or settings) played at once, one coordinate each. Adam, AMSGrad and Adagrad act
coordinate by coordinate, so one optimizer over a vector of ``n`` coordinates plays the ``n``
copies exactly as ``n`` separate runs would.

Reddi, Kale & Kumar's counterexample (Reddi, Kale & Kumar, 2018) (their Theorem 1) is
:func:`optlib.problems.reddi_coefficients`: on :math:`\mathcal F = [-1, 1]`,

.. math:: f_t(x) = \begin{cases} C\,x & t \bmod 3 = 1 \\ -x & \text{otherwise} \end{cases}
          \qquad C > 2,

whose losses sum to :math:`(C - 2)\,x` every three rounds, so :math:`x^\star = -1` is the best
fixed point and :math:`x = +1` the worst. With :math:`\beta_1 = 0` and
:math:`\beta_2 = 1/(1 + C^2)` (:func:`optlib.problems.reddi_beta2`) Adam converges to :math:`+1`.
:func:`optlib.problems.reddi_stochastic_coefficients` is their stochastic variant (Theorem 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

__all__ = [
    "OnlineRun",
    "adagrad_regret_bound",
    "play_online",
    "regret",
]


# --------------------------------------------------------------------------------------------
# The projected online driver
# --------------------------------------------------------------------------------------------
class OnlineRun(NamedTuple):
    """One online game: what the player played and what it cost."""

    iterates: Tensor
    """``(T, n)``: :math:`x_t`, the point played in round ``t`` (row ``t - 1``), before the
    update that uses :math:`f_t`."""
    coefficients: Tensor
    """``(T, n)``: the losses :math:`f_t(x) = a_t x`."""
    low: float
    high: float

    @property
    def regret(self) -> Tensor:
        """``(T, n)``: :math:`R_t` after every round, see :func:`regret`."""
        return regret(self.iterates, self.coefficients, self.low, self.high)


def _check_bounds(low: float, high: float) -> None:
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"Invalid bounds: low={low!r}, high={high!r} (expected low < high)")


def play_online(
    coefficients: Tensor,
    make_optimizer: Callable[[Sequence[Tensor]], Optimizer],
    *,
    lr_lambda: Callable[[int], float] | None = None,
    x0: float = 0.0,
    low: float = -1.0,
    high: float = 1.0,
) -> OnlineRun:
    r"""Play the online linear problem ``coefficients`` with a ``torch.optim`` optimizer.

    Round :math:`t`: play :math:`x_t`, receive :math:`f_t(x) = a_t x` and its gradient
    :math:`g_t = a_t`, take one optimizer step, then project back onto
    :math:`\mathcal F = [\text{low}, \text{high}]`:

    .. math:: x_{t+1} = \Pi_{\mathcal F}\big(x_t + \Delta x_t\big),
              \qquad \Pi_{[\ell, h]}(y) = \min(h, \max(\ell, y)).

    (In one dimension every weighted Euclidean projection, such as the one in Adagrad's and
    AMSGrad's analyses, is this clamp.)

    Args:
        coefficients: ``(T, n)`` (or ``(T,)``) losses :math:`a_t`; ``n`` copies played at once.
        make_optimizer: builds the optimizer from ``[x]``, e.g.
            ``lambda p: optlib.optim.Adam(p, lr=0.5, betas=(0.0, 0.1))``.
        lr_lambda: optional multiplier of the learning rate, applied with
            ``torch.optim.lr_scheduler.LambdaLR`` (e.g. :func:`optlib.rules.inverse_sqrt_decay`).
        x0: the first point played (projected onto the interval).
    """
    _check_bounds(low, high)
    if not isinstance(coefficients, Tensor) or coefficients.ndim not in (1, 2):
        raise ValueError("Invalid coefficients: expected a tensor of shape (T,) or (T, n)")
    if coefficients.ndim == 1:
        coefficients = coefficients[:, None]
    if len(coefficients) < 1:
        raise ValueError("Invalid coefficients: no rounds")
    coefficients = coefficients.to(torch.float64)
    rounds, n_copies = coefficients.shape

    x = torch.full((n_copies,), float(x0), dtype=torch.float64).clamp_(low, high)
    x.grad = torch.zeros_like(x)
    optimizer = make_optimizer([x])
    scheduler = LambdaLR(optimizer, lr_lambda) if lr_lambda is not None else None
    iterates = torch.empty_like(coefficients)
    with torch.no_grad():
        for t in range(rounds):
            iterates[t] = x
            x.grad.copy_(coefficients[t])  # the gradient of f_t(x) = a_t x
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            x.clamp_(low, high)  # the projection
    return OnlineRun(iterates, coefficients, float(low), float(high))


# --------------------------------------------------------------------------------------------
# Regret and Adagrad's bound
# --------------------------------------------------------------------------------------------
def regret(iterates: Tensor, coefficients: Tensor, low: float = -1.0, high: float = 1.0) -> Tensor:
    r"""Regret :math:`R_t` after every round against the best fixed point in hindsight.

    For linear losses the best fixed point is an end of the interval:

    .. math:: R_t = \sum_{s \le t} a_s x_s - \min\Big(\ell \sum_{s \le t} a_s,\;
              h \sum_{s \le t} a_s\Big).

    Returns a tensor shaped like ``iterates``.
    """
    _check_bounds(low, high)
    if iterates.shape != coefficients.shape:
        raise ValueError(
            f"Invalid shapes: iterates {tuple(iterates.shape)} vs coefficients "
            f"{tuple(coefficients.shape)}"
        )
    paid = torch.cumsum(coefficients * iterates, dim=0)
    total = torch.cumsum(coefficients, dim=0)
    return paid - torch.minimum(low * total, high * total)


def adagrad_regret_bound(coefficients: Tensor, lr: float, diameter: float) -> Tensor:
    r"""Duchi, Hazan & Singer's regret bound for (projected) Adagrad in one dimension.

    Theorem 5 of Duchi, Hazan & Singer (2011), composite mirror-descent form with
    :math:`\phi = 0`: for step size :math:`\eta` and a set of :math:`\ell_\infty` diameter
    :math:`D_\infty`,

    .. math:: R_T \le \Big(\frac{D_\infty^2}{2\eta} + \eta\Big)\,
              \sqrt{\textstyle\sum_{t=1}^{T} g_t^2}.

    Returns the bound after every round, shaped like ``coefficients`` (the gradients
    :math:`g_t = a_t`). It grows like :math:`\sqrt T` when the gradients are bounded.
    """
    if not lr > 0:
        raise ValueError(f"Invalid lr: {lr!r} (expected > 0)")
    if not diameter > 0:
        raise ValueError(f"Invalid diameter: {diameter!r} (expected > 0)")
    gradient_norm = torch.cumsum(coefficients.to(torch.float64) ** 2, dim=0).sqrt()
    return (diameter**2 / (2 * lr) + lr) * gradient_norm
