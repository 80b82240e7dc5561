"""Facts chapter 1 states as prose, checked here on optlib's runs (not shown as claims).

Each holds by construction (a linear recursion, a symmetry of the update rule), so it belongs in a
test: if one fails, optlib's rules or landscapes have changed, not an experiment's outcome.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from optlib import problems


def test_gradient_descent_contracts_the_quadratic_by_rho_squared_per_step():
    # eq. (eq-ch1-contraction) with eta* = 2/(h1 + h2): both coordinates shrink by rho = 12/13
    bowl = problems.ill_conditioned_quadratic(condition=25.0)
    path = problems.run_on(bowl, "sgd", lr=2 / 26, steps=50)
    rho = 24 / 26
    np.testing.assert_allclose(path.losses[1:] / path.losses[:-1], rho**2, rtol=1e-9)
    tol = 1e-6
    predicted = math.ceil(math.log(path.losses[0] / tol) / (2 * math.log(1 / rho)))
    long_path = problems.run_on(bowl, "sgd", lr=2 / 26, steps=200)
    assert problems.steps_to_tolerance(long_path, 0.0, tol) == predicted


def test_adagrad_path_on_an_axis_aligned_quadratic_does_not_depend_on_kappa():
    # g_i = h_i theta_i and sqrt(G_i) = h_i sqrt(sum theta_i^2): h_i cancels (up to eps)
    paths = [
        problems.run_on(
            problems.ill_conditioned_quadratic(condition=k), "adagrad", lr=1.0, steps=100
        )
        for k in (5.0, 25.0, 125.0)
    ]
    for path in paths[1:]:
        np.testing.assert_allclose(path.points, paths[0].points, atol=1e-8)
    # ... while gradient descent's (at its best step size 2/(1 + kappa)) does depend on it
    gd = [
        problems.run_on(
            problems.ill_conditioned_quadratic(condition=k), "sgd", lr=2 / (1 + k), steps=100
        )
        for k in (5.0, 125.0)
    ]
    assert np.max(np.abs(gd[0].points - gd[1].points)) > 0.1


@pytest.mark.parametrize("lr", [0.01, 2 / 26])
def test_gradient_descent_is_blind_to_rotation(lr):
    aligned = problems.run_on(problems.ill_conditioned_quadratic(25.0), "sgd", lr=lr, steps=100)
    rotated = problems.run_on(
        problems.ill_conditioned_quadratic(25.0, rotation_deg=45.0), "sgd", lr=lr, steps=100
    )
    turn = math.radians(45.0)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    np.testing.assert_allclose(rotated.points, aligned.points @ rotation.T, atol=1e-12)
    np.testing.assert_allclose(rotated.losses, aligned.losses, rtol=1e-9, atol=1e-15)


def test_adagrad_is_not_blind_to_rotation():
    aligned = problems.run_on(
        problems.ill_conditioned_quadratic(25.0), "adagrad", lr=1.0, steps=100
    )
    rotated = problems.run_on(
        problems.ill_conditioned_quadratic(25.0, rotation_deg=45.0), "adagrad", lr=1.0, steps=100
    )
    assert np.max(np.abs(rotated.losses - aligned.losses)) > 1e-3


def test_tilted_double_well_has_a_worse_local_and_a_better_global_minimum():
    well = problems.tilted_double_well(tilt=0.2)
    for x in (well.local_minimizer, well.global_minimizer):
        assert abs(well.gradient(x)) < 1e-12
        assert 3 * x**2 - 1 > 0  # f'' > 0: a minimum, not the maximum between them
    assert well.global_minimizer < 0 < well.local_minimizer
    assert well.value(well.local_minimizer) > well.value(well.global_minimizer)
