"""optlib.faq: the FAQ's small experiments, checked by hand, against theory and against torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from optlib import optim as optlib_optim
from optlib import problems, rules
from optlib.book import analysis, faq


# --------------------------------------------------------------------------------------------
# Wilson et al. (2017)
# --------------------------------------------------------------------------------------------
def test_wilson_problem_has_the_published_structure():
    problem = problems.wilson_problem(30, 0.6, seed=3)
    x, y = problem.x, problem.y
    assert x.shape == (30, 3 + 5 * 30)
    assert set(np.unique(y)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(x[:, 0], y)
    np.testing.assert_array_equal(x[:, 1:3], 1.0)
    private = x[:, 3:].reshape(30, 30, 5)  # sample i, block j, feature k
    for i in range(30):
        assert private[i, i].sum() == (1 if y[i] > 0 else 5)
        assert private[i].sum() == private[i, i].sum()  # nothing outside its own block
    assert np.linalg.matrix_rank(x) == 30  # overparameterised: exact fits exist


def test_wilson_problem_is_seeded_and_validates():
    a, b = problems.wilson_problem(10, 0.7, seed=1), problems.wilson_problem(10, 0.7, seed=1)
    np.testing.assert_array_equal(a.x, b.x)
    with pytest.raises(ValueError, match="p_positive"):
        problems.wilson_problem(10, 0.5)
    with pytest.raises(ValueError, match="n_samples"):
        problems.wilson_problem(0, 0.7)


def test_gradient_matches_finite_differences():
    problem = problems.wilson_problem(5, 0.6, seed=0)
    w = np.random.default_rng(0).standard_normal(problem.x.shape[1])
    step = 1e-6
    numeric = np.array(
        [
            (problem.loss(w + step * e) - problem.loss(w - step * e)) / (2 * step)
            for e in np.eye(w.size)
        ]
    )
    np.testing.assert_allclose(problem.gradient(w), numeric, atol=1e-6)


def test_test_error_matches_fresh_samples():
    fresh = problems.wilson_problem(500, 0.7, seed=5)
    for weights in (np.array([0.3, 0.2, -0.05]), np.array([0.1, 0.2, 0.2])):
        scores = fresh.x[:, :3] @ weights  # unseen private features have weight 0
        empirical = np.mean(np.sign(scores) != fresh.y)
        assert empirical == pytest.approx(problems.wilson_test_error(weights, 0.7), abs=0.07)
    assert problems.wilson_test_error(np.array([0.3, 0.2, -0.05]), 0.7) == 0.0
    assert problems.wilson_test_error(np.array([0.1, 0.2, 0.2]), 0.7) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="weights"):
        problems.wilson_test_error(np.zeros(2), 0.7)


def test_gradient_descent_generalises_and_adagrad_does_not():
    problem = problems.wilson_problem(40, 0.6, seed=0)
    start = np.zeros(problem.x.shape[1])
    lr_gd = 1.0 / np.linalg.eigvalsh(problem.x.T @ problem.x).max()

    def gradient(w, _step):
        return problem.gradient(w)

    gd = problems.run("sgd", gradient, start, lr=lr_gd, steps=1000).points[-1]
    adagrad = problems.run("adagrad", gradient, start, lr=0.1, steps=1000).points[-1]
    for weights in (gd, adagrad):
        assert problem.train_error(weights) == 0.0
    minimum_norm = np.linalg.lstsq(problem.x, problem.y, rcond=None)[0]
    np.testing.assert_allclose(gd, minimum_norm, atol=1e-8)  # GD from 0 finds it
    assert problems.wilson_test_error(gd, 0.6) == 0.0
    assert problems.wilson_test_error(adagrad, 0.6) == pytest.approx(0.4)


# --------------------------------------------------------------------------------------------
# Epsilon hat
# --------------------------------------------------------------------------------------------
def test_epsilon_hat_equals_pytorch_adam_with_the_converted_epsilon():
    grads = np.random.default_rng(1).standard_normal((30, 4)) * 1e-6
    eps_hat, lr, betas = 1e-7, 1e-3, (0.9, 0.999)
    state_hat = state_torch = rules.adam_init(np.zeros(4))
    for t, grad in enumerate(grads, start=1):
        delta_hat, state_hat = rules.adam_update_epsilon_hat(
            grad, state_hat, np.zeros(4), lr=lr, betas=betas, eps=eps_hat
        )
        eps_t = rules.epsilon_hat_equivalent(eps_hat, betas[1], t)
        delta_torch, state_torch = rules.adam_update(
            grad, state_torch, np.zeros(4), lr=lr, betas=betas, eps=eps_t
        )
        np.testing.assert_allclose(delta_hat, delta_torch, rtol=1e-12)
    assert state_hat.step == 30


def test_epsilon_hat_without_epsilon_is_adam():
    grads = np.random.default_rng(2).standard_normal((10, 3))
    hat = problems.replay(
        rules.adam_update_epsilon_hat, rules.adam_init(np.zeros(3)), grads, np.zeros(3), eps=0.0
    )
    plain = problems.replay(
        rules.adam_update, rules.adam_init(np.zeros(3)), grads, np.zeros(3), eps=0.0
    )
    np.testing.assert_allclose(hat, plain, rtol=1e-12)


def test_epsilon_hat_equivalent_values_and_validation():
    assert rules.epsilon_hat_equivalent(1e-7, 0.999, 1) == pytest.approx(1e-7 / math.sqrt(1e-3))
    assert rules.epsilon_hat_equivalent(1e-7, 0.999, 100_000) == pytest.approx(1e-7)
    with pytest.raises(ValueError, match="step"):
        rules.epsilon_hat_equivalent(1e-7, 0.999, 0)
    with pytest.raises(ValueError, match="beta2"):
        rules.epsilon_hat_equivalent(1e-7, 1.0, 3)


# --------------------------------------------------------------------------------------------
# Sparse embeddings
# --------------------------------------------------------------------------------------------
def test_adagrad_with_sparse_gradients_equals_dense_adagrad():
    def make(params):
        return torch.optim.Adagrad(params, lr=0.3)

    sparse = faq.train_embedding(make, sparse=True, steps=15)
    dense = faq.train_embedding(make, sparse=False, steps=15)
    torch.testing.assert_close(sparse.weights, dense.weights, rtol=0, atol=1e-12)
    assert sparse.absent_rows_moved == dense.absent_rows_moved == 0
    optlib_dense = faq.train_embedding(
        lambda p: optlib_optim.Adagrad(p, lr=0.3), sparse=False, steps=15
    )
    torch.testing.assert_close(optlib_dense.weights, dense.weights, rtol=0, atol=1e-12)


def test_dense_adam_moves_absent_rows_and_sparse_adam_does_not():
    dense = faq.train_embedding(lambda p: torch.optim.Adam(p, lr=0.1), sparse=False)
    lazy = faq.train_embedding(lambda p: torch.optim.SparseAdam(p, lr=0.1), sparse=True)
    assert dense.absent_rows_moved > 0
    assert lazy.absent_rows_moved == 0
    assert lazy.looked_up_rows == dense.looked_up_rows > 0
    assert not torch.allclose(dense.weights, lazy.weights)


def test_optlib_refuses_sparse_gradients_with_a_clear_error():
    with pytest.raises(RuntimeError, match="sparse"):
        faq.train_embedding(lambda p: optlib_optim.Adam(p), sparse=True, steps=1)


def test_train_embedding_validates():
    with pytest.raises(ValueError, match="steps"):
        faq.train_embedding(lambda p: torch.optim.SGD(p, lr=0.1), sparse=False, steps=0)
    with pytest.raises(ValueError, match="n_rows"):
        faq.train_embedding(lambda p: torch.optim.SGD(p, lr=0.1), sparse=False, n_rows=0)


# --------------------------------------------------------------------------------------------
# Recording parameter changes
# --------------------------------------------------------------------------------------------
def test_train_recording_changes_records_sgd_steps_exactly():
    torch.manual_seed(0)
    model = nn.Linear(4, 3).double()
    x = torch.randn(8, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (8,))
    reference = nn.Linear(4, 3).double()
    reference.load_state_dict(model.state_dict())
    loss = nn.functional.cross_entropy(reference(x), y)
    loss.backward()
    expected = torch.cat([0.5 * p.grad.abs().reshape(-1) for p in reference.parameters()])
    record = analysis.train_recording_changes(
        model, torch.optim.SGD(model.parameters(), lr=0.5), [(x, y), (x, y)]
    )
    assert record.losses.shape == record.median_abs_change.shape == (2,)
    assert record.losses[0] == pytest.approx(loss.item())
    assert record.median_abs_change[0] == pytest.approx(expected.median().item())
    assert record.losses[1] < record.losses[0]


def test_a_fresh_adam_steps_lr_in_every_coordinate():
    torch.manual_seed(1)
    model = nn.Linear(5, 3)
    batches = [(torch.randn(16, 5), torch.randint(0, 3, (16,)))]
    record = analysis.train_recording_changes(
        model, optlib_optim.Adam(model.parameters(), lr=0.01), batches
    )
    assert record.median_abs_change[0] == pytest.approx(0.01, rel=1e-4)
    with pytest.raises(ValueError, match="batches"):
        analysis.train_recording_changes(model, torch.optim.SGD(model.parameters(), lr=0.1), [])
