"""The pure update rules give the same numbers on Python floats, NumPy arrays and torch tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optlib import rules

UPDATES = {
    "sgd": (rules.sgd_init, rules.sgd_update, dict(lr=0.1, momentum=0.9, nesterov=True)),
    "adagrad": (
        lambda p: rules.adagrad_init(p, 0.1),
        rules.adagrad_update,
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.01),
    ),
    "rmsprop": (
        lambda p: rules.rmsprop_init(p, momentum=0.5, centered=True),
        rules.rmsprop_update,
        dict(lr=0.01, momentum=0.5, centered=True),
    ),
    "adam": (rules.adam_init, rules.adam_update, dict(lr=0.1, weight_decay=0.01)),
    "amsgrad": (
        lambda p: rules.adam_init(p, amsgrad=True),
        rules.adam_update,
        dict(lr=0.1, amsgrad=True),
    ),
    "adamw": (rules.adam_init, rules.adamw_update, dict(lr=0.1, weight_decay=0.1)),
    # Variants the book compares
    "adam-without-bias-correction": (
        rules.adam_init,
        rules.adam_update_without_bias_correction,
        dict(lr=0.1),
    ),
    "amsgrad-reddi": (
        lambda p: rules.adam_init(p, amsgrad=True),
        rules.amsgrad_reddi_update,
        dict(lr=0.1),
    ),
    "adam-epsilon-hat": (rules.adam_init, rules.adam_update_epsilon_hat, dict(lr=0.1, eps=1e-3)),
    "adagrad-eps-inside-root": (
        lambda p: rules.adagrad_init(p, 0.1),
        rules.adagrad_convention_update,
        dict(lr=0.1, eps=1e-7, eps_inside_root=True),
    ),
    "adagrad-eps-outside-root": (
        rules.adagrad_init,
        rules.adagrad_convention_update,
        dict(lr=0.1, eps=1e-10, eps_inside_root=False),
    ),
}

GRADIENTS = [0.5, -0.25, 2.0, 0.0, -1.5, 0.75]


def trace(name: str, to_array) -> list[float]:
    """Six steps on one coordinate, with numbers wrapped by ``to_array``; the parameter path."""
    init, update, hyper = UPDATES[name]
    param = to_array(1.0)
    state = init(param)
    path = []
    for grad in GRADIENTS:
        delta, state = update(to_array(grad), state, param, **hyper)
        param = param + delta
        path.append(float(param.item() if hasattr(param, "item") else param))
    return path


@pytest.mark.parametrize("name", sorted(UPDATES))
def test_same_numbers_on_floats_numpy_and_torch(name):
    on_floats = trace(name, float)
    on_numpy = trace(name, lambda x: np.array([x], dtype=np.float64))
    on_torch = trace(name, lambda x: torch.tensor([x], dtype=torch.float64))
    assert all(isinstance(x, float) for x in on_floats)
    np.testing.assert_allclose(on_numpy, on_floats, rtol=0, atol=1e-15)
    np.testing.assert_allclose(on_torch, on_floats, rtol=0, atol=1e-15)


def test_rules_are_pure():
    grad = torch.tensor([0.5, -1.0])
    param = torch.tensor([1.0, 2.0])
    state = rules.adam_init(param)
    before = [t.clone() for t in (grad, param, state.exp_avg, state.exp_avg_sq)]
    _, new_state = rules.adam_update(grad, state, param, lr=0.1)
    after = (grad, param, state.exp_avg, state.exp_avg_sq)
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert new_state.step == 1 and state.step == 0


def test_adagrad_step_only_shrinks_for_a_constant_gradient():
    state = rules.adagrad_init(0.0)
    steps = []
    for _ in range(100):
        delta, state = rules.adagrad_update(1.0, state, 0.0, lr=1.0)
        steps.append(-delta)
    assert all(a > b for a, b in zip(steps, steps[1:], strict=False))
    assert steps[99] == pytest.approx(1 / 10, rel=1e-9)  # eta / sqrt(100)


def test_adam_bias_correction_makes_the_first_step_lr_sized():
    for grad in (1e-6, 1.0, 1e3):
        delta, _ = rules.adam_update(grad, rules.adam_init(0.0), 0.0, lr=0.01, eps=0.0)
        assert delta == pytest.approx(-0.01, rel=1e-12)


def test_ema_window_and_bias_correction():
    average = 0.0
    for _ in range(10):
        average = rules.ema(average, 1.0, 0.9)
    assert average == pytest.approx(rules.bias_correction(0.9, 10))
    assert average / rules.bias_correction(0.9, 10) == pytest.approx(1.0)


def test_amsgrad_max_is_elementwise_and_exact():
    a = np.array([1.0, 5.0, 3.0])
    b = np.array([2.0, 4.0, 3.0])
    np.testing.assert_array_equal(rules.amsgrad_max(a, b), [2.0, 5.0, 3.0])
    assert rules.amsgrad_max(0.1, 0.3) == 0.3
    assert torch.equal(
        rules.amsgrad_max(torch.tensor(a), torch.tensor(b)), torch.tensor([2.0, 5, 3])
    )


def test_l2_and_decoupled_decay_differ_inside_adam():
    """Adam + L2 rescales the decay by the adaptive denominator; AdamW does not."""
    param, grad = 2.0, 0.0
    l2_delta, _ = rules.adam_update(grad, rules.adam_init(param), param, lr=0.1, weight_decay=0.1)
    adamw_delta, _ = rules.adamw_update(
        grad, rules.adam_init(param), param, lr=0.1, weight_decay=0.1
    )
    assert l2_delta == pytest.approx(-0.1, rel=1e-6)  # normalised away: a full lr-sized step
    assert adamw_delta == pytest.approx(-0.1 * 0.1 * 2.0)  # eta * lambda * theta


def test_adagrad_convention_outside_the_root_is_adagrad():
    """PyTorch's convention is :func:`rules.adagrad_update` without decay or weight decay."""
    grads = [0.5, -0.25, 2.0]
    param, ours, theirs = 1.0, rules.adagrad_init(1.0), rules.adagrad_init(1.0)
    for grad in grads:
        a, ours = rules.adagrad_convention_update(
            grad, ours, param, lr=0.1, eps=1e-10, eps_inside_root=False
        )
        b, theirs = rules.adagrad_update(grad, theirs, param, lr=0.1, eps=1e-10)
        assert a == b


def test_epsilon_hat_adam_is_adam_with_a_step_dependent_epsilon():
    """Keras's order with eps_hat equals eq. (adam-update) with eps_t = eps_hat/sqrt(1-beta2^t)."""
    eps_hat, grads = 1e-3, [0.5, -0.25, 2.0, 1e-4]
    keras, adam, param = rules.adam_init(0.0), rules.adam_init(0.0), 0.0
    for t, grad in enumerate(grads, start=1):
        a, keras = rules.adam_update_epsilon_hat(grad, keras, param, lr=0.1, eps=eps_hat)
        eps_t = rules.epsilon_hat_equivalent(eps_hat, 0.999, t)
        b, adam = rules.adam_update(grad, adam, param, lr=0.1, eps=eps_t)
        assert a == pytest.approx(b, rel=1e-12)


def test_without_bias_correction_the_first_step_is_inflated():
    """m_1/sqrt(v_1) = (1-beta1)/sqrt(1-beta2) sign(g): 3.16 times lr instead of lr (eps=0)."""
    delta, _ = rules.adam_update_without_bias_correction(
        2.0, rules.adam_init(0.0), 0.0, lr=0.1, eps=0.0
    )
    assert delta == pytest.approx(-0.1 * 0.1 / 0.001**0.5)


def test_inverse_sqrt_decay():
    assert [rules.inverse_sqrt_decay(k) for k in (0, 3, 99)] == [1.0, 0.5, 0.1]
    with pytest.raises(ValueError, match="steps_taken"):
        rules.inverse_sqrt_decay(-1)
