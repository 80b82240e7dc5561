"""Benchmark 1, the training loop: :func:`optlib.training.fit` on the MNIST MLP, batch 64, with
optlib's Adam, against the source article's loop (a ``Dataset`` whose ``__getitem__`` returns one
example, wrapped in ``DataLoader(batch_size=64, shuffle=True)``) and against the compute floor
(minibatches cut before the clock starts; forward, backward and step only).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from timing import Goal, alternate, paired_ratio, print_table

from optlib import optim
from optlib.training import Task, fit


class ArticleMNIST(torch.utils.data.Dataset):
    """The source article's dataset class, verbatim: one example per ``__getitem__``."""

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    def __len__(self):
        return len(self.x)


def bench_training_loop(task: Task, steps: int, repeats: int, threads: int) -> list[Goal]:
    """optlib's ``fit`` against the source article's loop and the bare compute floor."""
    n_train = steps * 64
    train_x, train_y = task.splits.train_x[:n_train], task.splits.train_y[:n_train]

    def fit_loop() -> float:
        model = task.make_model(0)
        record = fit(
            model,
            optim.Adam(model.parameters()),
            task,
            epochs=1,
            batch_size=64,
            seed=0,
            train_subset=n_train,
            eval_every_epoch=False,
            evaluate_test=False,
            progress=False,
        )
        return sum(record.epoch_seconds)  # the training steps only, not the final evaluation

    def article_loop() -> float:
        model = task.make_model(0)
        optimizer = optim.Adam(model.parameters())
        loader = torch.utils.data.DataLoader(
            ArticleMNIST(train_x, train_y), batch_size=64, shuffle=True
        )
        started = time.perf_counter()
        for batch_x, batch_y in loader:
            output = model(batch_x)
            loss = torch.nn.CrossEntropyLoss()(output, batch_y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return time.perf_counter() - started

    def floor_loop() -> float:
        model = task.make_model(0)
        optimizer = optim.Adam(model.parameters())
        order = torch.randperm(n_train, generator=torch.Generator().manual_seed(0))
        batches = [(train_x[rows], train_y[rows]) for rows in order.split(64)]
        started = time.perf_counter()
        for batch_x, batch_y in batches:
            loss = F.cross_entropy(model(batch_x), batch_y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return time.perf_counter() - started

    candidates = {
        "optlib fit": fit_loop,
        "source article: Dataset + DataLoader(shuffle=True)": article_loop,
        "floor: pre-cut batches, forward+backward+step": floor_loop,
    }
    alternate(candidates, 1)  # warm-up
    times = alternate(candidates, repeats)
    print(f"\n1. Training loop: MNIST MLP, batch 64, optlib Adam, {steps} steps, threads={threads}")
    print_table({name: [t / steps for t in ts] for name, ts in times.items()}, "ms/step", 1e3)
    names = list(candidates)
    goals = [
        Goal("fit throughput / source article loop's", paired_ratio(times, names[1], names[0]),
             1.2, True, threads),
        Goal("fit throughput / compute floor's", paired_ratio(times, names[2], names[0]),
             0.9, True, threads),
    ]  # fmt: skip
    for goal in goals:
        print(goal.line())
    return goals
