r"""One driver for the pure rules of :mod:`optlib.rules` on NumPy arrays.

A trajectory on a 2-D test function is the algorithm of chapter 3, step for step, only on two
numbers instead of a network's weights:

.. math:: \Delta\theta_t, s_t = \text{update}(g_t, s_{t-1}, \theta_{t-1}),
          \qquad \theta_t = \theta_{t-1} + \Delta\theta_t

* :func:`run` and :func:`run_on` drive any rule of :data:`METHODS` from a start point with the
  gradient of a function (closed loop), recording every point and loss; runs that blow up are
  cut short and flagged.
* :func:`replay` and :func:`replay_states` feed a fixed, recorded gradient stream to any rule
  (open loop), e.g. :func:`optlib.rules.adam_update_without_bias_correction`.
* :func:`tune_on` picks a step size on a landscape from a log grid by one stated criterion.
* :func:`landscape_paths` runs Adam and Adagrad at every point of a (α, β₁, β₂) grid.

>>> from optlib.problems import ill_conditioned_quadratic
>>> path = run_on(ill_conditioned_quadratic(condition=25.0), "adam", lr=0.1, steps=3)
>>> path.points.shape
(4, 2)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from optlib import rules
from optlib.problems.landscapes import Landscape

Array = rules.Array
Gradient = Callable[[np.ndarray, int], np.ndarray]  # (point, step) -> gradient at point


def _check_positive(name: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number > 0)")
    return float(value)


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


def iterate(
    update: Callable[..., tuple[Array, Any]],
    state: Any,
    param: np.ndarray,
    gradient: Gradient,
    steps: int,
    **hyperparameters: Any,
) -> Iterator[tuple[np.ndarray, np.ndarray, Any]]:
    r"""The loop every driver here runs: yield ``(param, delta, state)`` after steps 1..``steps``.

    ``gradient(param, t)`` is the gradient used at step ``t``: the function's gradient at the
    current point (closed loop, :func:`run`) or a recorded one (open loop, :func:`replay`).
    """
    for step in range(1, steps + 1):
        delta, state = update(gradient(param, step), state, param, **hyperparameters)
        param = param + delta
        yield param, delta, state


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
        steps_taken = iterate(chosen.update, state, point, gradient, steps, lr=lr, **settings)
        for step, (point, _delta, _state) in enumerate(steps_taken, start=1):
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


class PathGrid(NamedTuple):
    """Adam's and Adagrad's paths on one landscape at every point of a hyperparameter grid.

    ``adam[i, j, k]`` ran with ``lrs[i]``, ``beta1s[j]``, ``beta2s[k]``; ``adagrad[i]`` with
    ``lrs[i]`` (Adagrad has no β). Everything else is PyTorch's default.
    """

    landscape: Landscape
    lrs: tuple[float, ...]
    beta1s: tuple[float, ...]
    beta2s: tuple[float, ...]
    adam: dict[tuple[int, int, int], Trajectory]
    adagrad: dict[int, Trajectory]


def landscape_paths(
    landscape: Landscape,
    *,
    lrs: Sequence[float],
    beta1s: Sequence[float],
    beta2s: Sequence[float],
    steps: int,
) -> PathGrid:
    """Adam at every (α, β₁, β₂) and Adagrad at every η = α of the grid, ``steps`` steps each
    from the landscape's start (:func:`run_on`): what chapter 2's explorer
    (:func:`optlib.figures.interactive.landscape_explorer`) shows."""
    lrs, beta1s, beta2s = (tuple(float(v) for v in values) for values in (lrs, beta1s, beta2s))
    adam = {
        (i, j, k): run_on(landscape, "adam", lr=lr, steps=steps, betas=(b1, b2))
        for i, lr in enumerate(lrs)
        for j, b1 in enumerate(beta1s)
        for k, b2 in enumerate(beta2s)
    }
    adagrad = {i: run_on(landscape, "adagrad", lr=lr, steps=steps) for i, lr in enumerate(lrs)}
    return PathGrid(landscape, lrs, beta1s, beta2s, adam, adagrad)


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
    """The tuning criterion of :func:`tune_on` as a score (lower is better)."""
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


def tune_on(
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
# Replaying a gradient stream through a pure rule
# --------------------------------------------------------------------------------------------
def replay(
    update: Callable[..., tuple[Array, Any]],
    state: Any,
    grads: np.ndarray,
    param: np.ndarray,
    **hyperparameters: Any,
) -> np.ndarray:
    r"""Feed a fixed gradient stream ``grads[t]`` to a pure update rule; return every change.

    Open loop: the gradients do not depend on the parameter (they were recorded, or drawn),
    but the changes are applied, so ``weight_decay`` sees the right parameter. Returns an array
    of shape ``grads.shape`` whose row ``t`` is :math:`\Delta\theta_{t+1}`.

    >>> deltas = replay(rules.adagrad_update, rules.adagrad_init(np.zeros(1)),
    ...                 np.ones((4, 1)), np.zeros(1), lr=1.0, eps=0.0)
    >>> np.round(deltas[:, 0] ** -2.0, 6).tolist()  # step_t = -1/sqrt(t)
    [1.0, 2.0, 3.0, 4.0]
    """
    grads = np.asarray(grads)
    deltas = np.empty_like(grads)
    for t, (delta, _) in enumerate(replay_states(update, state, grads, param, **hyperparameters)):
        deltas[t] = delta
    return deltas


def replay_states(
    update: Callable[..., tuple[Array, Any]],
    state: Any,
    grads: np.ndarray,
    param: np.ndarray,
    **hyperparameters: Any,
) -> Iterator[tuple[np.ndarray, Any]]:
    """Like :func:`replay`, but yield ``(delta, state)`` after every step, to inspect the state.

    >>> states = replay_states(rules.adagrad_update, rules.adagrad_init(np.zeros(1)),
    ...                        np.full((3, 1), 2.0), np.zeros(1), lr=1.0)
    >>> [float(state.sum_sq[0]) for _, state in states]
    [4.0, 8.0, 12.0]
    """
    grads = np.asarray(grads)
    if grads.ndim < 1 or len(grads) == 0:
        raise ValueError(f"Invalid grads: shape {grads.shape} (expected at least one step)")
    param = np.array(param, dtype=grads.dtype, copy=True)
    if param.shape != grads.shape[1:]:
        raise ValueError(f"Invalid param: shape {param.shape}, gradients are {grads.shape[1:]}")
    recorded = iterate(
        update, state, param, lambda _param, t: grads[t - 1], len(grads), **hyperparameters
    )
    for _param, delta, state in recorded:
        yield delta, state
