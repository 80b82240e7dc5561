r"""Small experiments behind chapter 6, the FAQ: each one answers a question readers ask.

* :func:`wilson_problem` builds the least-squares classification problem of Wilson et al. (2017,
  section 3.3) on which adaptive methods provably find a solution that generalises worse than
  gradient descent's; :func:`wilson_test_error` is the exact error of a weight vector on new
  samples.
* :func:`adam_update_epsilon_hat` is Adam in the "more efficient" order given at the end of
  section 2 of Kingma & Ba (2015), the form TensorFlow/Keras implement; its :math:`\hat\epsilon`
  is not PyTorch's :math:`\epsilon`, and :func:`epsilon_hat_equivalent` converts one into the
  other.
* :func:`train_embedding` trains an embedding table with dense or sparse gradients and counts how
  often rows that were *not* in a minibatch moved: what separates ``torch.optim.Adam`` from
  ``torch.optim.SparseAdam``, and why Adagrad needs no sparse variant.
* :func:`train_recording_changes` trains a model and records, at every step, the loss and the
  median size of the parameter change, to see what switching optimizers mid-training does.

Everything else the FAQ measures uses :mod:`optlib.rules`, :mod:`optlib.analysis` and
:mod:`optlib.train` directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer

from optlib import rules

Array = rules.Array
OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]


# --------------------------------------------------------------------------------------------
# Wilson et al. (2017): adaptive methods can find solutions that generalise worse
# --------------------------------------------------------------------------------------------
class LinearProblem(NamedTuple):
    r"""Least squares :math:`L(w) = \tfrac12 \lVert Xw - y\rVert^2` with labels :math:`y \in
    \{-1, +1\}^n`, classified by the sign of :math:`x^\top w`."""

    x: np.ndarray  # (n, d) features
    y: np.ndarray  # (n,) labels in {-1, +1}

    def loss(self, weights: np.ndarray) -> float:
        r""":math:`\tfrac12 \lVert Xw - y\rVert^2`."""
        residual = self.x @ weights - self.y
        return 0.5 * float(residual @ residual)

    def gradient(self, weights: np.ndarray) -> np.ndarray:
        r""":math:`\nabla L(w) = X^\top (Xw - y)`."""
        return self.x.T @ (self.x @ weights - self.y)

    def train_error(self, weights: np.ndarray) -> float:
        """Fraction of training samples whose sign of :math:`x^\\top w` is not their label."""
        return float(np.mean(np.sign(self.x @ weights) != self.y))


def wilson_problem(n_samples: int, p_positive: float, seed: int = 0) -> LinearProblem:
    r"""The overparameterised problem of Wilson et al. (2017, section 3.3).

    Each label is :math:`y_i = +1` with probability :math:`p > 1/2`, else :math:`-1`. Sample
    :math:`i` has three shared features and a private block of five:

    .. math:: x_{i,1} = y_i, \qquad x_{i,2} = x_{i,3} = 1, \qquad
              x_{i,\,3 + 5(i-1) + k} = 1 \ \text{for } k = 1, \dots, 1 + 2(1 - y_i),

    so a positive sample switches on one private feature and a negative one five; every other
    entry is 0. With :math:`d = 3 + 5n > n` columns (Wilson et al. pad to :math:`6n` with unused
    zero columns, which changes nothing), the training set can be fitted exactly in many ways.

    >>> problem = wilson_problem(4, 0.6, seed=0)
    >>> problem.x.shape
    (4, 23)
    """
    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"Invalid n_samples: {n_samples!r} (expected an integer >= 1)")
    if not 0.5 < p_positive < 1.0:
        raise ValueError(f"Invalid p_positive: {p_positive!r} (expected 0.5 < p_positive < 1)")
    n_samples = int(n_samples)
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n_samples) < p_positive, 1.0, -1.0)
    x = np.zeros((n_samples, 3 + 5 * n_samples))
    x[:, 0] = y
    x[:, 1:3] = 1.0
    for i, label in enumerate(y):
        private = 1 if label > 0 else 5
        x[i, 3 + 5 * i : 3 + 5 * i + private] = 1.0
    return LinearProblem(x, y)


def wilson_test_error(weights: np.ndarray, p_positive: float) -> float:
    r"""Exact classification error of ``weights`` on new samples of :func:`wilson_problem`.

    A new sample's private features were never seen in training, so their weights are 0 and the
    prediction is :math:`\operatorname{sign}(w_1 y + w_2 + w_3)`; a score of exactly 0 counts as
    an error. Hence

    .. math:: \text{error} = p\,[w_1 + w_2 + w_3 \le 0] + (1-p)\,[-w_1 + w_2 + w_3 \ge 0].

    >>> wilson_test_error(np.array([1.0, 0.0, 0.0]), 0.6)
    0.0
    >>> wilson_test_error(np.array([0.25, 0.25, 0.25]), 0.6)  # predicts +1 for everyone
    0.4
    """
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 1 or weights.size < 3:
        raise ValueError(f"Invalid weights: shape {weights.shape} (expected a vector of >= 3)")
    if not 0.0 <= p_positive <= 1.0:
        raise ValueError(f"Invalid p_positive: {p_positive!r} (expected a probability)")
    w1, w2, w3 = weights[:3]
    wrong_on_positive = float(w1 + w2 + w3 <= 0)
    wrong_on_negative = float(-w1 + w2 + w3 >= 0)
    return p_positive * wrong_on_positive + (1 - p_positive) * wrong_on_negative


# --------------------------------------------------------------------------------------------
# Adam as TensorFlow/Keras write it: epsilon "hat"
# --------------------------------------------------------------------------------------------
def adam_update_epsilon_hat(
    grad: Array,
    state: rules.AdamState,
    param: Array,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-7,
) -> tuple[Array, rules.AdamState]:
    r"""Adam in the order at the end of section 2 of Kingma & Ba (2015), as TensorFlow/Keras run it.

    .. math:: \alpha_t = \alpha\,\frac{\sqrt{1-\beta_2^{\,t}}}{1-\beta_1^{\,t}}, \qquad
              \Delta\theta_t = -\alpha_t\,\frac{m_t}{\sqrt{v_t} + \hat\epsilon}

    The moments are those of eqs. (adam-m) and (adam-v). Without :math:`\hat\epsilon` this is
    exactly eq. (adam-update); with it, it equals eq. (adam-update) with
    :math:`\epsilon = \hat\epsilon/\sqrt{1-\beta_2^{\,t}}` (:func:`epsilon_hat_equivalent`), an
    :math:`\epsilon` that starts :math:`1/\sqrt{1-\beta_2} \approx 31.6` times larger than
    :math:`\hat\epsilon` and settles to it. Keras's default is :math:`\hat\epsilon = 10^{-7}`.

    >>> delta, _ = adam_update_epsilon_hat(1.0, rules.adam_init(0.0), 0.0, lr=0.1, eps=0.0)
    >>> round(delta, 12)
    -0.1
    """
    beta1, beta2 = betas
    step = state.step + 1
    exp_avg = rules.adam_first_moment(state.exp_avg, grad, beta1)
    exp_avg_sq = rules.adam_second_moment(state.exp_avg_sq, grad, beta2)
    step_size = lr * rules.bias_correction(beta2, step) ** 0.5 / rules.bias_correction(beta1, step)
    delta = -step_size * exp_avg / (exp_avg_sq**0.5 + eps)
    return delta, rules.AdamState(exp_avg, exp_avg_sq, None, step)


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
    return eps_hat / math.sqrt(rules.bias_correction(beta2, int(step)))


# --------------------------------------------------------------------------------------------
# Sparse embeddings: which rows move?
# --------------------------------------------------------------------------------------------
class EmbeddingRun(NamedTuple):
    """What :func:`train_embedding` saw."""

    weights: Tensor  # (n_rows, dim): the table after training
    absent_rows_moved: int  # (step, row) pairs in which a row not in the minibatch changed
    looked_up_rows: int  # (step, row) pairs in which the row was in the minibatch


def train_embedding(
    optimizer_factory: OptimizerFactory,
    *,
    sparse: bool,
    n_rows: int = 50,
    dim: int = 4,
    batch_size: int = 8,
    steps: int = 20,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> EmbeddingRun:
    r"""Train an ``nn.Embedding(n_rows, dim, sparse=sparse)`` and watch which rows move.

    Every step looks up ``batch_size`` random row indices and descends
    :math:`\tfrac12 \sum_{i \in \text{batch}} \lVert e_i - c_i \rVert^2` towards fixed random
    targets :math:`c_i`, so only looked-up rows have a non-zero gradient. With ``sparse=True`` the
    gradient is a sparse tensor holding those rows only. The initial table, the targets and the
    indices depend on ``seed`` alone, so a dense and a sparse run see the same data.

    Sparse invariant checks are switched on explicitly (PyTorch warns when they are left at
    their implicit default).
    """
    for name, value in (("n_rows", n_rows), ("dim", dim), ("batch_size", batch_size)):
        if int(value) != value or value < 1:
            raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= 1)")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"Invalid steps: {steps!r} (expected an integer >= 1)")
    generator = torch.Generator().manual_seed(seed)
    table = nn.Embedding(n_rows, dim, sparse=sparse).to(dtype)
    with torch.no_grad():
        table.weight.copy_(torch.randn(n_rows, dim, generator=generator, dtype=dtype))
    targets = torch.randn(n_rows, dim, generator=generator, dtype=dtype)
    optimizer = optimizer_factory(table.parameters())
    absent_rows_moved = looked_up_rows = 0
    with torch.sparse.check_sparse_tensor_invariants(enable=True):
        for _ in range(steps):
            rows = torch.randint(0, n_rows, (batch_size,), generator=generator)
            before = table.weight.detach().clone()
            loss = 0.5 * (table(rows) - targets[rows]).square().sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            moved = (table.weight.detach() != before).any(dim=1)
            in_batch = torch.zeros(n_rows, dtype=torch.bool)
            in_batch[rows] = True
            absent_rows_moved += int((moved & ~in_batch).sum())
            looked_up_rows += int(in_batch.sum())
    return EmbeddingRun(table.weight.detach().clone(), absent_rows_moved, looked_up_rows)


# --------------------------------------------------------------------------------------------
# Switching optimizers: what does each step change?
# --------------------------------------------------------------------------------------------
class ChangeRecord(NamedTuple):
    """Per step: the minibatch loss before the update and the median :math:`|\\Delta\\theta|`."""

    losses: np.ndarray  # (T,)
    median_abs_change: np.ndarray  # (T,): median over every coordinate of the model


def train_recording_changes(
    model: nn.Module,
    optimizer: Optimizer,
    batches: Iterable[tuple[Tensor, Tensor]],
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
) -> ChangeRecord:
    r"""Train ``model`` one step per batch; record each loss and the median of
    :math:`|\theta_t - \theta_{t-1}|` over all coordinates.

    >>> model = nn.Linear(3, 2)
    >>> batches = [(torch.ones(4, 3), torch.zeros(4, dtype=torch.long))]
    >>> adam = torch.optim.Adam(model.parameters(), lr=0.1)
    >>> record = train_recording_changes(model, adam, batches)
    >>> round(float(record.median_abs_change[0]), 6)  # Adam's first step is lr in every coordinate
    0.1
    """
    losses, changes = [], []
    params = [param for param in model.parameters() if param.requires_grad]
    for x, y in batches:
        before = [param.detach().clone() for param in params]
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        change = torch.cat(
            [
                (param.detach() - old).abs().reshape(-1)
                for param, old in zip(params, before, strict=True)
            ]
        )
        losses.append(loss.item())
        changes.append(change.median().item())
    if not losses:
        raise ValueError("Invalid batches: expected at least one batch")
    return ChangeRecord(np.array(losses), np.array(changes))
