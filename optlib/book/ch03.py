r"""Chapter 3's AMSGrad and forgetting experiments: effective learning rates along a stream.

A stream of gradients (:func:`spike_stream`: unit gradients and one spike) is replayed through a
pure rule (:func:`optlib.problems.replay_states`), and :func:`effective_lrs` reads, at every
step, the factor the rule's state puts on the step, with the formulas of
:mod:`optlib.book.analysis` (:func:`~optlib.book.analysis.adam_effective_lr`,
:func:`~optlib.book.analysis.adagrad_effective_lr`). Two experiments use it:

* :func:`spike_effective_lrs` -- Adam, ``torch.optim``'s AMSGrad and Reddi, Kale & Kumar's AMSGrad
  (:func:`optlib.rules.amsgrad_reddi_update`) on one stream, so the notebook cell stays one line;
* :func:`forgetting_rates` -- Adam's, AMSGrad's and Adagrad's over a grid of β₂ and spike steps,
  what the interactive figure :func:`optlib.figures.interactive.forgetting_explorer` shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from optlib import problems, rules
from optlib.book.analysis import adagrad_effective_lr, adam_effective_lr

RULES: dict[str, problems.Method] = {
    "adam": problems.METHODS["adam"],
    "amsgrad": problems.METHODS["amsgrad"],  # torch.optim.Adam(amsgrad=True)
    "amsgrad_reddi": problems.Method(
        partial(rules.adam_init, amsgrad=True), rules.amsgrad_reddi_update, {}
    ),
    "adagrad": problems.METHODS["adagrad"],
}
"""The rules :func:`effective_lrs` follows, by name."""


def spike_stream(steps: int, spike_steps: Sequence[int], spike: float) -> np.ndarray:
    """Unit gradients, one column per spike step, with ``spike`` at that step (1-based)."""
    grads = np.ones((steps, len(spike_steps)))
    for column, step in enumerate(spike_steps):
        if not 1 <= step <= steps:
            raise ValueError(f"Invalid spike step: {step} (expected 1 ... {steps})")
        grads[step - 1, column] = spike
    return grads


def effective_lrs(
    rule: str, grads: np.ndarray, *, lr: float, betas: tuple[float, float] = (0.9, 0.999)
) -> np.ndarray:
    r"""The effective learning rate of ``rule`` (a key of :data:`RULES`) at every step of the
    gradient stream ``grads`` (steps x coordinates), with PyTorch's defaults otherwise.

    At step :math:`t`, the step size divided by what the rule divides by:
    :math:`\eta/(\sqrt{G_t}+\epsilon)` (Adagrad), :math:`\alpha/(\sqrt{\hat v_t}+\epsilon)`
    (Adam), :math:`\alpha/(\sqrt{v^{\max}_t/(1-\beta_2^t)}+\epsilon)` (``torch.optim``'s AMSGrad)
    or :math:`\alpha/(\sqrt{v^{\max}_t}+\epsilon)` (Reddi et al.'s). Returns an array of shape
    ``grads.shape``.
    """
    grads = np.asarray(grads, dtype=float)
    method = RULES[rule]
    hyper = {} if rule == "adagrad" else {"betas": betas}
    zeros = np.zeros(grads.shape[1:])
    states = problems.replay_states(
        method.update, method.init(zeros), grads, zeros, lr=lr, **method.hyper, **hyper
    )
    return np.array([_effective_lr(rule, state, lr, betas[1]) for _, state in states])


def _effective_lr(rule: str, state: Any, lr: float, beta2: float) -> np.ndarray:
    if rule == "adagrad":
        return adagrad_effective_lr(state.sum_sq, state.step, lr=lr)
    if rule == "adam":
        return adam_effective_lr(state.exp_avg_sq, state.step, lr=lr, beta2=beta2)
    if rule == "amsgrad":
        return adam_effective_lr(state.max_exp_avg_sq, state.step, lr=lr, beta2=beta2)
    return lr / (state.max_exp_avg_sq**0.5 + 1e-8)  # Reddi et al.: no bias correction


def spike_effective_lrs(
    grads: np.ndarray, *, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999)
) -> dict[str, np.ndarray]:
    r"""Effective learning rates of Adam and both AMSGrads along a gradient stream.

    Returns ``{"adam", "amsgrad", "amsgrad_reddi": array of shape grads.shape}``
    (:func:`effective_lrs` of each).

    >>> rates = spike_effective_lrs(np.ones((3, 1)), lr=1.0)
    >>> [round(float(r[0, 0]), 3) for r in rates.values()]  # v-hat = 1; v_1 = 0.001
    [1.0, 1.0, 31.623]
    """
    return {
        rule: effective_lrs(rule, grads, lr=lr, betas=betas)
        for rule in ("adam", "amsgrad", "amsgrad_reddi")
    }


class ForgettingGrid(NamedTuple):
    """Effective learning rates per unit step size along a stream of unit gradients with one
    spike, for every β₂ and spike step of a grid.

    ``rates["adam"]`` and ``rates["amsgrad"]`` have shape ``(len(beta2s), len(spike_steps),
    steps)``, ``rates["adagrad"]`` ``(len(spike_steps), steps)``; index ``t - 1`` is step ``t``.
    """

    beta2s: tuple[float, ...]
    spike_steps: tuple[int, ...]
    spike: float
    rates: dict[str, np.ndarray]


def forgetting_rates(
    *, beta2s: Sequence[float], spike_steps: Sequence[int], steps: int, spike: float = 100.0
) -> ForgettingGrid:
    """Adam's, AMSGrad's and Adagrad's :func:`effective_lrs` with step size 1 along
    :func:`spike_stream`; every spike step runs at once, one column each (β₁ = 0.9)."""
    beta2s, spike_steps = tuple(float(b) for b in beta2s), tuple(int(s) for s in spike_steps)
    grads = spike_stream(steps, spike_steps, spike)
    rates = {
        rule: np.stack([effective_lrs(rule, grads, lr=1.0, betas=(0.9, b2)).T for b2 in beta2s])
        for rule in ("adam", "amsgrad")
    }
    rates["adagrad"] = effective_lrs("adagrad", grads, lr=1.0).T
    return ForgettingGrid(beta2s, spike_steps, float(spike), rates)
