r"""Adam's and Adagrad's equations again, computed in place: what ``optim.Adam``/``Adagrad`` run.

:mod:`optlib.rules` says *what* an optimizer computes: one pure function per equation of chapter
3, each returning new values. Written with operators only, Adam is 13 elementwise passes over
the weights, each writing a fresh tensor, which made ``step()`` 1.6 times as slow as
``torch.optim.Adam``. This module computes the same equations the way ``torch.optim`` does, on
lists of tensors, overwriting the optimizer state and the parameters with PyTorch's fused
*foreach* kernels (``lerp_``, ``addcmul_``, ``addcdiv_``): 7 passes, one temporary.

Each function here implements one function of :mod:`optlib.rules`, named after it with a
trailing underscore (PyTorch's mark for "in place"), and says which. ``tests/test_kernels.py``
checks every pair on random inputs in float64, and ``tests/test_optim_parity.py`` checks both
ways of running an optimizer against ``torch.optim``. ``optim.Adam(..., foreach=False)`` runs
the pure rules instead, one tensor at a time: the most direct reading of the algorithm.

The numbers agree with the rules to rounding, not bit for bit: ``lerp`` computes
:math:`m + (1-\beta_1)(g - m)`, the same :math:`\beta_1 m + (1-\beta_1) g` with different
roundings (the difference is ~1e-16 relative in float64).

Lists hold tensors of one device and dtype (other mixes work, more slowly); ``state`` is the
rule's NamedTuple (:class:`~optlib.rules.AdamState`, :class:`~optlib.rules.AdagradState`) with a
list wherever the rule has one value per tensor, step counts included: tensors that missed some
gradients have their own step count. The update functions return the new state (the same
lists, updated, and every step count plus one).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from optlib import rules

Tensors = list[Tensor]


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------
def ascent_gradient(grads: Tensors, maximize: bool) -> Tensors:
    """:func:`optlib.rules.ascent_gradient`: new tensors :math:`-g_t` with ``maximize``."""
    return torch._foreach_neg(grads) if maximize else grads


def l2_gradient(grads: Tensors, params: Tensors, weight_decay: float) -> Tensors:
    r""":func:`optlib.rules.l2_gradient`: new tensors :math:`g_t + \lambda\theta_{t-1}`.

    The gradients belong to autograd, so this never writes into them.
    """
    if weight_decay == 0:
        return grads
    return torch._foreach_add(grads, params, alpha=weight_decay)


def decoupled_decay_(params: Tensors, lr: float, weight_decay: float) -> None:
    r""":func:`optlib.rules.decoupled_decay` in place.

    .. math:: \theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1}
    """
    if weight_decay != 0:
        torch._foreach_mul_(params, 1 - lr * weight_decay)


# --------------------------------------------------------------------------------------------
# Adam, AMSGrad and AdamW
# --------------------------------------------------------------------------------------------
def adam_first_moment_(exp_avgs: Tensors, grads: Tensors, beta1: float) -> None:
    r""":func:`optlib.rules.adam_first_moment` in place, as a linear interpolation.

    .. math:: m_t = \beta_1\,m_{t-1} + (1-\beta_1)\,g_t = m_{t-1} + (1-\beta_1)(g_t - m_{t-1})
    """
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)


def adam_second_moment_(exp_avg_sqs: Tensors, grads: Tensors, beta2: float) -> None:
    r""":func:`optlib.rules.adam_second_moment` in place.

    .. math:: v_t = \beta_2\,v_{t-1} + (1-\beta_2)\,g_t^2
    """
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)


def amsgrad_max_(max_exp_avg_sqs: Tensors, exp_avg_sqs: Tensors) -> None:
    r""":func:`optlib.rules.amsgrad_max` in place.

    .. math:: v^{\max}_t = \max\left(v^{\max}_{t-1},\, v_t\right)
    """
    torch._foreach_maximum_(max_exp_avg_sqs, exp_avg_sqs)


def adam_step_(
    params: Tensors,
    exp_avgs: Tensors,
    exp_avg_sqs: Tensors,
    steps: list[int],
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
) -> None:
    r""":func:`optlib.rules.adam_step` (with :func:`~optlib.rules.bias_correction`), added to the
    parameters in place; ``steps[i]`` is :math:`t` for tensor ``i``.

    .. math:: \theta_t = \theta_{t-1} - \frac{\alpha}{1-\beta_1^t}\,
              \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}
    """
    step_sizes = [-lr / rules.bias_correction(beta1, step) for step in steps]
    denominators = torch._foreach_sqrt(exp_avg_sqs)  # the one temporary
    torch._foreach_div_(
        denominators, [math.sqrt(rules.bias_correction(beta2, step)) for step in steps]
    )
    torch._foreach_add_(denominators, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denominators, step_sizes)


def adam_update_(
    grads: Tensors,
    state: rules.AdamState,
    params: Tensors,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> rules.AdamState:
    r""":func:`optlib.rules.adam_update` in place: updates ``params`` and ``state``'s tensors.

    .. math:: m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad
              v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \quad
              \theta_t = \theta_{t-1}
              - \alpha\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}
    """
    beta1, beta2 = betas
    steps = [step + 1 for step in state.step]
    grads = ascent_gradient(grads, maximize)
    if decoupled_weight_decay:
        decoupled_decay_(params, lr, weight_decay)
    else:
        grads = l2_gradient(grads, params, weight_decay)
    adam_first_moment_(state.exp_avg, grads, beta1)
    adam_second_moment_(state.exp_avg_sq, grads, beta2)
    denominator_source = state.exp_avg_sq
    if amsgrad:
        amsgrad_max_(state.max_exp_avg_sq, state.exp_avg_sq)
        denominator_source = state.max_exp_avg_sq
    adam_step_(params, state.exp_avg, denominator_source, steps, lr, beta1, beta2, eps)
    return state._replace(step=steps)


# --------------------------------------------------------------------------------------------
# Adagrad
# --------------------------------------------------------------------------------------------
def adagrad_accumulate_(sums: Tensors, grads: Tensors) -> None:
    r""":func:`optlib.rules.adagrad_accumulate` in place: :math:`G_t = G_{t-1} + g_t \odot g_t`."""
    torch._foreach_addcmul_(sums, grads, grads, 1.0)


def adagrad_step_(
    params: Tensors, grads: Tensors, sums: Tensors, lr_ts: list[float], eps: float
) -> None:
    r""":func:`optlib.rules.adagrad_step`, added to the parameters in place; ``lr_ts[i]`` is
    :math:`\eta_t` for tensor ``i``.

    .. math:: \theta_t = \theta_{t-1} - \eta_t\,\frac{g_t}{\sqrt{G_t} + \epsilon}
    """
    denominators = torch._foreach_sqrt(sums)  # the one temporary
    torch._foreach_add_(denominators, eps)
    torch._foreach_addcdiv_(params, grads, denominators, [-lr_t for lr_t in lr_ts])


def adagrad_update_(
    grads: Tensors,
    state: rules.AdagradState,
    params: Tensors,
    *,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> rules.AdagradState:
    r""":func:`optlib.rules.adagrad_update` in place: updates ``params`` and ``state.sum_sq``.

    .. math:: G_t = G_{t-1} + g_t^2, \qquad
              \theta_t = \theta_{t-1} - \frac{\eta}{1 + (t-1)\,\eta_{\text{decay}}}\;
              \frac{g_t}{\sqrt{G_t}+\epsilon}
    """
    steps = [step + 1 for step in state.step]
    grads = l2_gradient(ascent_gradient(grads, maximize), params, weight_decay)
    adagrad_accumulate_(state.sum_sq, grads)
    lr_ts = [rules.adagrad_lr(lr, step, lr_decay) for step in steps]
    adagrad_step_(params, grads, state.sum_sq, lr_ts, eps)
    return state._replace(step=steps)


def adagrad_sparse_update_(
    grad: Tensor,
    state: rules.AdagradState,
    param: Tensor,
    *,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> rules.AdagradState:
    r""":func:`optlib.rules.adagrad_update` for one parameter with a *sparse* gradient (e.g.
    ``nn.Embedding(sparse=True)``), in place, computed as ``torch.optim.Adagrad`` does.

    A row the gradient does not touch has :math:`g_t = 0` there: :math:`G_t = G_{t-1}` and no
    step, so the dense rule would leave it alone too; this computes the touched rows only. The
    update is not linear in :math:`g_t`, so an index repeated in the batch is first summed
    (``coalesce``): :math:`G_t` gains :math:`(g' + g'')^2`, not :math:`g'^2 + g''^2`.

    .. math:: G_t[i] = G_{t-1}[i] + g_t[i]^2, \qquad
              \theta_t[i] = \theta_{t-1}[i] - \eta_t\,\frac{g_t[i]}{\sqrt{G_t[i]}+\epsilon}
              \quad\text{for the rows } i \text{ in } g_t
    """
    if weight_decay != 0:  # the L2 term is dense: every row would change
        raise RuntimeError("weight_decay option is not compatible with sparse gradients")
    step = state.step + 1
    grad = (-grad if maximize else grad).coalesce()
    values = grad._values()
    state.sum_sq.add_(_sparse_like(grad, values.pow(2)))
    denominators = state.sum_sq.sparse_mask(grad)._values().sqrt_().add_(eps)
    lr_t = rules.adagrad_lr(lr, step, lr_decay)
    param.add_(_sparse_like(grad, values / denominators), alpha=-lr_t)
    return state._replace(step=step)


def _sparse_like(grad: Tensor, values: Tensor) -> Tensor:
    """A sparse tensor with ``grad``'s (coalesced, hence valid) indices and these ``values``:
    ``torch.optim.adagrad._make_sparse``."""
    return torch.sparse_coo_tensor(grad._indices(), values, grad.size(), check_invariants=False)
