r"""Chapter 3's AMSGrad experiment: effective learning rates along a gradient stream.

``spike_effective_lrs`` runs Adam, ``torch.optim``'s AMSGrad and Reddi, Kale & Kumar's AMSGrad
(:func:`optlib.rules.amsgrad_reddi_update`) on one stream, so the notebook cell stays one line.
"""

from __future__ import annotations

import numpy as np

from optlib import rules


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
        "amsgrad_reddi": (rules.amsgrad_reddi_update, rules.adam_init(zeros, amsgrad=True), {}),
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
