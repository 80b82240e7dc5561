r"""Update rules as small pure functions: one function per equation of chapter 3.

Every function here is written with arithmetic operators only (``+ - * / **``), so the same rule
runs on a Python ``float``, a NumPy array and a ``torch.Tensor``. Chapter 3 traces a 1-D example
by hand with floats and plots a 2-D one with NumPy; :mod:`optlib.optim` runs them on tensors. The
exceptions, :func:`zeros_like`, :func:`full_like` and :func:`elementwise_max`, dispatch on the
type explicitly.

Conventions follow PyTorch (``torch.optim``), so that :mod:`optlib.optim` can be tested against it
step by step:

* the step counter :math:`t` starts at 1 on the first update;
* Adam's and Adagrad's :math:`\epsilon` is added *outside* the square root;
* Adagrad's accumulator starts at ``initial_accumulator_value`` (default 0);
* ``weight_decay`` in SGD, Adagrad, RMSprop and Adam is an L2 term added to the gradient,
  :eq:`eq-l2-gradient`; only AdamW decays the weights directly, :eq:`eq-decoupled-decay`.

Each ``*_update`` function takes the gradient, the optimizer state and the parameter and returns
``(delta, new_state)``, where ``delta`` is the change to add to the parameter (as in optax):

>>> delta, state = adam_update(0.5, adam_init(1.0), 1.0, lr=0.1)
>>> round(delta, 6)
-0.1
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

Array = Any  # a Python float, a NumPy array or a torch.Tensor


# --------------------------------------------------------------------------------------------
# Helpers that cannot be written with operators alone
# --------------------------------------------------------------------------------------------
def zeros_like(x: Array) -> Array:
    """Zeros of the same type, shape and dtype as ``x`` (float, NumPy array, tensor)."""
    if isinstance(x, torch.Tensor):
        return torch.zeros_like(x, memory_format=torch.preserve_format)
    if isinstance(x, np.ndarray):
        return np.zeros_like(x)
    return 0.0 * x


def full_like(x: Array, value: float) -> Array:
    """``value`` everywhere, with the type, shape and dtype of ``x``."""
    if isinstance(x, torch.Tensor):
        return torch.full_like(x, value, memory_format=torch.preserve_format)
    if isinstance(x, np.ndarray):
        return np.full_like(x, value)
    return float(value) + 0.0 * x


def elementwise_max(a: Array, b: Array) -> Array:
    """The elementwise maximum of ``a`` and ``b`` (exact, unlike ``(a + b + |a - b|) / 2``)."""
    if isinstance(a, torch.Tensor):
        return torch.maximum(a, b)
    return np.maximum(a, b) if isinstance(a, np.ndarray) else max(a, b)


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------
def ascent_gradient(grad: Array, maximize: bool) -> Array:
    r"""The gradient to descend: :math:`g_t` or, with ``maximize=True``, :math:`-g_t`."""
    return -grad if maximize else grad


def l2_gradient(grad: Array, param: Array, weight_decay: float) -> Array:
    r"""L2 regularization folded into the gradient, eq. :eq:`eq-l2-gradient`.

    .. math:: g_t \leftarrow g_t + \lambda\,\theta_{t-1}

    This is what ``weight_decay`` means in ``torch.optim.SGD``, ``Adagrad``, ``RMSprop`` and
    ``Adam``: the gradient of :math:`\tfrac{\lambda}{2}\lVert\theta\rVert^2` added to the loss's.
    """
    return grad + weight_decay * param if weight_decay != 0 else grad


def decoupled_decay(param: Array, lr: float, weight_decay: float) -> Array:
    r"""AdamW's decoupled weight decay, eq. :eq:`eq-decoupled-decay` (returned as a change).

    .. math:: \theta_{t-1} \leftarrow (1 - \alpha\lambda)\,\theta_{t-1}

    returned as the change :math:`\Delta\theta = -\alpha\lambda\,\theta_{t-1}` (``lr`` is Adam's
    step size :math:`\alpha`).

    The decay never passes through the adaptive denominator, unlike :func:`l2_gradient` in Adam.
    """
    return -(lr * weight_decay) * param


def ema(average: Array, value: Array, decay: float) -> Array:
    r"""One step of an exponential moving average, eq. :eq:`eq-ema`.

    .. math:: a_t = \beta\,a_{t-1} + (1-\beta)\,x_t
    """
    return decay * average + (1 - decay) * value


# --------------------------------------------------------------------------------------------
# SGD and momentum
# --------------------------------------------------------------------------------------------
class SGDState(NamedTuple):
    """State of (momentum) SGD: the momentum buffer :math:`b_t` (``None`` before the first step)."""

    momentum_buffer: Array | None


def sgd_init(param: Array) -> SGDState:
    """Initial SGD state: no momentum buffer yet (PyTorch starts it at the first gradient)."""
    return SGDState(momentum_buffer=None)


def momentum_buffer(
    buffer: Array | None, grad: Array, momentum: float, dampening: float = 0.0
) -> Array:
    r"""The heavy-ball momentum buffer, eq. :eq:`eq-momentum` (PyTorch's convention).

    .. math:: b_1 = g_1, \qquad b_t = \mu\,b_{t-1} + (1-\tau)\,g_t

    :math:`\mu` is ``momentum`` and :math:`\tau` is ``dampening``.
    """
    if buffer is None:
        return grad + zeros_like(grad)  # a copy: the buffer must not alias the gradient
    return momentum * buffer + (1 - dampening) * grad


def sgd_direction(grad: Array, buffer: Array, momentum: float, nesterov: bool) -> Array:
    r"""The direction SGD steps along, eq. :eq:`eq-momentum-step`.

    .. math:: d_t = b_t \ \text{(heavy ball)} \qquad\text{or}\qquad
              d_t = g_t + \mu\,b_t \ \text{(Nesterov)}
    """
    return grad + momentum * buffer if nesterov else buffer


def sgd_update(
    grad: Array,
    state: SGDState,
    param: Array,
    *,
    lr: float = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> tuple[Array, SGDState]:
    r"""One step of SGD, with optional heavy-ball or Nesterov momentum, eq. :eq:`eq-sgd`.

    .. math:: \Delta\theta_t = -\eta\, d_t, \qquad d_t = g_t \ \text{(no momentum)}
    """
    grad = l2_gradient(ascent_gradient(grad, maximize), param, weight_decay)
    if momentum == 0:
        return -lr * grad, state
    buffer = momentum_buffer(state.momentum_buffer, grad, momentum, dampening)
    return -lr * sgd_direction(grad, buffer, momentum, nesterov), SGDState(buffer)


# --------------------------------------------------------------------------------------------
# Adagrad
# --------------------------------------------------------------------------------------------
class AdagradState(NamedTuple):
    """State of Adagrad: the running sum of squared gradients :math:`G_t` and the step count."""

    sum_sq: Array
    step: int


def adagrad_init(param: Array, initial_accumulator_value: float = 0.0) -> AdagradState:
    r"""Initial Adagrad state: :math:`G_0` = ``initial_accumulator_value``, :math:`t = 0`."""
    return AdagradState(sum_sq=full_like(param, initial_accumulator_value), step=0)


def adagrad_accumulate(sum_sq: Array, grad: Array) -> Array:
    r"""Adagrad's accumulator, eq. :eq:`eq-adagrad-accumulate`.

    .. math:: G_t = G_{t-1} + g_t \odot g_t
    """
    return sum_sq + grad * grad


def adagrad_lr(lr: float, step: int, lr_decay: float = 0.0) -> float:
    r"""Adagrad's (optionally decayed) global learning rate, eq. :eq:`eq-adagrad-lr`.

    .. math:: \eta_t = \frac{\eta}{1 + (t-1)\,\eta_{\text{decay}}}
    """
    return lr / (1 + (step - 1) * lr_decay)


def adagrad_step(grad: Array, sum_sq: Array, lr_t: float, eps: float = 1e-10) -> Array:
    r"""Adagrad's per-coordinate step, eq. :eq:`eq-adagrad-update`.

    .. math:: \Delta\theta_t = -\eta_t\,\frac{g_t}{\sqrt{G_t} + \epsilon}
    """
    return -lr_t * grad / (sum_sq**0.5 + eps)


def adagrad_update(
    grad: Array,
    state: AdagradState,
    param: Array,
    *,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> tuple[Array, AdagradState]:
    r"""One Adagrad step, eqs. :eq:`eq-adagrad-accumulate` to :eq:`eq-adagrad-update`.

    .. math:: G_t = G_{t-1} + g_t^2, \qquad
              \Delta\theta_t = -\frac{\eta}{1 + (t-1)\,\eta_{\text{decay}}}\;
              \frac{g_t}{\sqrt{G_t}+\epsilon}
    """
    step = state.step + 1
    grad = l2_gradient(ascent_gradient(grad, maximize), param, weight_decay)
    sum_sq = adagrad_accumulate(state.sum_sq, grad)
    delta = adagrad_step(grad, sum_sq, adagrad_lr(lr, step, lr_decay), eps)
    return delta, AdagradState(sum_sq, step)


# --------------------------------------------------------------------------------------------
# RMSprop
# --------------------------------------------------------------------------------------------
class RMSpropState(NamedTuple):
    """State of RMSprop: :math:`v_t`, and (if used) the mean gradient and the momentum buffer."""

    square_avg: Array
    grad_avg: Array | None
    momentum_buffer: Array | None
    step: int


def rmsprop_init(param: Array, *, momentum: float = 0.0, centered: bool = False) -> RMSpropState:
    """Initial RMSprop state: zeros, with the optional buffers only where they are used."""
    return RMSpropState(
        square_avg=zeros_like(param),
        grad_avg=zeros_like(param) if centered else None,
        momentum_buffer=zeros_like(param) if momentum > 0 else None,
        step=0,
    )


def rmsprop_denominator(square_avg: Array, grad_avg: Array | None, eps: float) -> Array:
    r"""RMSprop's denominator, eq. :eq:`eq-rmsprop-denominator`; centered if ``grad_avg`` is given.

    .. math:: \sqrt{v_t} + \epsilon \;\longrightarrow\; \sqrt{v_t - \bar g_t^{\,2}} + \epsilon
              \ \ \text{(centered)}
    """
    variance = square_avg if grad_avg is None else square_avg - grad_avg * grad_avg
    return variance**0.5 + eps


def rmsprop_update(
    grad: Array,
    state: RMSpropState,
    param: Array,
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> tuple[Array, RMSpropState]:
    r"""One RMSprop step, eqs. :eq:`eq-rmsprop` and :eq:`eq-rmsprop-denominator`.

    .. math:: v_t = \rho\,v_{t-1} + (1-\rho)\,g_t^2, \qquad
              \Delta\theta_t = -\eta\,\frac{g_t}{\sqrt{v_t} + \epsilon}

    The decay :math:`\rho` is torch's ``alpha``. With ``momentum`` :math:`\mu > 0`:
    :math:`b_t = \mu b_{t-1} + g_t / (\sqrt{v_t} + \epsilon)` and
    :math:`\Delta\theta_t = -\eta\, b_t`.
    """
    grad = l2_gradient(ascent_gradient(grad, maximize), param, weight_decay)
    square_avg = ema(state.square_avg, grad * grad, alpha)
    grad_avg = ema(state.grad_avg, grad, alpha) if centered else None
    scaled_grad = grad / rmsprop_denominator(square_avg, grad_avg, eps)
    if momentum > 0:
        buffer = momentum * state.momentum_buffer + scaled_grad
        return -lr * buffer, RMSpropState(square_avg, grad_avg, buffer, state.step + 1)
    return -lr * scaled_grad, RMSpropState(square_avg, grad_avg, None, state.step + 1)


# --------------------------------------------------------------------------------------------
# Adam, AMSGrad and AdamW
# --------------------------------------------------------------------------------------------
class AdamState(NamedTuple):
    r"""State of Adam: moments :math:`m_t`, :math:`v_t`, AMSGrad's running max, and :math:`t`."""

    exp_avg: Array
    exp_avg_sq: Array
    max_exp_avg_sq: Array | None
    step: int


def adam_init(param: Array, amsgrad: bool = False) -> AdamState:
    r"""Initial Adam state: :math:`m_0 = v_0 = 0` (and :math:`v^{\max}_0 = 0`), :math:`t = 0`."""
    return AdamState(
        exp_avg=zeros_like(param),
        exp_avg_sq=zeros_like(param),
        max_exp_avg_sq=zeros_like(param) if amsgrad else None,
        step=0,
    )


def adam_first_moment(exp_avg: Array, grad: Array, beta1: float) -> Array:
    r"""Adam's first-moment estimate, eq. :eq:`eq-adam-m`.

    .. math:: m_t = \beta_1\,m_{t-1} + (1-\beta_1)\,g_t
    """
    return beta1 * exp_avg + (1 - beta1) * grad


def adam_second_moment(exp_avg_sq: Array, grad: Array, beta2: float) -> Array:
    r"""Adam's second-moment estimate, eq. :eq:`eq-adam-v`.

    .. math:: v_t = \beta_2\,v_{t-1} + (1-\beta_2)\,g_t^2
    """
    return beta2 * exp_avg_sq + (1 - beta2) * grad * grad


def bias_correction(beta: float, step: int) -> float:
    r"""The factor that un-biases a zero-initialised moving average, eq. :eq:`eq-adam-bias`.

    .. math:: \hat m_t = \frac{m_t}{1-\beta_1^{\,t}}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^{\,t}}

    Returns :math:`1-\beta^{t}`.
    """
    return 1 - beta**step


def amsgrad_max(max_exp_avg_sq: Array, exp_avg_sq: Array) -> Array:
    r"""AMSGrad's running maximum of the second moment, eq. :eq:`eq-amsgrad`.

    .. math:: v^{\max}_t = \max\left(v^{\max}_{t-1},\, v_t\right)
    """
    return elementwise_max(max_exp_avg_sq, exp_avg_sq)


def adam_step(
    exp_avg: Array, exp_avg_sq: Array, step: int, lr: float, beta1: float, beta2: float, eps: float
) -> Array:
    r"""Adam's bias-corrected step, eq. :eq:`eq-adam-update`.

    .. math:: \Delta\theta_t = -\alpha\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    Computed as PyTorch does, :math:`-\frac{\alpha}{1-\beta_1^t}\, m_t \big/
    \left(\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon\right)`, which is the same number.
    """
    step_size = lr / bias_correction(beta1, step)
    denominator = exp_avg_sq**0.5 / bias_correction(beta2, step) ** 0.5 + eps
    return -step_size * exp_avg / denominator


def adam_update(
    grad: Array,
    state: AdamState,
    param: Array,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> tuple[Array, AdamState]:
    r"""One Adam step (AMSGrad with ``amsgrad=True``, AdamW with ``decoupled_weight_decay=True``).

    Eqs. :eq:`eq-adam-m` to :eq:`eq-adam-update`:

    .. math:: m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad
              v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \quad
              \Delta\theta_t = -\alpha\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}
    """
    beta1, beta2 = betas
    step = state.step + 1
    grad = ascent_gradient(grad, maximize)
    if not decoupled_weight_decay:
        grad = l2_gradient(grad, param, weight_decay)
    exp_avg = adam_first_moment(state.exp_avg, grad, beta1)
    exp_avg_sq = adam_second_moment(state.exp_avg_sq, grad, beta2)
    max_exp_avg_sq = amsgrad_max(state.max_exp_avg_sq, exp_avg_sq) if amsgrad else None
    denominator_source = max_exp_avg_sq if amsgrad else exp_avg_sq
    delta = adam_step(exp_avg, denominator_source, step, lr, beta1, beta2, eps)
    if decoupled_weight_decay and weight_decay != 0:
        delta = delta + decoupled_decay(param, lr, weight_decay)
    return delta, AdamState(exp_avg, exp_avg_sq, max_exp_avg_sq, step)


def adamw_update(
    grad: Array,
    state: AdamState,
    param: Array,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
) -> tuple[Array, AdamState]:
    r"""One AdamW step: Adam plus decoupled weight decay, eq. :eq:`eq-decoupled-decay`.

    .. math:: \Delta\theta_t = -\alpha\lambda\,\theta_{t-1}
              - \alpha\,\frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon}
    """
    return adam_update(
        grad,
        state,
        param,
        lr=lr,
        betas=betas,
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
        decoupled_weight_decay=True,
    )


# --------------------------------------------------------------------------------------------
# Variants the book compares: what other sources write, and what a piece of Adam fixes
# --------------------------------------------------------------------------------------------
def adam_update_without_bias_correction(
    grad: Array,
    state: AdamState,
    param: Array,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[Array, AdamState]:
    r"""Adam *without* the bias correction of eq. :eq:`eq-adam-bias`: what the correction fixes.

    .. math:: \Delta\theta_t = -\alpha\,\frac{m_t}{\sqrt{v_t} + \epsilon}

    Same moments as :func:`adam_update`; a demonstration, not an optimizer to use.

    >>> delta, _ = adam_update_without_bias_correction(1.0, adam_init(0.0), 0.0, lr=0.1, eps=0.0)
    >>> round(delta, 6)  # m_1 / sqrt(v_1) = 0.1 / sqrt(0.001)
    -0.316228
    """
    beta1, beta2 = betas
    exp_avg = adam_first_moment(state.exp_avg, grad, beta1)
    exp_avg_sq = adam_second_moment(state.exp_avg_sq, grad, beta2)
    delta = -lr * exp_avg / (exp_avg_sq**0.5 + eps)
    return delta, AdamState(exp_avg, exp_avg_sq, None, state.step + 1)


def amsgrad_reddi_update(
    grad: Array,
    state: AdamState,
    param: Array,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[Array, AdamState]:
    r"""AMSGrad as in Algorithm 2 of Reddi, Kale & Kumar (2018): no bias correction (chapter 3).

    .. math:: v^{\max}_t = \max\left(v^{\max}_{t-1},\, v_t\right), \qquad
              \Delta\theta_t = -\alpha\,\frac{m_t}{\sqrt{v^{\max}_t} + \epsilon}

    with the moments :math:`m_t, v_t` of ``adam_update``, a constant :math:`\beta_1` and a
    constant :math:`\alpha` (their analysis takes :math:`\alpha_t = \alpha/\sqrt t`; pass
    ``lr`` per step for that). The denominator :math:`\sqrt{v^{\max}_t}` never shrinks, so the
    effective learning rate :math:`\alpha/(\sqrt{v^{\max}_t}+\epsilon)` never rises. The
    :math:`\epsilon` (added outside the root, as in PyTorch) only keeps the first step finite
    for a zero gradient.

    >>> state = adam_init(0.0, amsgrad=True)
    >>> delta, state = amsgrad_reddi_update(2.0, state, 0.0, lr=0.1, eps=0.0)
    >>> round(delta, 4)  # (1 - beta1) g / (sqrt(1 - beta2) |g|) times alpha
    -0.3162
    """
    if state.max_exp_avg_sq is None:
        raise ValueError("Invalid state: AMSGrad needs max_exp_avg_sq (adam_init(amsgrad=True))")
    beta1, beta2 = betas
    exp_avg = adam_first_moment(state.exp_avg, grad, beta1)
    exp_avg_sq = adam_second_moment(state.exp_avg_sq, grad, beta2)
    max_exp_avg_sq = amsgrad_max(state.max_exp_avg_sq, exp_avg_sq)
    delta = -lr * exp_avg / (max_exp_avg_sq**0.5 + eps)
    return delta, AdamState(exp_avg, exp_avg_sq, max_exp_avg_sq, state.step + 1)


def adam_update_epsilon_hat(
    grad: Array,
    state: AdamState,
    param: Array,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-7,
) -> tuple[Array, AdamState]:
    r"""Adam in the order at the end of section 2 of Kingma & Ba (2015), as TensorFlow/Keras run it.

    .. math:: \alpha_t = \alpha\,\frac{\sqrt{1-\beta_2^{\,t}}}{1-\beta_1^{\,t}}, \qquad
              \Delta\theta_t = -\alpha_t\,\frac{m_t}{\sqrt{v_t} + \hat\epsilon}

    Without :math:`\hat\epsilon` this is exactly eq. :eq:`eq-adam-update`; with it, it equals
    eq. :eq:`eq-adam-update` with :math:`\epsilon = \hat\epsilon/\sqrt{1-\beta_2^{\,t}}`
    (:func:`epsilon_hat_equivalent`), an :math:`\epsilon` that starts
    :math:`1/\sqrt{1-\beta_2} \approx 31.6` times larger than :math:`\hat\epsilon` and settles to
    it. Keras's default is :math:`\hat\epsilon = 10^{-7}`.

    >>> delta, _ = adam_update_epsilon_hat(1.0, adam_init(0.0), 0.0, lr=0.1, eps=0.0)
    >>> round(delta, 12)
    -0.1
    """
    beta1, beta2 = betas
    step = state.step + 1
    exp_avg = adam_first_moment(state.exp_avg, grad, beta1)
    exp_avg_sq = adam_second_moment(state.exp_avg_sq, grad, beta2)
    step_size = lr * bias_correction(beta2, step) ** 0.5 / bias_correction(beta1, step)
    delta = -step_size * exp_avg / (exp_avg_sq**0.5 + eps)
    return delta, AdamState(exp_avg, exp_avg_sq, None, step)


def epsilon_hat_equivalent(eps_hat: float, beta2: float, step: int) -> float:
    r"""PyTorch's :math:`\epsilon` that gives the same step at ``step`` as Keras's ``eps_hat``.

    .. math:: \epsilon_t = \frac{\hat\epsilon}{\sqrt{1 - \beta_2^{\,t}}}

    >>> round(epsilon_hat_equivalent(1e-7, 0.999, 1) / 1e-7, 2)
    31.62
    """
    if int(step) != step or step < 1:
        raise ValueError(f"Invalid step: {step!r} (expected an integer >= 1)")
    if not 0.0 <= beta2 < 1.0:
        raise ValueError(f"Invalid beta2: {beta2!r} (expected 0 <= beta2 < 1)")
    return eps_hat / bias_correction(beta2, int(step)) ** 0.5


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
    state: AdagradState,
    param: Array,
    *,
    lr: float,
    eps: float,
    eps_inside_root: bool,
) -> tuple[Array, AdagradState]:
    r"""One Adagrad step with epsilon outside (PyTorch) or inside (optax, d2l) the square root.

    .. math:: \Delta\theta_t = -\eta\,\frac{g_t}{\sqrt{G_t} + \epsilon}
              \qquad\text{or}\qquad \Delta\theta_t = -\eta\,\frac{g_t}{\sqrt{G_t + \epsilon}}

    Start the state with ``adagrad_init(param, G_0)`` to choose :math:`G_0`.

    >>> delta, _ = adagrad_convention_update(2.0, adagrad_init(0.0), 0.0, lr=1.0, eps=0.0,
    ...                                      eps_inside_root=True)
    >>> delta
    -1.0
    """
    sum_sq = adagrad_accumulate(state.sum_sq, grad)
    if eps_inside_root:
        delta = -lr * grad / (sum_sq + eps) ** 0.5
    else:
        delta = adagrad_step(grad, sum_sq, lr, eps)
    return delta, AdagradState(sum_sq, state.step + 1)


# --------------------------------------------------------------------------------------------
# Step-size schedules
# --------------------------------------------------------------------------------------------
def inverse_sqrt_decay(steps_taken: int) -> float:
    r"""The step-size multiplier :math:`1/\sqrt{t}` of :math:`\alpha_t = \alpha/\sqrt{t}`, for the
    step after ``steps_taken`` steps (:math:`t =` ``steps_taken`` :math:`+ 1`, so the first step
    uses the full :math:`\alpha`). The schedule of Kingma & Ba's convergence analysis and of their
    logistic-regression experiments; it is also ``LambdaLR``'s ``lr_lambda`` form, whose argument
    counts scheduler steps from 0.

    >>> [round(inverse_sqrt_decay(k), 3) for k in range(4)]
    [1.0, 0.707, 0.577, 0.5]
    """
    if steps_taken < 0:
        raise ValueError(f"Invalid steps_taken: {steps_taken} (expected >= 0)")
    return 1.0 / (steps_taken + 1) ** 0.5
