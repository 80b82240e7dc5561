"""Facts chapter 2 states as prose, checked here on optlib's rules (not shown as claims)."""

from __future__ import annotations

import numpy as np
import pytest

from optlib import problems, rules


@pytest.mark.parametrize("beta", [0.9, 0.99, 0.999])
def test_ema_of_a_constant_is_biased_by_one_minus_beta_to_the_t(beta):
    # the weights of eq. (eq-ch2-ema) sum to 1 - beta^t: the bias Adam's correction divides out
    average = 0.0
    for t in range(1, 301):
        average = rules.ema(average, 2.0, beta)
        assert average == pytest.approx(2.0 * (1 - beta**t), rel=1e-12)


def scaled(landscape: problems.Landscape, factor: float) -> problems.Landscape:
    return landscape._replace(
        value=lambda p: factor * landscape.value(p),
        gradient=lambda p: factor * landscape.gradient(p),
    )


@pytest.mark.parametrize(("name", "lr"), [("adagrad", 0.5), ("adam", 0.1), ("rmsprop", 0.01)])
def test_adaptive_paths_ignore_the_scale_of_the_loss(name, lr):
    bowl = problems.ill_conditioned_quadratic(condition=25.0)
    path = problems.run_on(bowl, name, lr=lr, steps=100)
    steep = problems.run_on(scaled(bowl, 100.0), name, lr=lr, steps=100)
    np.testing.assert_allclose(steep.points, path.points, atol=1e-6)


def test_gradient_descent_path_follows_the_scale_of_the_loss():
    bowl = problems.ill_conditioned_quadratic(condition=25.0)
    path = problems.run_on(bowl, "sgd", lr=5e-4, steps=100)
    steep = problems.run_on(scaled(bowl, 100.0), "sgd", lr=5e-4, steps=100)
    assert np.max(np.abs(steep.points - path.points)) > 0.1
