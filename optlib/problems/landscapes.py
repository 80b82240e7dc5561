r"""Small, fully visible optimization problems for chapters 1 and 2.

Everything here runs on NumPy arrays with the *pure* update rules of :mod:`optlib.rules` (the very
functions :mod:`optlib.optim` runs on tensors), so a trajectory on a 2-D test function is the
algorithm of chapter 3, step for step, only on two numbers instead of a network's weights.

* **Test functions** (:class:`Landscape`): an ill-conditioned quadratic, Rosenbrock's valley, a
  saddle between two wells and Beale's function, each with its exact gradient.
* **A trajectory runner** (:func:`run`, :func:`run_on`): drive any rule of :data:`METHODS` from a
  start point for a fixed number of steps, recording every point and loss; runs that blow up are
  cut short and flagged.
* **Step-size tuning** (:func:`tune_lr`): a log grid, one criterion, stated in the book.
* **Figures**: contour plots with trajectories, loss-gap curves, an animation builder
  (:func:`animate_trajectories`; :func:`optlib.plotting.animation_html` turns it into
  matplotlib's self-contained JavaScript player for the HTML book) and a small box-and-arrow
  drawer for the optimizer family tree (:func:`draw_family_tree`).
* **A rare-feature regression** (:func:`sparse_regression`): the online problem on which one global
  learning rate starves a rarely active weight.

>>> quad = ill_conditioned_quadratic(condition=25.0)
>>> path = run_on(quad, "adam", lr=0.1, steps=3)
>>> path.points.shape
(4, 2)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from optlib import rules
from optlib.plotting import COLORS, canonical_name, color, label

Gradient = Callable[[np.ndarray, int], np.ndarray]  # (point, step) -> gradient at point


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


def _xy(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = np.asarray(points, dtype=float)
    if points.shape[-1] != 2:
        raise ValueError(f"Invalid points: expected shape (..., 2), got {points.shape}")
    return points[..., 0], points[..., 1]


def _check_positive(name: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number > 0)")
    return float(value)


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
# Running the pure rules on NumPy arrays
# --------------------------------------------------------------------------------------------
class Method(NamedTuple):
    """An update rule of :mod:`optlib.rules` with its state constructor and fixed settings."""

    init: Callable[[np.ndarray], Any]
    update: Callable[..., tuple[np.ndarray, Any]]
    hyper: dict[str, Any]


METHODS: dict[str, Method] = {
    "sgd": Method(rules.sgd_init, rules.sgd_update, {}),
    "momentum": Method(rules.sgd_init, rules.sgd_update, {"momentum": 0.9}),
    "nesterov": Method(rules.sgd_init, rules.sgd_update, {"momentum": 0.9, "nesterov": True}),
    "adagrad": Method(rules.adagrad_init, rules.adagrad_update, {}),
    "rmsprop": Method(rules.rmsprop_init, rules.rmsprop_update, {}),
    "adam": Method(rules.adam_init, rules.adam_update, {}),
    "amsgrad": Method(partial(rules.adam_init, amsgrad=True), rules.adam_update, {"amsgrad": True}),
}
"""Every method the chapters run, with PyTorch's default hyperparameters except where stated:
momentum :math:`\\mu = 0.9` (PyTorch's default is 0, plain SGD)."""

FIVE = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
"""The five optimizers chapter 2 compares side by side."""


class Trajectory(NamedTuple):
    """The path of one run: every point :math:`\\theta_0, \\dots, \\theta_N` and its loss.

    If the run blew up (a non-finite point, or one beyond ``bound``), ``diverged`` is true and the
    points and losses after the blow-up are NaN.
    """

    optimizer: str
    lr: float
    points: np.ndarray  # shape (steps + 1, dim)
    losses: np.ndarray  # shape (steps + 1,), NaN when no value function was given
    diverged: bool


def method(optimizer: str) -> Method:
    """The :class:`Method` called ``optimizer`` (a key of :data:`METHODS`)."""
    if optimizer not in METHODS:
        raise ValueError(f"Invalid optimizer: {optimizer!r} (known: {', '.join(METHODS)})")
    return METHODS[optimizer]


def run(
    optimizer: str,
    gradient: Gradient,
    start: Sequence[float] | np.ndarray,
    *,
    lr: float,
    steps: int,
    value: Callable[[np.ndarray], Any] | None = None,
    bound: float = 1e6,
    **hyper: Any,
) -> Trajectory:
    r"""Run ``optimizer``'s pure rule for ``steps`` steps from ``start``.

    .. math:: \Delta\theta_t, s_t = \text{update}(\nabla f(\theta_{t-1}), s_{t-1}, \theta_{t-1}),
              \qquad \theta_t = \theta_{t-1} + \Delta\theta_t

    ``gradient(point, step)`` returns the (possibly stochastic) gradient at ``point`` for step
    ``step`` (1, 2, ...); ``value(points)``, if given, maps an ``(n, dim)`` array of points to their
    ``n`` losses; ``hyper`` overrides the method's fixed settings (e.g. ``momentum=0.5``).
    """
    chosen = method(optimizer)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid lr: {lr!r} (expected a finite number > 0)")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"Invalid steps: {steps!r} (expected an integer >= 0)")
    steps = int(steps)
    point = np.array(start, dtype=float)
    settings = {**chosen.hyper, **hyper}
    state = chosen.init(point)
    points = np.full((steps + 1, point.size), np.nan)
    points[0] = point
    diverged = False
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, steps + 1):
            delta, state = chosen.update(gradient(point, step), state, point, lr=lr, **settings)
            point = point + delta
            if not np.all(np.isfinite(point)) or np.max(np.abs(point)) > bound:
                diverged = True
                break
            points[step] = point
    losses = np.full(steps + 1, np.nan)
    if value is not None:
        finite = np.all(np.isfinite(points), axis=1)
        losses[finite] = value(points[finite])
    return Trajectory(optimizer, float(lr), points, losses, diverged)


def run_on(
    landscape: Landscape,
    optimizer: str,
    *,
    lr: float,
    steps: int,
    start: Sequence[float] | None = None,
    **hyper: Any,
) -> Trajectory:
    """Run ``optimizer`` on a :class:`Landscape` from its start point (or ``start``)."""
    return run(
        optimizer,
        lambda point, _step: landscape.gradient(point),
        landscape.start if start is None else start,
        lr=lr,
        steps=steps,
        value=landscape.value,
        **hyper,
    )


def gaps(trajectory: Trajectory, min_value: float) -> np.ndarray:
    r"""The loss gap :math:`f(\theta_t) - f^\star` at every step (NaN after a blow-up)."""
    return trajectory.losses - min_value


def steps_to_tolerance(trajectory: Trajectory, min_value: float, tol: float) -> int | None:
    r"""The first step :math:`t` after which the gap stays below ``tol`` to the end, or ``None``.

    "Stays" matters: a method that dips below ``tol`` and bounces back out has not arrived.
    """
    if trajectory.diverged:
        return None
    above = ~(gaps(trajectory, min_value) < tol)
    if above[-1]:
        return None
    last_above = np.flatnonzero(above)
    return 0 if last_above.size == 0 else int(last_above[-1]) + 1


def tail_gap(trajectory: Trajectory, min_value: float, tail: int = 10) -> float:
    """The largest loss gap over the last ``tail`` steps (``inf`` if the run blew up)."""
    if trajectory.diverged:
        return math.inf
    return float(np.max(gaps(trajectory, min_value)[-tail:]))


LR_GRID: np.ndarray = 10.0 ** np.arange(-4.0, 0.5 + 1e-9, 0.25)
"""The step-size grid: :math:`10^{-4}` to :math:`10^{0.5}\\approx 3.16`, four values per decade."""


def in_view(landscape: Landscape, trajectory: Trajectory) -> bool:
    """Whether the run stayed finite and inside the region its figure shows."""
    if trajectory.diverged:
        return False
    (x_low, x_high), (y_low, y_high) = landscape.x_range, landscape.y_range
    x, y = trajectory.points[:, 0], trajectory.points[:, 1]
    return bool(np.all((x >= x_low) & (x <= x_high) & (y >= y_low) & (y <= y_high)))


class Search(NamedTuple):
    """A grid search: the winning step size, its run, and every candidate's score."""

    lr: float
    trajectory: Trajectory
    grid: np.ndarray
    scores: list[Any]


def grid_search(
    run_with: Callable[[float], Trajectory],
    score: Callable[[Trajectory], Any],
    grid: Sequence[float] | np.ndarray = LR_GRID,
) -> Search:
    """Run ``run_with(lr)`` for every ``lr`` in ``grid``; the lowest ``score`` wins (first on ties).

    Scores may be numbers or tuples (compared lexicographically).
    """
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or grid.size == 0 or not np.all(grid > 0):
        raise ValueError(f"Invalid grid: {grid!r} (expected a non-empty 1-D array of lr > 0)")
    runs = [run_with(float(lr)) for lr in grid]
    scores = [score(path) for path in runs]
    best = min(range(grid.size), key=lambda i: scores[i])
    return Search(float(grid[best]), runs[best], grid, scores)


class Tuning(NamedTuple):
    """The step size chosen for one optimizer on one landscape, with its run and its record."""

    optimizer: str
    lr: float
    trajectory: Trajectory
    steps_to_tol: int | None  # None: never got (and stayed) below tol
    tail_gap: float
    search: Search


def landscape_score(
    landscape: Landscape, tol: float, tail: int = 10
) -> Callable[[Trajectory], tuple[float, float]]:
    """The tuning criterion of :func:`tune_lr` as a score (lower is better)."""
    _check_positive("tol", tol)

    def score(path: Trajectory) -> tuple[float, float]:
        if not in_view(landscape, path):
            return (math.inf, math.inf)
        reached = steps_to_tolerance(path, landscape.min_value, tol)
        return (
            math.inf if reached is None else float(reached),
            tail_gap(path, landscape.min_value, tail),
        )

    return score


def tune_lr(
    landscape: Landscape,
    optimizer: str,
    *,
    steps: int,
    tol: float,
    grid: Sequence[float] | np.ndarray = LR_GRID,
    tail: int = 10,
) -> Tuning:
    r"""Pick ``optimizer``'s step size on ``landscape`` from ``grid`` by one stated criterion.

    Each step size runs for ``steps`` steps. Runs that blow up or leave the plotted region lose.
    Among the rest, the winner gets the loss gap below ``tol`` *and keeps it there* in the fewest
    steps; if no step size gets there, the winner has the smallest worst gap over the last
    ``tail`` steps (so a run that oscillates is judged by its worst recent point, not a lucky one).
    """
    search = grid_search(
        lambda lr: run_on(landscape, optimizer, lr=lr, steps=steps),
        landscape_score(landscape, tol, tail),
        grid,
    )
    path = search.trajectory
    return Tuning(
        optimizer=optimizer,
        lr=search.lr,
        trajectory=path,
        steps_to_tol=steps_to_tolerance(path, landscape.min_value, tol),
        tail_gap=tail_gap(path, landscape.min_value, tail),
        search=search,
    )


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


# --------------------------------------------------------------------------------------------
# Tables and figures
# --------------------------------------------------------------------------------------------
def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (show it with ``IPython.display.Markdown``); cells are ``str()``-ed."""
    if any(len(row) != len(header) for row in rows):
        raise ValueError(f"Invalid rows: every row needs {len(header)} cells to match the header")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _grid(landscape: Landscape, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = np.linspace(*landscape.x_range, resolution)
    ys = np.linspace(*landscape.y_range, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    gap = landscape.value(np.stack([grid_x, grid_y], axis=-1)) - landscape.min_value
    return grid_x, grid_y, gap


def plot_landscape(
    ax: Axes, landscape: Landscape, *, levels: int = 14, resolution: int = 200
) -> None:
    """Contours of the loss gap (log-spaced levels), the minimizers (stars) and the start (dot)."""
    grid_x, grid_y, gap = _grid(landscape, resolution)
    positive = gap[gap > 0]
    low = max(float(np.percentile(positive, 0.5)), 1e-4)
    contour_levels = np.geomspace(low, float(np.max(gap)), levels)
    ax.contour(grid_x, grid_y, gap, levels=contour_levels, colors="0.6", linewidths=0.6)
    ax.plot(*landscape.minimizers.T, "*", color="black", markersize=10, zorder=5)
    ax.plot(*landscape.start, "o", color="black", markersize=4, zorder=5)
    ax.set_xlim(*landscape.x_range)
    ax.set_ylim(*landscape.y_range)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    ax.set_title(landscape.title)
    ax.grid(False)


def plot_trajectories(
    ax: Axes,
    landscape: Landscape,
    trajectories: Sequence[Trajectory],
    *,
    names: Mapping[str, str] | None = None,
    linewidth: float = 1.4,
) -> None:
    """The landscape's contours with each trajectory drawn in its optimizer's book colour."""
    plot_landscape(ax, landscape)
    for path in trajectories:
        shown = names.get(path.optimizer, label(path.optimizer)) if names else label(path.optimizer)
        ax.plot(
            *path.points.T,
            "-",
            color=color(path.optimizer),
            linewidth=linewidth,
            marker=".",
            markersize=2.5,
            label=shown,
            alpha=0.9,
        )


def plot_gaps(
    ax: Axes,
    landscape: Landscape,
    trajectories: Sequence[Trajectory],
    *,
    tol: float | None = None,
    floor: float = 1e-16,
) -> None:
    r"""Loss gap :math:`f(\theta_t) - f^\star` against step, log scale, one line per optimizer."""
    for path in trajectories:
        ax.semilogy(
            np.maximum(gaps(path, landscape.min_value), floor),
            color=color(path.optimizer),
            label=label(path.optimizer),
            linewidth=1.4,
        )
    if tol is not None:
        ax.axhline(tol, color="black", linestyle=":", linewidth=1)
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"loss gap $f(\theta_t) - f^\star$")
    ax.set_title(landscape.title)


def frame_steps(steps: int, frames: int) -> np.ndarray:
    """``frames`` step indices from 0 to ``steps``, denser early on (where most happens)."""
    if frames < 2:
        raise ValueError(f"Invalid frames: {frames!r} (expected >= 2)")
    return np.unique(np.round(np.linspace(0.0, 1.0, frames) ** 2 * steps).astype(int))


def animate_trajectories(
    panels: Sequence[tuple[Landscape, Sequence[Trajectory]]],
    *,
    frames: int = 48,
    figsize: tuple[float, float] = (8.0, 3.4),
    dpi: int = 72,
    interval_ms: int = 120,
) -> animation.FuncAnimation:
    """An animation of trajectories drawing themselves, one panel per landscape.

    Play it in a notebook or the HTML book with ``IPython.display.HTML(anim.to_jshtml())``
    (no kernel needed: every frame is embedded). The figure is closed, so only the animation shows.
    """
    if not panels:
        raise ValueError("Invalid panels: expected at least one (landscape, trajectories) pair")
    n_steps = min(len(path.points) - 1 for _, paths in panels for path in paths)
    schedule = frame_steps(n_steps, frames)
    fig, axes = plt.subplots(1, len(panels), figsize=figsize, dpi=dpi, squeeze=False)
    artists = []
    for ax, (landscape, paths) in zip(axes[0], panels, strict=True):
        plot_landscape(ax, landscape, levels=10, resolution=120)
        for path in paths:
            (trail,) = ax.plot([], [], "-", color=color(path.optimizer), linewidth=1.4)
            (head,) = ax.plot([], [], "o", color=color(path.optimizer), markersize=5)
            artists.append((path, trail, head))
    handles = [plt.Line2D([], [], color=color(p.optimizer), lw=2) for p in panels[0][1]]
    fig.legend(handles, [label(p.optimizer) for p in panels[0][1]], loc="lower center", ncol=5)
    counter = fig.suptitle("")
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))

    def draw(frame: int) -> list[Any]:
        step = int(schedule[frame])
        for path, trail, head in artists:
            shown = path.points[: step + 1]
            shown = shown[np.all(np.isfinite(shown), axis=1)]
            trail.set_data(shown[:, 0], shown[:, 1])
            head.set_data(shown[-1:, 0], shown[-1:, 1])
        counter.set_text(f"step {step}")
        return [artist for _, trail, head in artists for artist in (trail, head)] + [counter]

    anim = animation.FuncAnimation(fig, draw, frames=len(schedule), interval=interval_ms)
    plt.close(fig)
    return anim


class TreeNode(NamedTuple):
    """A box in the family tree: its centre, its text and the palette key that colours it."""

    x: float
    y: float
    text: str
    palette_key: str | None = None


class TreeEdge(NamedTuple):
    """An arrow ``source -> target`` labelled with what the target borrows; dashed if a limit."""

    source: str
    target: str
    text: str = ""
    dashed: bool = False


def _node_colour(node: TreeNode) -> str:
    if node.palette_key is None:
        return "#BBBBBB"
    try:
        return COLORS[canonical_name(node.palette_key)]
    except KeyError:
        return "#BBBBBB"


def _box_exit(
    node: TreeNode, toward: TreeNode, box_width: float, box_height: float
) -> tuple[float, float]:
    """Where the segment from ``node``'s centre toward ``toward``'s centre leaves ``node``'s box."""
    dx, dy = toward.x - node.x, toward.y - node.y
    scales = [
        abs(box_width / 2 / dx) if dx else math.inf,
        abs(box_height / 2 / dy) if dy else math.inf,
    ]
    fraction = min(scales)
    return (node.x + fraction * dx, node.y + fraction * dy)


def draw_family_tree(
    ax: Axes,
    nodes: Mapping[str, TreeNode],
    edges: Sequence[TreeEdge],
    *,
    box_width: float = 1.6,
    box_height: float = 0.62,
    fontsize: float = 8.0,
) -> None:
    """Boxes (edged in each optimizer's book colour) joined by labelled arrows."""
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in nodes:
                raise ValueError(f"Invalid edge {edge}: no node called {end!r}")
    for node in nodes.values():
        ax.add_patch(
            FancyBboxPatch(
                (node.x - box_width / 2, node.y - box_height / 2),
                box_width,
                box_height,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                facecolor="white",
                edgecolor=_node_colour(node),
                linewidth=2.2,
                zorder=3,
            )
        )
        ax.text(node.x, node.y, node.text, ha="center", va="center", fontsize=fontsize, zorder=4)
    for edge in edges:
        source, target = nodes[edge.source], nodes[edge.target]
        tail = _box_exit(source, target, box_width, box_height)
        head = _box_exit(target, source, box_width, box_height)
        ax.add_patch(
            FancyArrowPatch(
                tail,
                head,
                arrowstyle="-|>",
                mutation_scale=12,
                color="0.35",
                linewidth=1.1,
                linestyle="--" if edge.dashed else "-",
                shrinkA=1,
                shrinkB=1,
                zorder=2,
            )
        )
        if edge.text:
            horizontal = abs(head[1] - tail[1]) < 1e-9
            ax.annotate(
                edge.text,
                ((tail[0] + head[0]) / 2, (tail[1] + head[1]) / 2),
                xytext=(0, 2 if horizontal else 0),
                textcoords="offset points",
                ha="center",
                va="bottom" if horizontal else "center",
                fontsize=fontsize - 1,
                style="italic",
                color="0.2",
                bbox=None
                if horizontal
                else {"facecolor": "white", "edgecolor": "none", "pad": 0.5},
                zorder=3,
            )
    xs = [node.x for node in nodes.values()]
    ys = [node.y for node in nodes.values()]
    ax.set_xlim(min(xs) - box_width / 2 - 0.1, max(xs) + box_width / 2 + 0.1)
    ax.set_ylim(min(ys) - box_height / 2 - 0.1, max(ys) + box_height / 2 + 0.1)
    ax.axis("off")
