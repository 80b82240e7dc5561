"""Tests for optlib.landscapes: exact gradients, the runner against torch.optim, tuning, figures."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from optlib import figures, problems
from optlib.figures import color

ALL_LANDSCAPES = [
    problems.ill_conditioned_quadratic(),
    problems.ill_conditioned_quadratic(condition=10.0, rotation_deg=30.0),
    problems.rosenbrock(),
    problems.saddle(),
    problems.beale(),
]
IDS = ["quadratic", "rotated-quadratic", "rosenbrock", "saddle", "beale"]


def numerical_gradient(value, point: np.ndarray, step: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(point)
    for i in range(point.size):
        shift = np.zeros_like(point)
        shift[i] = step
        grad[i] = (value(point + shift) - value(point - shift)) / (2 * step)
    return grad


# --------------------------------------------------------------------------------------------
# Test functions
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("landscape", ALL_LANDSCAPES, ids=IDS)
def test_gradient_matches_central_differences(landscape):
    rng = np.random.default_rng(0)
    for _ in range(5):
        point = np.array(
            [rng.uniform(*landscape.x_range), rng.uniform(*landscape.y_range)], dtype=float
        )
        expected = numerical_gradient(landscape.value, point)
        np.testing.assert_allclose(landscape.gradient(point), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("landscape", ALL_LANDSCAPES, ids=IDS)
def test_minimizers_are_stationary_and_attain_the_minimum(landscape):
    for point in landscape.minimizers:
        np.testing.assert_allclose(landscape.gradient(point), 0.0, atol=1e-12)
        assert landscape.value(point) == pytest.approx(landscape.min_value, abs=1e-12)
    rng = np.random.default_rng(1)
    grid = np.stack(
        [rng.uniform(*landscape.x_range, 2000), rng.uniform(*landscape.y_range, 2000)], axis=-1
    )
    assert np.all(landscape.value(grid) >= landscape.min_value - 1e-12)


@pytest.mark.parametrize("landscape", ALL_LANDSCAPES, ids=IDS)
def test_value_and_gradient_broadcast_over_grids(landscape):
    grid = np.zeros((3, 4, 2)) + landscape.start
    assert landscape.value(grid).shape == (3, 4)
    assert landscape.gradient(grid).shape == (3, 4, 2)
    np.testing.assert_allclose(landscape.gradient(grid)[1, 2], landscape.gradient(landscape.start))


def test_quadratic_hessian_has_the_requested_condition_number():
    bowl = problems.ill_conditioned_quadratic(condition=40.0, rotation_deg=20.0)
    hessian = np.stack([bowl.gradient(np.array(e)) for e in ([1.0, 0.0], [0.0, 1.0])])
    eigenvalues = np.linalg.eigvalsh(hessian)
    assert eigenvalues.max() / eigenvalues.min() == pytest.approx(40.0)


def test_saddle_is_a_saddle_at_the_origin():
    land = problems.saddle(curvature=10.0)
    np.testing.assert_allclose(land.gradient(np.zeros(2)), 0.0)
    assert land.value(np.array([0.0, 0.0])) > land.min_value
    assert land.value(np.array([0.0, 0.1])) < 0.0 < land.value(np.array([0.1, 0.0]))


def test_tilted_double_well_minima():
    well = problems.tilted_double_well(0.2)
    for x in (well.local_minimizer, well.global_minimizer):
        assert well.gradient(x) == pytest.approx(0.0, abs=1e-12)
        assert 3 * x**2 - 1 > 0  # f'' > 0: a minimum
    assert well.value(well.global_minimizer) < well.value(well.local_minimizer)
    with pytest.raises(ValueError, match="tilt"):
        problems.tilted_double_well(0.5)


def test_constructor_validation_names_the_parameter():
    with pytest.raises(ValueError, match="condition"):
        problems.ill_conditioned_quadratic(condition=0.0)
    with pytest.raises(ValueError, match="curvature"):
        problems.saddle(curvature=-1.0)
    with pytest.raises(ValueError, match="points"):
        problems.rosenbrock().value(np.zeros(3))


# --------------------------------------------------------------------------------------------
# The runner
# --------------------------------------------------------------------------------------------
def test_gradient_descent_on_a_quadratic_matches_the_closed_form():
    bowl = problems.ill_conditioned_quadratic(condition=25.0, rotation_deg=30.0)
    lr, steps = 0.05, 40
    path = problems.run_on(bowl, "sgd", lr=lr, steps=steps)
    hessian = np.stack([bowl.gradient(np.array(e)) for e in ([1.0, 0.0], [0.0, 1.0])])
    expected = np.linalg.matrix_power(np.eye(2) - lr * hessian, steps) @ bowl.start
    np.testing.assert_allclose(path.points[-1], expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(path.losses, bowl.value(path.points))


TORCH_OPTIMIZERS = {
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (torch.optim.Adagrad, {}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adam": (torch.optim.Adam, {}),
    "amsgrad": (torch.optim.Adam, {"amsgrad": True}),
}


@pytest.mark.parametrize("name", sorted(TORCH_OPTIMIZERS))
def test_trajectory_matches_torch_optim_on_rosenbrock(name):
    """The NumPy runner drives the pure rules; torch.optim is the oracle."""
    land = problems.rosenbrock()
    lr, steps = 1e-3 if name in ("sgd", "momentum", "nesterov") else 1e-2, 60
    path = problems.run_on(land, name, lr=lr, steps=steps)
    cls, kwargs = TORCH_OPTIMIZERS[name]
    param = torch.tensor(land.start, dtype=torch.float64, requires_grad=True)
    optimizer = cls([param], lr=lr, **kwargs)
    points = [param.detach().numpy().copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        x, y = param[0], param[1]
        loss = (1 - x) ** 2 + 100 * (y - x**2) ** 2
        loss.backward()
        optimizer.step()
        points.append(param.detach().numpy().copy())
    np.testing.assert_allclose(path.points, np.array(points), rtol=1e-9, atol=1e-12)


def test_divergence_is_flagged_and_cut_short():
    bowl = problems.ill_conditioned_quadratic(condition=25.0)
    path = problems.run_on(bowl, "sgd", lr=1.0, steps=200)  # 1 - 25 * lr = -24: blows up
    assert path.diverged
    assert np.isnan(path.points[-1]).all() and np.isnan(path.losses[-1])
    assert np.isfinite(path.points[0]).all()
    assert problems.steps_to_tolerance(path, 0.0, 1e-6) is None
    assert problems.tail_gap(path, 0.0) == math.inf
    assert not problems.in_view(bowl, path)


def test_hyperparameter_overrides_reach_the_rule():
    bowl = problems.ill_conditioned_quadratic()
    plain = problems.run_on(bowl, "momentum", lr=0.01, steps=5)
    slower = problems.run_on(bowl, "momentum", lr=0.01, steps=5, momentum=0.1)
    assert not np.allclose(plain.points, slower.points)
    np.testing.assert_allclose(slower.points[1], plain.points[1])  # the first step has no memory


def test_run_validation():
    grad = lambda p, _t: p  # noqa: E731
    with pytest.raises(ValueError, match="optimizer"):
        problems.run("lion", grad, [1.0], lr=0.1, steps=1)
    with pytest.raises(ValueError, match="lr"):
        problems.run("sgd", grad, [1.0], lr=-0.1, steps=1)
    with pytest.raises(ValueError, match="steps"):
        problems.run("sgd", grad, [1.0], lr=0.1, steps=-1)


def test_steps_to_tolerance_requires_staying_below():
    losses = np.array([5.0, 0.5, 2.0, 0.5, 0.1, 0.05])
    path = problems.Trajectory("sgd", 0.1, np.zeros((6, 2)), losses, False)
    assert problems.steps_to_tolerance(path, 0.0, 1.0) == 3  # dips at 1, bounces out at 2
    assert problems.steps_to_tolerance(path, 0.0, 0.01) is None
    assert problems.steps_to_tolerance(path, 0.0, 10.0) == 0
    assert problems.tail_gap(path, 0.0, tail=2) == pytest.approx(0.1)


# --------------------------------------------------------------------------------------------
# Tuning
# --------------------------------------------------------------------------------------------
def test_grid_search_picks_the_lowest_score_first_on_ties():
    paths = {
        lr: problems.Trajectory("sgd", lr, np.zeros((1, 2)), np.zeros(1), False) for lr in (1, 2, 3)
    }
    scores = {1: 5.0, 2: 1.0, 3: 1.0}
    search = problems.grid_search(lambda lr: paths[lr], lambda p: scores[p.lr], [1, 2, 3])
    assert search.lr == 2 and search.scores == [5.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="grid"):
        problems.grid_search(lambda lr: paths[1], lambda p: 0.0, [])


def test_tune_lr_beats_every_other_grid_value_and_stays_in_view():
    bowl = problems.ill_conditioned_quadratic(condition=25.0)
    grid = 10.0 ** np.arange(-3.0, 0.01, 0.5)
    tuning = problems.tune_on(bowl, "sgd", steps=300, tol=1e-6, grid=grid)
    # gradient descent is stable only for lr < 2/25, so the winner is the largest stable value
    assert tuning.lr == pytest.approx(10**-1.5)
    assert tuning.steps_to_tol == problems.steps_to_tolerance(tuning.trajectory, 0.0, 1e-6)
    assert problems.in_view(bowl, tuning.trajectory)
    score = problems.landscape_score(bowl, 1e-6)
    for lr in grid:
        assert score(tuning.trajectory) <= score(
            problems.run_on(bowl, "sgd", lr=float(lr), steps=300)
        )


def test_rotation_leaves_gradient_descent_unchanged_but_not_adagrad():
    aligned = problems.ill_conditioned_quadratic(25.0)
    rotated = problems.ill_conditioned_quadratic(25.0, rotation_deg=45.0)
    gd = [problems.run_on(b, "sgd", lr=0.05, steps=100) for b in (aligned, rotated)]
    np.testing.assert_allclose(gd[0].losses, gd[1].losses, rtol=1e-9, atol=1e-300)
    ada = [problems.run_on(b, "adagrad", lr=1.0, steps=100) for b in (aligned, rotated)]
    assert not np.allclose(ada[0].losses, ada[1].losses)


# --------------------------------------------------------------------------------------------
# The rare-feature problem
# --------------------------------------------------------------------------------------------
def test_sparse_regression_is_seeded_and_its_gradient_is_exact():
    problem = problems.sparse_regression(n_samples=500, n_dense=5, rare_prob=0.05, seed=3)
    again = problems.sparse_regression(n_samples=500, n_dense=5, rare_prob=0.05, seed=3)
    np.testing.assert_array_equal(problem.features, again.features)
    assert set(np.unique(problem.features[:, -1])) <= {0.0, 1.0}
    assert 0 < problem.rare_count(500) < 60
    weights = np.random.default_rng(0).standard_normal(6)
    x, y = problem.features[6], problem.targets[6]
    expected = numerical_gradient(lambda w: 0.5 * (x @ w - y) ** 2, weights)
    np.testing.assert_allclose(problem.gradient(weights, 7), expected, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="rare_prob"):
        problems.sparse_regression(rare_prob=0.0)


def test_sgd_moves_the_rare_weight_only_when_its_feature_appears():
    problem = problems.sparse_regression(n_samples=300, n_dense=4, rare_prob=0.05, seed=0)
    path = problems.run("sgd", problem.gradient, np.zeros(5), lr=0.05, steps=300)
    moved = np.flatnonzero(np.diff(path.points[:, -1]) != 0)  # step t changes point t
    np.testing.assert_array_equal(moved, np.flatnonzero(problem.features[:300, -1]))
    errors = problem.weight_errors(path)
    assert errors.shape == (301, 5) and errors[0] == pytest.approx(np.ones(5))


# --------------------------------------------------------------------------------------------
# Tables and figures
# --------------------------------------------------------------------------------------------
def test_plots_draw_one_line_per_trajectory_in_the_book_colours():
    land = problems.saddle()
    paths = [problems.run_on(land, name, lr=0.05, steps=20) for name in ("sgd", "adam")]
    fig, (ax_path, ax_gap) = plt.subplots(1, 2)
    figures.plot_trajectories(ax_path, land, paths)
    figures.plot_gaps(ax_gap, land, paths, tol=1e-6)
    labelled = {line.get_label(): line.get_color() for line in ax_path.get_lines()}
    assert labelled["SGD"] == color("sgd") and labelled["Adam"] == color("adam")
    assert {line.get_label() for line in ax_gap.get_lines()} >= {"SGD", "Adam"}
    plt.close(fig)


def test_family_tree_rejects_unknown_nodes():
    nodes = {
        "sgd": figures.TreeNode(0, 0, "SGD", "sgd"),
        "adam": figures.TreeNode(2, 0, "Adam", "adam"),
    }
    fig, ax = plt.subplots()
    figures.draw_family_tree(ax, nodes, [figures.TreeEdge("sgd", "adam", "m")])
    assert len(ax.patches) == 3  # two boxes, one arrow
    with pytest.raises(ValueError, match="lion"):
        figures.draw_family_tree(ax, nodes, [figures.TreeEdge("sgd", "lion")])
    plt.close(fig)
