"""Chapter 5's invariants: what the chapter states as fact rather than as a finding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from optlib import optim, problems
from optlib.book import online
from optlib.book.ch05 import growth_exponent


@pytest.mark.parametrize("exponent", [0.3, 0.5, 0.7, 1.0])
def test_growth_exponent_recovers_the_exponent_despite_an_offset(
    exponent: float,
) -> None:
    rounds = np.arange(1, 6001)
    regret = 40.0 + 2.0 * rounds**exponent + np.sin(rounds)  # transient offset + wiggle
    assert growth_exponent(regret, start=600) == pytest.approx(exponent, abs=0.02)


def test_growth_exponent_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="start"):
        growth_exponent(np.arange(10.0), start=9)
    with pytest.raises(ValueError, match="regret"):
        growth_exponent([1.0, float("nan"), 2.0, 3.0, 4.0], start=1)


def test_regret_of_the_always_worst_player_is_two_thirds_of_c_minus_two_per_round() -> None:
    c, periods = 10.0, 500
    coefficients = problems.reddi_coefficients(3 * periods, c)
    always_plus_one = torch.ones_like(coefficients)
    regret = online.regret(always_plus_one, coefficients)
    assert regret[-1, 0].item() / (3 * periods) == pytest.approx(2 * (c - 2) / 3)


def _warmup_cosine_run(optimizer_class: type, steps: int = 60, warmup: int = 10):
    torch.manual_seed(0)
    x, y = torch.randn(256, 20), torch.randint(0, 4, (256,))
    model = torch.nn.Linear(20, 4)
    optimizer = optimizer_class(model.parameters(), lr=1e-2, weight_decay=1e-2)
    scheduler = torch.optim.lr_scheduler.SequentialLR(
        optimizer,
        [
            torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=warmup),
            torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps - warmup),
        ],
        milestones=[warmup],
    )
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()
    return lrs, torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def test_torch_schedulers_drive_optlib_adamw_exactly_like_torch_adamw() -> None:
    ours_lrs, ours = _warmup_cosine_run(optim.AdamW)
    torch_lrs, theirs = _warmup_cosine_run(torch.optim.AdamW)
    assert ours_lrs == torch_lrs
    assert ours_lrs[0] == pytest.approx(1e-4) and max(ours_lrs) == pytest.approx(1e-2)
    torch.testing.assert_close(ours, theirs)
