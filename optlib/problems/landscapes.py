r"""Small, fully visible optimization problems: 2-D test functions and a rare-feature regression.

* **Test functions** (:class:`Landscape`): an ill-conditioned quadratic, Rosenbrock's valley, a
  saddle between two wells and Beale's function, each with its exact gradient; a tilted double
  well in one dimension (:class:`Curve`).
* **A rare-feature regression** (:func:`sparse_regression`): the online problem on which one
  global learning rate starves a rarely active weight.

Run the update rules on them with :mod:`optlib.problems.driver`; draw them with
:mod:`optlib.figures`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from optlib.problems.driver import Trajectory


def _xy(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = np.asarray(points, dtype=float)
    if points.shape[-1] != 2:
        raise ValueError(f"Invalid points: expected shape (..., 2), got {points.shape}")
    return points[..., 0], points[..., 1]


def _check_positive(name: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number > 0)")
    return float(value)


# --------------------------------------------------------------------------------------------
# Test functions
# --------------------------------------------------------------------------------------------
class Landscape(NamedTuple):
    r"""A 2-D test function :math:`f(x, y)` with its gradient, start point and minimum.

    ``value`` and ``gradient`` take points of shape ``(..., 2)`` (one point or a whole grid) and
    return shapes ``(...)`` and ``(..., 2)``. ``min_value`` is :math:`f^\star`, so the loss gap
    :math:`f(\theta_t) - f^\star` is what the figures plot.
    """

    key: str
    title: str
    value: Callable[[np.ndarray], np.ndarray]
    gradient: Callable[[np.ndarray], np.ndarray]
    start: np.ndarray
    minimizers: np.ndarray  # shape (k, 2): every global minimizer
    min_value: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]


def ill_conditioned_quadratic(
    condition: float = 25.0, rotation_deg: float = 0.0, start: Sequence[float] = (-4.0, 1.0)
) -> Landscape:
    r"""The quadratic bowl :math:`f(\theta) = \tfrac12\,\theta^\top H\,\theta` of chapter 1.

    .. math:: H = R_\phi \begin{pmatrix} 1 & 0 \\ 0 & \kappa \end{pmatrix} R_\phi^\top,
              \qquad \nabla f(\theta) = H\theta, \qquad f^\star = f(0) = 0

    ``condition`` is :math:`\kappa = \lambda_{\max}/\lambda_{\min}`; ``rotation_deg`` turns the
    ellipses' axes away from the coordinate axes by :math:`\phi` degrees (at 0 they are aligned,
    the case a per-coordinate scaling can fix exactly). ``start`` is given in the bowl's own axes
    and turns with it (the start point is :math:`R_\phi` times ``start``), so a rotation-blind
    method such as gradient descent traces the same path, only rotated.
    """
    condition = _check_positive("condition", condition)
    angle = math.radians(rotation_deg)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    hessian = rotation @ np.diag([1.0, condition]) @ rotation.T

    def value(points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=float)
        _xy(points)
        return 0.5 * np.einsum("...i,ij,...j->...", points, hessian, points)

    def gradient(points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=float)
        _xy(points)
        return points @ hessian  # H is symmetric

    aligned = rotation_deg % 180 == 0
    title = f"Quadratic, κ = {condition:g}" + ("" if aligned else f", rotated {rotation_deg:g}°")
    return Landscape(
        key="quadratic",
        title=title,
        value=value,
        gradient=gradient,
        start=rotation @ np.asarray(start, dtype=float),
        minimizers=np.zeros((1, 2)),
        min_value=0.0,
        x_range=(-5.0, 5.0),
        y_range=(-2.0, 2.0) if aligned else (-5.0, 5.0),
    )


def rosenbrock(a: float = 1.0, b: float = 100.0, start: Sequence[float] = (-1.5, 2.0)) -> Landscape:
    r"""Rosenbrock's banana valley (Rosenbrock, 1960).

    .. math:: f(x, y) = (a - x)^2 + b\,(y - x^2)^2, \qquad
              \nabla f = \begin{pmatrix} -2(a - x) - 4bx\,(y - x^2) \\ 2b\,(y - x^2)\end{pmatrix},
              \qquad f^\star = f(a, a^2) = 0
    """
    b = _check_positive("b", b)

    def value(points: np.ndarray) -> np.ndarray:
        x, y = _xy(points)
        return (a - x) ** 2 + b * (y - x**2) ** 2

    def gradient(points: np.ndarray) -> np.ndarray:
        x, y = _xy(points)
        return np.stack([-2 * (a - x) - 4 * b * x * (y - x**2), 2 * b * (y - x**2)], axis=-1)

    return Landscape(
        key="rosenbrock",
        title="Rosenbrock",
        value=value,
        gradient=gradient,
        start=np.asarray(start, dtype=float),
        minimizers=np.array([[a, a * a]]),
        min_value=0.0,
        x_range=(-2.0, 2.0),
        y_range=(-1.0, 3.0),
    )


def saddle(curvature: float = 10.0, start: Sequence[float] = (1.0, 1e-3)) -> Landscape:
    r"""Two wells joined by a saddle point at the origin.

    .. math:: f(x, y) = \frac{c}{2}x^2 + \frac{y^4}{4} - \frac{y^2}{2}, \qquad
              \nabla f = \begin{pmatrix} c\,x \\ y^3 - y \end{pmatrix}, \qquad
              f^\star = f(0, \pm 1) = -\tfrac14

    At the origin the Hessian is :math:`\operatorname{diag}(c, -1)`: steep in :math:`x`, gently
    *downhill* in :math:`y`. Started just off the ridge (small :math:`y_0`), a method must first
    roll down the steep :math:`x` direction, then escape along the flat :math:`y` direction, where
    the gradient is tiny.
    """
    curvature = _check_positive("curvature", curvature)

    def value(points: np.ndarray) -> np.ndarray:
        x, y = _xy(points)
        return 0.5 * curvature * x**2 + 0.25 * y**4 - 0.5 * y**2

    def gradient(points: np.ndarray) -> np.ndarray:
        x, y = _xy(points)
        return np.stack([curvature * x, y**3 - y], axis=-1)

    return Landscape(
        key="saddle",
        title="Saddle",
        value=value,
        gradient=gradient,
        start=np.asarray(start, dtype=float),
        minimizers=np.array([[0.0, 1.0], [0.0, -1.0]]),
        min_value=-0.25,
        x_range=(-1.5, 1.5),
        y_range=(-1.5, 1.5),
    )


def beale(start: Sequence[float] = (1.0, 1.5)) -> Landscape:
    r"""Beale's function, a standard test function with flat plateaus and steep walls.

    .. math:: f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2,
              \qquad f^\star = f(3, 0.5) = 0
    """
    constants = (1.5, 2.25, 2.625)

    def value(points: np.ndarray) -> np.ndarray:
        x, y = _xy(points)
        return sum((c - x + x * y ** (k + 1)) ** 2 for k, c in enumerate(constants))

    def gradient(points: np.ndarray) -> np.ndarray:
        x, y = _xy(points)
        grad_x = 0.0 * x
        grad_y = 0.0 * y
        for k, c in enumerate(constants):
            power = k + 1
            residual = c - x + x * y**power
            grad_x = grad_x + 2 * residual * (y**power - 1)
            grad_y = grad_y + 2 * residual * power * x * y ** (power - 1)
        return np.stack([grad_x, grad_y], axis=-1)

    return Landscape(
        key="beale",
        title="Beale",
        value=value,
        gradient=gradient,
        start=np.asarray(start, dtype=float),
        minimizers=np.array([[3.0, 0.5]]),
        min_value=0.0,
        x_range=(-0.5, 4.0),
        y_range=(-1.0, 2.0),
    )


class Curve(NamedTuple):
    """A 1-D loss with its gradient and its two minimizers (the worse one and the global one)."""

    value: Callable[[np.ndarray], np.ndarray]
    gradient: Callable[[np.ndarray], np.ndarray]
    local_minimizer: float
    global_minimizer: float


def tilted_double_well(tilt: float = 0.2) -> Curve:
    r"""A 1-D non-convex loss with a worse (local) and a better (global) minimum.

    .. math:: f(x) = \frac{x^4}{4} - \frac{x^2}{2} + \tau x, \qquad f'(x) = x^3 - x + \tau

    For :math:`0 < \tau < 2/(3\sqrt3) \approx 0.385` there are two minima; the tilt :math:`\tau`
    makes the left one (:math:`x < 0`) the global one.
    """
    if not 0 < tilt < 2 / (3 * math.sqrt(3)):
        raise ValueError(f"Invalid tilt: {tilt!r} (expected 0 < tilt < 0.385 for two minima)")
    roots = np.sort(np.roots([1.0, 0.0, -1.0, tilt]).real)  # left min, max, right min

    def value(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return x**4 / 4 - x**2 / 2 + tilt * x

    def gradient(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return x**3 - x + tilt

    return Curve(value, gradient, local_minimizer=float(roots[2]), global_minimizer=float(roots[0]))


def test_functions() -> dict[str, Landscape]:
    """The four landscapes of chapter 2, in the order the figures show them."""
    return {
        land.key: land for land in (ill_conditioned_quadratic(), rosenbrock(), saddle(), beale())
    }


# --------------------------------------------------------------------------------------------
# A rare feature: online least squares where one input is almost always zero
# --------------------------------------------------------------------------------------------
class SparseRegression(NamedTuple):
    r"""An online least-squares problem :math:`\ell_i(w) = \tfrac12 (x_i^\top w - y_i)^2`.

    The first ``n_dense`` features are standard normal in every sample; the last one is 1 in a
    fraction ``rare_prob`` of the samples and 0 otherwise.
    """

    features: np.ndarray  # shape (n_samples, n_dense + 1)
    targets: np.ndarray  # shape (n_samples,)
    true_weights: np.ndarray  # shape (n_dense + 1,)

    def gradient(self, weights: np.ndarray, step: int) -> np.ndarray:
        r"""Step ``step``'s gradient, on sample :math:`i = t - 1`: :math:`(x_i^\top w - y_i)\,x_i`.

        Samples are visited in order (cycling if ``step`` exceeds the number of samples).
        """
        index = (step - 1) % len(self.targets)
        sample = self.features[index]
        return (sample @ weights - self.targets[index]) * sample

    def weight_errors(self, trajectory: Trajectory) -> np.ndarray:
        r""":math:`|w_t - w^\star|` per weight and step, shape ``(steps + 1, n_dense + 1)``."""
        return np.abs(trajectory.points - self.true_weights)

    def rare_count(self, steps: int) -> int:
        """How many of the first ``steps`` samples have the rare feature switched on."""
        return int(np.sum(self.features[:steps, -1] != 0))


def sparse_regression(
    n_samples: int = 2000,
    n_dense: int = 20,
    rare_prob: float = 0.01,
    noise: float = 0.1,
    seed: int = 0,
) -> SparseRegression:
    """A seeded :class:`SparseRegression` whose true weights are all 1."""
    if not 0 < rare_prob <= 1:
        raise ValueError(f"Invalid rare_prob: {rare_prob!r} (expected 0 < rare_prob <= 1)")
    if n_samples < 1 or n_dense < 0:
        raise ValueError(f"Invalid sizes: n_samples={n_samples!r}, n_dense={n_dense!r}")
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((n_samples, n_dense))
    rare = (rng.random((n_samples, 1)) < rare_prob).astype(float)
    features = np.concatenate([dense, rare], axis=1)
    true_weights = np.ones(n_dense + 1)
    targets = features @ true_weights + noise * rng.standard_normal(n_samples)
    return SparseRegression(features, targets, true_weights)
