"""Benchmark 2, the optimizer step: ``optlib.optim.Adam``/``Adagrad`` ``step()`` against
``torch.optim``'s default implementation (on the CPU: one tensor at a time), on the MNIST MLP
(4 tensors) and on a deep narrow MLP (100 tensors).
"""

from __future__ import annotations

import timeit
from collections.abc import Sequence

import torch
from timing import Goal, alternate, paired_ratio, print_table
from torch import nn

from optlib import optim
from optlib.training import make_model


def deep_mlp_parameters() -> list[nn.Parameter]:
    """100 parameter tensors: 50 layers ``Linear(64, 64)`` (208,000 numbers)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return list(nn.Sequential(*[nn.Linear(64, 64) for _ in range(50)]).parameters())


def step_timer(optimizer_class, params: Sequence[nn.Parameter], seconds: float, **options):
    """A function timing ``step()`` of a fresh optimizer on copies of ``params``: the mean over
    as many steps as take about ``seconds``."""
    params = [nn.Parameter(p.detach().clone()) for p in params]
    generator = torch.Generator().manual_seed(1)
    for param in params:
        param.grad = torch.randn(param.shape, generator=generator)
    optimizer = optimizer_class(params, lr=1e-3, **options)
    for _ in range(3):  # create the state
        optimizer.step()
    number = max(5, round(seconds / timeit.timeit(optimizer.step, number=1)))

    def run() -> float:
        return timeit.timeit(optimizer.step, number=number) / number

    return run


def bench_optimizer_step(repeats: int, seconds: float, threads: int) -> list[Goal]:
    """optlib's ``step()`` against ``torch.optim``'s default, for Adam and Adagrad."""
    models = {
        "MNIST MLP (4 tensors)": list(make_model("mlp", seed=0).parameters()),
        "deep MLP (100 tensors)": deep_mlp_parameters(),
    }
    pairs = {
        "Adam": (optim.Adam, torch.optim.Adam),
        "Adagrad": (optim.Adagrad, torch.optim.Adagrad),
    }
    goals = []
    print(f"\n2. Optimizer step() time, threads={threads}")
    for model_name, params in models.items():
        for name, (ours, theirs) in pairs.items():
            candidates = {
                f"optlib.optim.{name} (default: in-place kernels)": step_timer(
                    ours, params, seconds
                ),
                f"optlib.optim.{name}(foreach=False)": step_timer(
                    ours, params, seconds, foreach=False
                ),
                f"torch.optim.{name} (default: single-tensor)": step_timer(theirs, params, seconds),
                f"torch.optim.{name}(foreach=True)": step_timer(
                    theirs, params, seconds, foreach=True
                ),
            }
            times = alternate(candidates, repeats)
            print(f" {model_name}, {name}:")
            print_table(times, "us/step", 1e6)
            names = list(candidates)
            goal = Goal(
                f"{name} step time / torch.optim's, {model_name}",
                paired_ratio(times, names[0], names[2]),
                1.1,
                False,
                threads,
            )
            print(goal.line())
            goals.append(goal)
    return goals
