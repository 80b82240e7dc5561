"""Chapter 3's invariants: what holds by construction is tested here, not claimed in the book."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from optlib import problems, rules
from optlib.book import ch03

STREAMS = arrays(
    np.float64,
    st.tuples(st.integers(1, 60), st.integers(1, 3)),
    elements=st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
)


def spike_stream(steps: int = 3000, at: int = 10) -> np.ndarray:
    grads = np.ones((steps, 1))
    grads[at - 1] = 100.0
    return grads


@settings(max_examples=60, deadline=None)
@given(grads=STREAMS)
def test_reddi_amsgrad_denominator_never_shrinks(grads):
    state = rules.adam_init(np.zeros(grads.shape[1]), amsgrad=True)
    previous = state.max_exp_avg_sq
    for grad in grads:
        _, state = rules.amsgrad_reddi_update(grad, state, np.zeros(grads.shape[1]))
        assert np.all(state.max_exp_avg_sq >= previous)
        previous = state.max_exp_avg_sq
    rates = ch03.spike_effective_lrs(grads)["amsgrad_reddi"]
    assert np.all(np.diff(rates, axis=0) <= 0)


def test_reddi_amsgrad_is_adam_without_correction_until_v_falls():
    """While v_t only grows (constant gradient), the max is v_t and Reddi's step is Adam's
    uncorrected step."""
    grads = np.full((50, 2), 0.3)
    zeros = np.zeros(2)
    reddi = problems.replay(
        rules.amsgrad_reddi_update, rules.adam_init(zeros, amsgrad=True), grads, zeros, lr=0.1
    )
    uncorrected = problems.replay(
        rules.adam_update_without_bias_correction, rules.adam_init(zeros), grads, zeros, lr=0.1
    )
    np.testing.assert_allclose(reddi, uncorrected, rtol=1e-12)


def test_reddi_amsgrad_rejects_a_state_without_the_maximum():
    with pytest.raises(ValueError, match="max_exp_avg_sq"):
        rules.amsgrad_reddi_update(1.0, rules.adam_init(0.0), 0.0)


def test_torch_amsgrad_effective_lr_rises_after_a_spike():
    """torch.optim.Adam(amsgrad=True) keeps the max of the uncorrected v_t and then divides by
    1 - beta2^t: the corrected denominator falls as the correction fades, so its effective
    learning rate rises after a spike, which the book's helper reproduces."""
    grads = spike_stream()
    param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([param], lr=1e-3, amsgrad=True)
    torch_rates = []
    for grad in grads:
        param.grad = torch.tensor(grad, dtype=torch.float64)
        optimizer.step()
        state = optimizer.state[param]
        corrected = state["max_exp_avg_sq"] / rules.bias_correction(0.999, int(state["step"]))
        torch_rates.append(1e-3 / (corrected.sqrt().item() + 1e-8))
    book_rates = ch03.spike_effective_lrs(grads)["amsgrad"][:, 0]
    np.testing.assert_allclose(book_rates, torch_rates, rtol=1e-9)
    assert book_rates[9] < book_rates[8]  # the spike lowers it ...
    assert book_rates[-1] > 5 * book_rates[9]  # ... and the fading correction raises it again


def test_forgetting_rates_follow_the_closed_forms_of_the_accumulators():
    """Unit gradients with one spike s at step k: Adam's v_t = 1 - beta2^t + (s^2 - 1)(1 - beta2)
    beta2^(t - k) from step k on (torch's AMSGrad keeps its running maximum), and Adagrad's
    G_t = t before the spike and t - 1 + s^2 from it on."""
    spikes, beta2s, steps, spike = (3, 40), (0.9, 0.999), 120, 100.0
    grid = ch03.forgetting_rates(beta2s=beta2s, spike_steps=spikes, steps=steps, spike=spike)
    t = np.arange(1, steps + 1)
    for (k, beta2), (j, at) in itertools.product(enumerate(beta2s), enumerate(spikes)):
        after = np.where(t >= at, (spike**2 - 1) * (1 - beta2) * beta2 ** (t - at), 0.0)
        v, correction = 1 - beta2**t + after, 1 - beta2**t
        adam = 1 / (np.sqrt(v / correction) + 1e-8)
        amsgrad = 1 / (np.sqrt(np.maximum.accumulate(v) / correction) + 1e-8)
        np.testing.assert_allclose(grid.rates["adam"][k, j], adam, rtol=1e-9)
        np.testing.assert_allclose(grid.rates["amsgrad"][k, j], amsgrad, rtol=1e-9)
    for j, at in enumerate(spikes):
        sum_sq = np.where(t < at, t, t - 1 + spike**2)
        np.testing.assert_allclose(grid.rates["adagrad"][j], 1 / (np.sqrt(sum_sq) + 1e-10))


def test_spike_stream_puts_one_spike_per_column_and_names_a_step_outside():
    grads = ch03.spike_stream(5, [1, 5], 7.0)
    assert grads.tolist() == [[7.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 7.0]]
    with pytest.raises(ValueError, match="spike step: 11"):
        ch03.spike_stream(10, [11], 5.0)


def test_first_steps_are_lr_times_the_sign_of_the_gradient():
    grad = np.array([3.0, -0.01, 1e4])
    adagrad, _ = rules.adagrad_update(grad, rules.adagrad_init(np.zeros(3)), np.zeros(3), lr=0.1)
    adam, _ = rules.adam_update(grad, rules.adam_init(np.zeros(3)), np.zeros(3), lr=0.1)
    np.testing.assert_allclose(adagrad, -0.1 * np.sign(grad), rtol=1e-7)
    np.testing.assert_allclose(adam, -0.1 * np.sign(grad), rtol=1e-5)


def test_rmsprop_first_step_is_lr_over_sqrt_one_minus_rho():
    delta, _ = rules.rmsprop_update(1.0, rules.rmsprop_init(0.0), 0.0, lr=0.01, alpha=0.99)
    assert delta == pytest.approx(-0.01 / np.sqrt(1 - 0.99), rel=1e-6)


def test_adagrad_steps_do_not_depend_on_the_units_of_a_coordinate():
    stream = np.random.default_rng(0).standard_normal((50, 1)) * np.array([1.0, 1e-3, 1e3])
    deltas = problems.replay(
        rules.adagrad_update, rules.adagrad_init(np.zeros(3)), stream, np.zeros(3), lr=0.1
    )
    np.testing.assert_allclose(deltas, np.repeat(deltas[:, :1], 3, axis=1), rtol=1e-5)


def test_adam_with_beta1_zero_beta2_to_one_and_lr_over_sqrt_t_is_adagrad():
    stream = np.random.default_rng(3).standard_normal((200, 20)) * np.geomspace(1e-3, 1, 20)
    theta = np.zeros(20)
    adagrad = problems.replay(
        rules.adagrad_update, rules.adagrad_init(theta), stream, theta, lr=0.1, eps=0.0
    )
    state, adam = rules.adam_init(theta), []
    for t, grad in enumerate(stream, start=1):
        delta, state = rules.adam_update(
            grad, state, theta, lr=0.1 / t**0.5, betas=(0.0, 1 - 1e-9), eps=0.0
        )
        adam.append(delta)
    np.testing.assert_allclose(np.array(adam), adagrad, rtol=1e-6)


@pytest.mark.parametrize("t", [1, 10, 1000])
def test_severe_sparsity_step_matches_its_formula(t):
    grads = np.zeros((t, 1))
    grads[-1] = 0.5
    step = problems.replay(
        rules.adam_update, rules.adam_init(np.zeros(1)), grads, np.zeros(1), lr=1.0, eps=1e-30
    )[-1, 0]
    formula = 0.1 / np.sqrt(0.001) * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
    assert -step == pytest.approx(formula, rel=1e-9)
