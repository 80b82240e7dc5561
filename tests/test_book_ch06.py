"""Chapter 6's statements about the update rules, and its helper.

The FAQ states these as facts of the rules, not as findings of an experiment, so they are checked
here rather than shown as claims: Adagrad's steps never exceed its learning rate and its rates
never rise; Adam's step does not depend on the gradients' scale above epsilon and turns into
momentum SGD below it; Adam's rates rise again when the gradients shrink; a constant gradient
moves Adagrad by the partial sum of 1/sqrt(t); and ``load_state_dict`` shares tensors.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from optlib import optim as optlib_optim
from optlib import problems, rules
from optlib.book import analysis
from optlib.book.ch06 import train_with_held_out_loss


def adagrad_states(stream: np.ndarray, lr: float):
    start = np.zeros(stream.shape[1])
    return list(
        problems.replay_states(
            rules.adagrad_update, rules.adagrad_init(start), stream, start, lr=lr
        )
    )


def test_adagrad_steps_never_exceed_lr_and_its_rates_never_rise_on_cauchy_spikes():
    cauchy = np.random.default_rng(1).standard_cauchy((5000, 100))
    assert np.abs(cauchy).max() > 1e6  # the stream does contain huge spikes
    states = adagrad_states(cauchy, lr=0.1)
    largest_step = max(np.abs(delta).max() for delta, _ in states)
    rates = np.array([analysis.adagrad_effective_lr(s.sum_sq, s.step, lr=0.1) for _, s in states])
    assert largest_step <= 0.1
    assert largest_step > 0.099  # the bound is attained (first steps), so the check is tight
    assert np.all(np.diff(rates, axis=0) <= 0)


def test_adam_rates_rise_after_the_gradients_shrink_and_adagrad_rates_do_not():
    stream = np.random.default_rng(0).standard_normal((12_000, 2)) + 0.5
    stream[:, 1] *= 0.01
    stream[2000:] *= 0.01
    start = np.zeros(2)
    adam = [
        analysis.adam_effective_lr(s.exp_avg_sq, s.step, lr=1e-3)
        for _, s in problems.replay_states(
            rules.adam_update, rules.adam_init(start), stream, start, lr=1e-3
        )
    ]
    adagrad = [
        analysis.adagrad_effective_lr(s.sum_sq, s.step, lr=1e-2)
        for _, s in adagrad_states(stream, lr=1e-2)
    ]
    adam, adagrad = np.array(adam), np.array(adagrad)
    for rates in (adam, adagrad):  # both give the 100x smaller coordinate a ~100x rate
        assert 80 < rates[1999, 1] / rates[1999, 0] < 120
    assert (adam[-1] / adam[1999]).min() > 50
    assert (adagrad[-1] / adagrad[1999]).max() <= 1.0


@pytest.mark.parametrize("scale", [1e-2, 1e-4, 1e-6])
def test_adam_steps_do_not_depend_on_the_gradient_scale_above_eps(scale):
    stream = np.random.default_rng(2).standard_normal((1000, 50)) + 0.3
    start = np.zeros(50)

    def mean_step(gradients):
        deltas = problems.replay(
            rules.adam_update, rules.adam_init(start), gradients, start, lr=1e-3
        )
        return np.abs(deltas).mean()

    assert mean_step(stream * scale) / mean_step(stream) == pytest.approx(1, abs=0.02)


def test_adam_below_eps_steps_like_momentum_sgd_with_lr_alpha_over_eps():
    gradients = np.full((50, 1), 1e-11)  # a thousand times below eps
    start = np.zeros(1)
    deltas = problems.replay(
        rules.adam_update, rules.adam_init(start), gradients, start, lr=1e-3, eps=1e-8
    )
    assert -deltas[-1, 0] == pytest.approx(1e-3 / 1e-8 * 1e-11, rel=2e-3)


def test_a_constant_gradient_moves_adagrad_by_the_partial_sum_and_adam_by_alpha_t():
    constant = np.ones((10_000, 1))
    start = np.zeros(1)
    adagrad = -problems.replay(
        rules.adagrad_update, rules.adagrad_init(start), constant, start, lr=1e-3
    ).sum()
    adam = -problems.replay(
        rules.adam_update, rules.adam_init(start), constant, start, lr=1e-3
    ).sum()
    partial_sum = np.sum(1 / np.sqrt(np.arange(1, 10_001)))
    assert adagrad == pytest.approx(1e-3 * partial_sum, rel=1e-6)
    assert 2e-3 * (np.sqrt(10_001) - 1) <= adagrad < 2e-3 * np.sqrt(10_000)
    assert adam == pytest.approx(10.0, rel=1e-6)


@pytest.mark.parametrize("loader", [torch.optim.Adam, optlib_optim.Adam])
def test_load_state_dict_shares_the_state_tensors_so_branches_must_copy(loader):
    model = nn.Linear(3, 2)
    first = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.ones(4, 3)).sum().backward()
    first.step()
    original = first.state_dict()["state"][0]["exp_avg"]
    second = loader(copy.deepcopy(model).parameters(), lr=1e-3)
    second.load_state_dict(first.state_dict())
    assert next(iter(second.state.values()))["exp_avg"].data_ptr() == original.data_ptr()
    copied = loader(copy.deepcopy(model).parameters(), lr=1e-3)
    copied.load_state_dict(copy.deepcopy(first.state_dict()))
    assert next(iter(copied.state.values()))["exp_avg"].data_ptr() != original.data_ptr()


def test_train_with_held_out_loss_records_each_step():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    batches = [(x[:16], y[:16]), (x[16:], y[16:])]
    reference = copy.deepcopy(model)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    record = train_with_held_out_loss(model, sgd, batches, (x, y))
    reference_sgd = torch.optim.SGD(reference.parameters(), lr=0.1)
    for step, (xb, yb) in enumerate(batches):
        before = torch.cat([p.detach().flatten().clone() for p in reference.parameters()])
        reference_sgd.zero_grad()
        nn.functional.cross_entropy(reference(xb), yb).backward()
        reference_sgd.step()
        after = torch.cat([p.detach().flatten() for p in reference.parameters()])
        loss = nn.functional.cross_entropy(reference(x), y).item()
        assert record.median_abs_change[step] == pytest.approx(
            (after - before).abs().median().item()
        )
        assert record.held_out_loss[step] == pytest.approx(loss)
    assert len(record.held_out_loss) == 2


def test_train_with_held_out_loss_validates():
    model = nn.Linear(2, 2)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    held_out = (torch.ones(3, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="batches"):
        train_with_held_out_loss(model, sgd, [], held_out)
    with pytest.raises(ValueError, match="held_out"):
        train_with_held_out_loss(
            model, sgd, [held_out], (torch.ones(3, 2), torch.zeros(2, dtype=torch.long))
        )
