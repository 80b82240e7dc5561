r"""Toy problems of the later chapters, each small enough to solve exactly.

* :func:`ellipsoid` (:class:`Quadratic`): a convex quadratic with a chosen condition number,
  separable or rotated; chapter 5's gradient-free baselines race Adam on it.
* :func:`reddi_coefficients`, :func:`reddi_stochastic_coefficients` and :func:`reddi_beta2`:
  the online linear counterexample of Reddi, Kale & Kumar (2018) on which Adam fails.
* :func:`wilson_problem` (:class:`LinearProblem`) and :func:`wilson_test_error`: the
  least-squares classification problem of Wilson et al. (2017, section 3.3) on which adaptive
  methods find a solution that generalises worse than gradient descent's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor


# --------------------------------------------------------------------------------------------
# A quadratic with a chosen condition number
# --------------------------------------------------------------------------------------------
class Quadratic(NamedTuple):
    r"""The objective :math:`f(x) = x^\top H x` (minimum 0 at :math:`x = 0`)."""

    hessian_half: np.ndarray
    r"""``(d, d)`` symmetric positive definite :math:`H` (the Hessian is :math:`2H`)."""
    name: str

    @property
    def dim(self) -> int:
        return int(self.hessian_half.shape[0])

    def value(self, x: np.ndarray) -> float:
        """:math:`f(x)` for a NumPy vector."""
        x = np.asarray(x, dtype=np.float64)
        return float(x @ self.hessian_half @ x)

    def torch_value(self, x: Tensor) -> Tensor:
        """:math:`f(x)` for a torch vector (differentiable)."""
        matrix = torch.as_tensor(self.hessian_half, dtype=x.dtype, device=x.device)
        return x @ matrix @ x


def ellipsoid(
    dim: int, condition: float = 100.0, *, rotated: bool = False, seed: int = 0
) -> Quadratic:
    r"""The ellipsoid :math:`x^\top Q^\top \operatorname{diag}(w) Q x`, condition number
    ``condition``; ``rotated=True`` draws :math:`Q` uniformly from the rotations (``seed``)."""
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"Invalid dim: {dim!r} (expected an int >= 1)")
    if not (math.isfinite(condition) and condition >= 1):
        raise ValueError(f"Invalid condition: {condition!r} (expected a number >= 1)")
    weights = condition ** (np.arange(dim) / max(dim - 1, 1))
    hessian_half = np.diag(weights)
    if rotated and dim > 1:
        from scipy.stats import special_ortho_group

        rotation = special_ortho_group.rvs(dim, random_state=seed)
        hessian_half = rotation.T @ hessian_half @ rotation
        hessian_half = 0.5 * (hessian_half + hessian_half.T)  # exactly symmetric
    kind = "rotated" if rotated else "separable"
    return Quadratic(hessian_half, f"{kind} ellipsoid, d={dim}, condition={condition:g}")


# --------------------------------------------------------------------------------------------
# Reddi, Kale & Kumar (2018): an online problem on which Adam fails
# --------------------------------------------------------------------------------------------
def _check_rounds(rounds: int) -> None:
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"Invalid rounds: {rounds!r} (expected an int >= 1)")


def _check_c(c: float) -> None:
    if not (math.isfinite(c) and c > 2):
        raise ValueError(f"Invalid C: {c!r} (the counterexample needs C > 2)")


def reddi_coefficients(rounds: int, c: float, n_copies: int = 1) -> Tensor:
    r"""Reddi et al.'s online counterexample as coefficients :math:`a_t`, shape ``(rounds, n)``.

    .. math:: a_t = C \ \text{if}\ t \bmod 3 = 1, \qquad a_t = -1 \ \text{otherwise}
              \qquad (t = 1, 2, \dots)

    Row ``t - 1`` holds round ``t``; every column is the same sequence.
    """
    _check_rounds(rounds)
    _check_c(c)
    t = torch.arange(1, rounds + 1)
    column = torch.where(t % 3 == 1, float(c), -1.0).to(torch.float64)
    return column[:, None].repeat(1, n_copies)


def reddi_stochastic_coefficients(
    rounds: int, c: float, delta: float, n_copies: int = 1, *, seed: int = 0
) -> Tensor:
    r"""Reddi et al.'s stochastic counterexample: :math:`a_t = C` with probability :math:`p`.

    .. math:: a_t = \begin{cases} C & \text{with probability } p = \frac{1+\delta}{C+1} \\
              -1 & \text{otherwise} \end{cases}
              \qquad\Longrightarrow\qquad \mathbb E[f_t(x)] = \delta\,x,

    so the expected loss is minimised at :math:`x = -1`. Columns are independent draws (seeds).
    """
    _check_rounds(rounds)
    _check_c(c)
    probability = (1 + delta) / (c + 1)
    if not (delta > 0 and probability < 1):
        raise ValueError(f"Invalid delta: {delta!r} (expected 0 < delta < C = {c})")
    generator = torch.Generator().manual_seed(seed)
    draws = torch.rand(rounds, n_copies, generator=generator, dtype=torch.float64)
    return torch.where(draws < probability, float(c), -1.0).to(torch.float64)


def reddi_beta2(c: float) -> float:
    r"""The :math:`\beta_2 = 1/(1 + C^2)` of Reddi et al.'s Theorem 1."""
    _check_c(c)
    return 1.0 / (1.0 + c * c)


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
