"""Tests of optlib.online: the counterexample, the projected driver, regret and Adagrad's bound."""

from __future__ import annotations

import math

import pytest
import torch

from optlib import optim, problems, rules
from optlib.book import online

C = 3.0


def adam_reddi(params):
    return optim.Adam(params, lr=0.5, betas=(0.0, problems.reddi_beta2(C)))


def test_reddi_coefficients_follow_the_period_three_pattern() -> None:
    coefficients = problems.reddi_coefficients(7, C, n_copies=2)
    assert coefficients.shape == (7, 2)
    assert coefficients[:, 0].tolist() == [3.0, -1.0, -1.0, 3.0, -1.0, -1.0, 3.0]
    assert torch.equal(coefficients[:, 0], coefficients[:, 1])


def test_stochastic_coefficients_have_the_stated_mean() -> None:
    delta = 0.5
    coefficients = problems.reddi_stochastic_coefficients(20_000, C, delta, 4, seed=1)
    assert set(coefficients.unique().tolist()) == {-1.0, C}
    standard_error = C / math.sqrt(coefficients.numel())
    assert abs(coefficients.mean().item() - delta) < 5 * standard_error
    assert not torch.equal(coefficients[:, 0], coefficients[:, 1])  # independent copies


@pytest.mark.parametrize("bad_c", [2.0, 1.0, float("nan")])
def test_counterexample_needs_c_above_two(bad_c: float) -> None:
    with pytest.raises(ValueError, match="C"):
        problems.reddi_coefficients(3, bad_c)
    with pytest.raises(ValueError, match="C"):
        problems.reddi_beta2(bad_c)


def test_regret_of_fixed_players() -> None:
    coefficients = problems.reddi_coefficients(30, C)
    best = online.regret(torch.full_like(coefficients, -1.0), coefficients)
    worst = online.regret(torch.full_like(coefficients, 1.0), coefficients)
    assert best[-1].item() == pytest.approx(0.0)  # x* = -1 after whole periods
    assert worst[-1].item() == pytest.approx(2 * (C - 2) * 30 / 3)
    assert (best >= -1e-12).all()  # regret against the best point in hindsight is >= 0


def test_driver_matches_a_hand_written_loop_with_the_pure_rule() -> None:
    coefficients = problems.reddi_coefficients(50, C)
    run = online.play_online(coefficients, adam_reddi, lr_lambda=rules.inverse_sqrt_decay)
    x, state, expected = 0.0, rules.adam_init(0.0), []
    for t, a in enumerate(coefficients[:, 0].tolist(), start=1):
        expected.append(x)
        lr = 0.5 / math.sqrt(t)
        delta, state = rules.adam_update(a, state, x, lr=lr, betas=(0.0, 1 / (1 + C * C)))
        x = min(1.0, max(-1.0, x + delta))
    assert run.iterates[:, 0].tolist() == pytest.approx(expected, abs=1e-12)


def test_iterates_stay_in_the_interval() -> None:
    coefficients = 50 * problems.reddi_stochastic_coefficients(200, C, 0.5, 3, seed=0)
    run = online.play_online(coefficients, lambda p: optim.SGD(p, lr=1.0), low=-0.5, high=2.0)
    assert run.iterates.min() >= -0.5 and run.iterates.max() <= 2.0


def test_adam_drifts_to_the_worst_point_while_amsgrad_and_adagrad_do_not() -> None:
    coefficients = problems.reddi_coefficients(900, C)

    def amsgrad(params):
        return optim.Adam(params, lr=0.5, betas=(0.0, problems.reddi_beta2(C)), amsgrad=True)

    adam = online.play_online(coefficients, adam_reddi, lr_lambda=rules.inverse_sqrt_decay)
    ams = online.play_online(coefficients, amsgrad, lr_lambda=rules.inverse_sqrt_decay)
    adagrad = online.play_online(coefficients, lambda p: optim.Adagrad(p, lr=0.5))
    assert adam.iterates[-30:].min() > 0.9
    assert ams.iterates[-30:].max() < -0.9
    assert adagrad.iterates[-30:].max() < -0.9
    assert adam.regret[-1] > 10 * adagrad.regret[-1]


def test_adagrad_regret_respects_the_duchi_hazan_singer_bound() -> None:
    coefficients = torch.cat(
        [
            problems.reddi_coefficients(600, C),
            problems.reddi_stochastic_coefficients(600, C, 0.5, 3),
        ],
        dim=1,
    )
    for lr in (0.1, 0.5, 2.0):
        run = online.play_online(coefficients, lambda p, lr=lr: optim.Adagrad(p, lr=lr))
        bound = online.adagrad_regret_bound(coefficients, lr, diameter=2.0)
        assert (run.regret <= bound).all()


def test_inverse_sqrt_schedule_gives_alpha_over_root_t() -> None:
    x = torch.zeros(1, requires_grad=True)
    optimizer = optim.Adam([x], lr=0.5)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, rules.inverse_sqrt_decay)
    seen = []
    for _ in range(4):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([0.5 / math.sqrt(t) for t in range(1, 5)])


def test_validation_names_the_bad_argument() -> None:
    with pytest.raises(ValueError, match="bounds"):
        online.play_online(torch.ones(3), adam_reddi, low=1.0, high=-1.0)
    with pytest.raises(ValueError, match="rounds"):
        problems.reddi_coefficients(0, C)
    with pytest.raises(ValueError, match="delta"):
        problems.reddi_stochastic_coefficients(5, C, delta=5.0)
    with pytest.raises(ValueError, match="shapes"):
        online.regret(torch.zeros(3, 1), torch.zeros(4, 1))
