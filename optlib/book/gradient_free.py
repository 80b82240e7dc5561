r"""Derivative-free baselines against Adam: how many evaluations to reach a tolerance.

The objectives are ill-conditioned convex quadratics in any dimension :math:`d`
(:func:`ellipsoid`),

.. math:: f(x) = x^\top H x, \qquad H = Q^\top \operatorname{diag}(w) Q, \qquad
          w_i = \kappa^{(i-1)/(d-1)},

with condition number :math:`\kappa` and :math:`Q` either the identity (*separable*: the axes are
the coordinates) or a random rotation (*rotated*). The minimum is :math:`f(0) = 0`.

Three methods minimise them from the same start and stop as soon as
:math:`f(x) \le \text{target}`:

* :func:`nelder_mead`: SciPy's Nelder-Mead simplex method (Nelder & Mead, 1965), with the
  dimension-adapted coefficients of Gao & Han (``adaptive=True``);
* :func:`cma_es`: the covariance matrix adaptation evolution strategy (Hansen & Ostermeier,
  2001) from the maintained ``cma`` package;
* :func:`adam_descent`: the book's :class:`optlib.optim.Adam`, with gradients from autograd.

Accounting, stated once: a derivative-free method is charged one unit per function value. Adam is
charged one unit per *gradient* evaluation (each also returns the function value). With reverse-
mode automatic differentiation a gradient costs a small constant times one function evaluation,
whatever the dimension (the "cheap gradient principle"); :func:`gradient_cost_ratio` measures
that constant, so the reader can convert.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from optlib.problems.toys import Quadratic

__all__ = [
    "SearchResult",
    "adam_descent",
    "cma_es",
    "gradient_cost_ratio",
    "nelder_mead",
]


class SearchResult(NamedTuple):
    """How one method did on one objective."""

    method: str
    dim: int
    evaluations_to_target: int | None
    """Evaluations (function values, or gradients for Adam) until ``f <= target``; ``None`` if
    the budget ran out first."""
    evaluations: int
    """Evaluations used in total (at most the budget)."""
    best_value: float
    history: np.ndarray
    """Best value so far after each evaluation (``evaluations`` entries)."""
    seconds: float

    @property
    def reached(self) -> bool:
        return self.evaluations_to_target is not None


class _StopSearch(Exception):
    """Raised inside the objective to stop a search at the target or at the end of the budget."""


def _summarize(
    method: str, dim: int, best_so_far: list[float], target: float, started: float
) -> SearchResult:
    history = np.asarray(best_so_far, dtype=np.float64)
    hits = np.flatnonzero(history <= target)
    return SearchResult(
        method=method,
        dim=dim,
        evaluations_to_target=int(hits[0]) + 1 if len(hits) else None,
        evaluations=len(history),
        best_value=float(history[-1]) if len(history) else math.inf,
        history=history,
        seconds=time.perf_counter() - started,
    )


class _CountingObjective:
    """Wraps ``f``: counts calls, records the best value so far, stops at the target."""

    def __init__(self, function: Callable[[np.ndarray], float], target: float, budget: int):
        self.function, self.target, self.budget = function, target, budget
        self.best_so_far: list[float] = []

    def __call__(self, x: np.ndarray) -> float:
        if len(self.best_so_far) >= self.budget:
            raise _StopSearch
        value = self.function(np.asarray(x, dtype=np.float64))
        best = min(value, self.best_so_far[-1]) if self.best_so_far else value
        self.best_so_far.append(best)
        if value <= self.target:
            raise _StopSearch
        return value

    def result(self, method: str, dim: int, started: float) -> SearchResult:
        return _summarize(method, dim, self.best_so_far, self.target, started)


def _check_search(x0: np.ndarray, problem: Quadratic, target: float, budget: int) -> np.ndarray:
    x0 = np.asarray(x0, dtype=np.float64).reshape(-1)
    if x0.shape != (problem.dim,):
        raise ValueError(f"Invalid x0: shape {x0.shape}, expected ({problem.dim},)")
    if not target >= 0:
        raise ValueError(f"Invalid target: {target!r} (expected >= 0)")
    if not isinstance(budget, int) or budget < 1:
        raise ValueError(f"Invalid budget: {budget!r} (expected an int >= 1)")
    return x0


def nelder_mead(problem: Quadratic, x0: np.ndarray, target: float, budget: int) -> SearchResult:
    """SciPy's adaptive Nelder-Mead from ``x0`` until ``f <= target`` or ``budget`` evaluations."""
    from scipy.optimize import minimize

    x0 = _check_search(x0, problem, target, budget)
    objective = _CountingObjective(problem.value, target, budget)
    started = time.perf_counter()
    try:
        options = {"maxfev": budget, "maxiter": budget, "fatol": 0.0, "xatol": 0.0}
        minimize(objective, x0, method="Nelder-Mead", options=options | {"adaptive": True})
    except _StopSearch:
        pass
    return objective.result("nelder-mead", problem.dim, started)


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (then restore the previous setting).

    The objectives here are tiny (at most 100 x 100): a multi-threaded BLAS only adds
    synchronisation overhead, which becomes a 10-20x slow-down when other processes share the
    cores.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _eigh_one_thread(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric eigendecomposition for CMA-ES's d x d covariance updates, on one thread."""
    with _one_torch_thread():
        values, vectors = torch.linalg.eigh(torch.from_numpy(np.ascontiguousarray(matrix)))
    return values.numpy(), vectors.numpy()


def cma_es(
    problem: Quadratic,
    x0: np.ndarray,
    target: float,
    budget: int,
    *,
    sigma0: float = 0.5,
    seed: int = 1,
) -> SearchResult:
    """CMA-ES (package ``cma``) from ``x0`` with step size ``sigma0``; same stopping rule."""
    import cma

    x0 = _check_search(x0, problem, target, budget)
    if not sigma0 > 0:
        raise ValueError(f"Invalid sigma0: {sigma0!r} (expected > 0)")
    objective = _CountingObjective(problem.value, target, budget)
    started = time.perf_counter()
    options = {
        "seed": seed,
        "verbose": -9,
        "maxfevals": budget,
        "tolfun": 0,
        "tolx": 0,
        "CMA_eigenmethod": _eigh_one_thread,
    }
    strategy = cma.CMAEvolutionStrategy(x0, sigma0, options)
    try:
        while not strategy.stop():
            candidates = strategy.ask()
            strategy.tell(candidates, [objective(x) for x in candidates])
    except _StopSearch:
        pass
    return objective.result("cma-es", problem.dim, started)


def adam_descent(
    problem: Quadratic, x0: np.ndarray, target: float, budget: int, *, lr: float = 0.1
) -> SearchResult:
    """:class:`optlib.optim.Adam` (default betas) from ``x0``; one unit per gradient evaluation."""
    from optlib import optim

    x0 = _check_search(x0, problem, target, budget)
    if not lr > 0:
        raise ValueError(f"Invalid lr: {lr!r} (expected > 0)")
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    matrix = torch.as_tensor(problem.hessian_half, dtype=torch.float64)
    optimizer = optim.Adam([x], lr=lr)
    best_so_far: list[float] = []
    started = time.perf_counter()
    with _one_torch_thread():
        for _ in range(budget):
            value = x @ matrix @ x  # one evaluation: the value, then its gradient
            number = value.item()
            best_so_far.append(min(number, best_so_far[-1]) if best_so_far else number)
            if number <= target:
                break
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
    return _summarize("adam", problem.dim, best_so_far, target, started)


def gradient_cost_ratio(
    loss: Callable[[], Tensor], parameters: list[Tensor], *, repeats: int = 20
) -> float:
    """Wall time of (value + gradient) divided by wall time of the value alone.

    ``loss()`` must build the value from ``parameters`` (which require grad). Each timing is the
    median of ``repeats`` runs, after one warm-up run.
    """
    if repeats < 1:
        raise ValueError(f"Invalid repeats: {repeats!r} (expected >= 1)")

    def value_only() -> None:
        with torch.no_grad():
            loss()

    def value_and_gradient() -> None:
        for parameter in parameters:
            parameter.grad = None
        loss().backward()

    def median_seconds(run: Callable[[], None]) -> float:
        run()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        return float(np.median(times))

    return median_seconds(value_and_gradient) / median_seconds(value_only)
