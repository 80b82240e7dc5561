r"""Chapter 3's helpers: AMSGrad as Reddi, Kale & Kumar wrote it, and effective learning rates.

``amsgrad_reddi_update`` is an update-rule variant (it belongs in :mod:`optlib.rules` with the
other variants once that module can be edited); ``spike_effective_lrs`` is the chapter's
AMSGrad experiment, so the notebook cell stays one line.
"""

from __future__ import annotations

import numpy as np

from optlib import rules
from optlib.rules import AdamState, Array


def amsgrad_reddi_update(
    grad: Array,
    state: AdamState,
    param: Array,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[Array, AdamState]:
    r"""AMSGrad as in Algorithm 2 of Reddi, Kale & Kumar (2018): no bias correction.

    .. math:: v^{\max}_t = \max\left(v^{\max}_{t-1},\, v_t\right), \qquad
              \Delta\theta_t = -\alpha\,\frac{m_t}{\sqrt{v^{\max}_t} + \epsilon}

    with the moments :math:`m_t, v_t` of ``adam_update``, a constant :math:`\beta_1` and a
    constant :math:`\alpha` (their analysis takes :math:`\alpha_t = \alpha/\sqrt t`; pass
    ``lr`` per step for that). The denominator :math:`\sqrt{v^{\max}_t}` never shrinks, so the
    effective learning rate :math:`\alpha/(\sqrt{v^{\max}_t}+\epsilon)` never rises. The
    :math:`\epsilon` (added outside the root, as in PyTorch) only keeps the first step finite
    for a zero gradient.

    >>> delta, state = amsgrad_reddi_update(2.0, rules.adam_init(0.0, amsgrad=True), 0.0,
    ...                                     lr=0.1, eps=0.0)
    >>> round(delta, 4)  # (1 - beta1) g / (sqrt(1 - beta2) |g|) times alpha
    -0.3162
    """
    if state.max_exp_avg_sq is None:
        raise ValueError("Invalid state: AMSGrad needs max_exp_avg_sq (adam_init(amsgrad=True))")
    beta1, beta2 = betas
    exp_avg = rules.adam_first_moment(state.exp_avg, grad, beta1)
    exp_avg_sq = rules.adam_second_moment(state.exp_avg_sq, grad, beta2)
    max_exp_avg_sq = rules.amsgrad_max(state.max_exp_avg_sq, exp_avg_sq)
    delta = -lr * exp_avg / (max_exp_avg_sq**0.5 + eps)
    return delta, AdamState(exp_avg, exp_avg_sq, max_exp_avg_sq, state.step + 1)


def spike_effective_lrs(
    grads: np.ndarray, *, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999)
) -> dict[str, np.ndarray]:
    r"""Effective learning rates of Adam and both AMSGrads along a gradient stream.

    Returns ``{"adam", "amsgrad", "amsgrad_reddi": array of shape grads.shape}``: at every step,
    :math:`\alpha` divided by what the rule divides by, :math:`\sqrt{\hat v_t}+\epsilon` (Adam),
    :math:`\sqrt{v^{\max}_t/(1-\beta_2^t)}+\epsilon` (``torch.optim.Adam(amsgrad=True)``) or
    :math:`\sqrt{v^{\max}_t}+\epsilon` (Reddi et al.).

    >>> rates = spike_effective_lrs(np.ones((3, 1)), lr=1.0)
    >>> [round(float(r[0, 0]), 3) for r in rates.values()]  # v-hat = 1; v_1 = 0.001
    [1.0, 1.0, 31.623]
    """
    grads = np.asarray(grads, dtype=float)
    beta2 = betas[1]
    eps = 1e-8
    zeros = np.zeros(grads.shape[1:])
    runs = {
        "adam": (rules.adam_update, rules.adam_init(zeros), {}),
        "amsgrad": (rules.adam_update, rules.adam_init(zeros, amsgrad=True), {"amsgrad": True}),
        "amsgrad_reddi": (amsgrad_reddi_update, rules.adam_init(zeros, amsgrad=True), {}),
    }
    rates = {}
    for name, (update, state, options) in runs.items():
        history = []
        for grad in grads:
            _, state = update(grad, state, zeros, lr=lr, betas=betas, **options)
            if name == "adam":
                denominator = (state.exp_avg_sq / rules.bias_correction(beta2, state.step)) ** 0.5
            elif name == "amsgrad":
                corrected = state.max_exp_avg_sq / rules.bias_correction(beta2, state.step)
                denominator = corrected**0.5
            else:
                denominator = state.max_exp_avg_sq**0.5
            history.append(lr / (denominator + eps))
        rates[name] = np.array(history)
    return rates
