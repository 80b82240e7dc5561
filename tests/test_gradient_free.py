"""Tests of optlib.gradient_free: objectives, evaluation counting and the three searches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optlib.book import gradient_free
from optlib.book.gradient_free import adam_descent, cma_es, nelder_mead
from optlib.problems import ellipsoid


@pytest.mark.parametrize("rotated", [False, True])
def test_ellipsoid_has_the_requested_condition_number(rotated: bool) -> None:
    problem = ellipsoid(6, condition=50.0, rotated=rotated, seed=3)
    eigenvalues = np.linalg.eigvalsh(problem.hessian_half)
    assert eigenvalues.max() / eigenvalues.min() == pytest.approx(50.0)
    assert problem.value(np.zeros(6)) == 0.0
    x = np.linspace(-1, 1, 6)
    assert problem.torch_value(torch.tensor(x)).item() == pytest.approx(problem.value(x))


def test_rotation_makes_the_problem_non_separable() -> None:
    separable = ellipsoid(5, rotated=False).hessian_half
    rotated = ellipsoid(5, rotated=True, seed=0).hessian_half
    assert np.count_nonzero(separable - np.diag(np.diag(separable))) == 0
    assert np.abs(rotated - np.diag(np.diag(rotated))).max() > 1.0


@pytest.mark.parametrize("search", [nelder_mead, cma_es, adam_descent])
def test_every_search_reaches_the_target_in_two_dimensions(search) -> None:
    problem = ellipsoid(2, condition=10.0, rotated=True, seed=1)
    x0 = np.ones(2)
    target = 1e-6 * problem.value(x0)
    result = search(problem, x0, target, 5_000)
    assert result.reached
    assert result.best_value <= target
    assert result.evaluations == result.evaluations_to_target  # it stops at the target
    assert len(result.history) == result.evaluations
    assert np.all(np.diff(result.history) <= 0)  # best-so-far never increases


def test_budget_is_respected_and_a_miss_is_reported() -> None:
    problem = ellipsoid(20, condition=100.0)
    x0 = np.ones(20)
    result = nelder_mead(problem, x0, target=0.0, budget=300)
    assert not result.reached
    assert result.evaluations_to_target is None
    assert result.evaluations == 300
    assert result.best_value < problem.value(x0)


def test_nelder_mead_counts_every_function_value() -> None:
    calls = []
    problem = ellipsoid(3)
    original = problem.value

    class Spy(gradient_free.Quadratic):
        def value(self, x):
            calls.append(1)
            return original(x)

    spy = Spy(problem.hessian_half, problem.name)
    result = nelder_mead(spy, np.ones(3), target=1e-3, budget=2_000)
    assert result.evaluations == len(calls)


def test_adam_on_a_separable_problem_does_not_depend_on_the_dimension() -> None:
    counts = set()
    for dim in (2, 7, 40):
        problem = ellipsoid(dim, condition=100.0)
        x0 = np.ones(dim)
        counts.add(adam_descent(problem, x0, 1e-6 * problem.value(x0), 2_000).evaluations)
    assert len(counts) == 1  # per-coordinate scaling: every coordinate follows the same path


def test_cma_es_is_reproducible_with_a_seed() -> None:
    problem = ellipsoid(4, rotated=True)
    x0 = np.ones(4)
    first = cma_es(problem, x0, 1e-4, 3_000, seed=5)
    second = cma_es(problem, x0, 1e-4, 3_000, seed=5)
    assert first.evaluations == second.evaluations
    np.testing.assert_array_equal(first.history, second.history)


def test_gradient_cost_ratio_divides_value_and_gradient_time_by_value_time(monkeypatch) -> None:
    """A fake clock (no timing in unit tests): the value costs 1 tick, its backward pass 2 more."""
    clock = [0.0]
    monkeypatch.setattr(gradient_free.time, "perf_counter", lambda: clock[0])

    class Costly(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            clock[0] += 1.0
            return x.sum()

        @staticmethod
        def backward(ctx, grad):
            clock[0] += 2.0
            return grad * torch.ones(3)

    weight = torch.ones(3, requires_grad=True)
    ratio = gradient_free.gradient_cost_ratio(lambda: Costly.apply(weight), [weight], repeats=3)
    assert ratio == 3.0
    with pytest.raises(ValueError, match="repeats"):
        gradient_free.gradient_cost_ratio(lambda: Costly.apply(weight), [weight], repeats=0)


def test_validation_names_the_bad_argument() -> None:
    problem = ellipsoid(3)
    with pytest.raises(ValueError, match="dim"):
        ellipsoid(0)
    with pytest.raises(ValueError, match="condition"):
        ellipsoid(3, condition=0.5)
    with pytest.raises(ValueError, match="x0"):
        nelder_mead(problem, np.ones(4), 1e-3, 10)
    with pytest.raises(ValueError, match="budget"):
        cma_es(problem, np.ones(3), 1e-3, 0)
    with pytest.raises(ValueError, match="target"):
        adam_descent(problem, np.ones(3), -1.0, 10)
    with pytest.raises(ValueError, match="lr"):
        adam_descent(problem, np.ones(3), 1e-3, 10, lr=0.0)
