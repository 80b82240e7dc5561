"""Benchmark 3, the learning-rate sweep: :func:`optlib.training.sweep.sweep` (all models at once)
against one :func:`~optlib.training.fit` per (learning rate, seed), and against the generic
design, ``torch.func.vmap`` over ``functional_call`` with the pure rule broadcasting over the
model axis (:func:`vmap_training_seconds`). Also timed: the work no sweep can share
(:func:`sweep_floor_seconds`), which bounds what any sweep could gain, and, when several thread
counts ran, each contender at its fastest setting (:func:`best_threads_goals`).
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from timing import Goal, alternate, paired_ratio, print_table

from optlib import optim, rules
from optlib.training import Task, fit, harness, sweep


def vmap_training_seconds(
    task: Task, lrs: Sequence[float], seeds: Sequence[int], n_train: int
) -> tuple[float, dict[str, torch.Tensor]]:
    """The generic design, timed: ``torch.func.vmap`` over ``functional_call`` with stacked
    parameters, and the pure rule :func:`optlib.rules.adam_update` broadcasting a learning rate
    of shape ``(K, 1, ..., 1)`` over the model axis. One epoch of ``n_train`` examples, batch 64,
    the same minibatches as :func:`optlib.training.sweep.sweep`. Returns the seconds of the training
    steps and the final weights, stacked ``(K, ...)`` with model ``i * len(seeds) + j`` trained
    with ``lrs[i]`` from seed ``seeds[j]`` (``tests/test_bench.py`` checks they are the sweep's).
    (A contender only: :func:`optlib.training.sweep.sweep` is what the book uses.)"""
    from torch.func import functional_call, grad_and_value, vmap

    model = task.make_model(seeds[0])
    dtype = task.splits.train_x.dtype
    pairs = [(lr, seed) for lr in lrs for seed in seeds]
    initial = {seed: dict(task.make_model(seed).named_parameters()) for seed in seeds}
    params = {
        name: torch.stack([initial[seed][name].detach() for _, seed in pairs]).to(dtype)
        for name, _ in model.named_parameters()
    }
    lr_by_model = torch.tensor([lr for lr, _ in pairs], dtype=dtype)
    states = {name: rules.adam_init(p) for name, p in params.items()}
    lr_shaped = {name: lr_by_model.view(-1, *[1] * (p.dim() - 1)) for name, p in params.items()}

    def loss(model_params, x, y):
        return F.cross_entropy(functional_call(model, model_params, (x,)), y)

    gradients = vmap(grad_and_value(loss))
    train_x, train_y = task.splits.train_x[:n_train], task.splits.train_y[:n_train]
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    orders = torch.stack([harness.epoch_order(n_train, g) for g in generators])
    seed_of_model = torch.tensor([seeds.index(seed) for _, seed in pairs])
    started = time.perf_counter()
    for rows in orders.split(64, dim=1):
        rows = rows[seed_of_model]  # (K, B): each model its seed's minibatch
        grads, _ = gradients(params, train_x[rows], train_y[rows])
        for name in params:
            delta, states[name] = rules.adam_update(
                grads[name], states[name], params[name], lr=lr_shaped[name]
            )
            params[name] = params[name] + delta
    return time.perf_counter() - started, params


def matrix_products(
    x: torch.Tensor, weights: Sequence[torch.Tensor], output_grads: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """The matrix products of one sweep step, without anything around them.

    ``x`` is ``(S, B, in)``, one minibatch per seed; ``weights`` are the stacked weight matrices
    ``(S, L, out, in)``, input layer first; ``output_grads[k]`` is the gradient of the loss with
    respect to layer ``k``'s output, ``(S, B, L * out)`` for the first layer (the layout of its
    wide product) and ``(S * L, B, out)`` for the others. Returns, layer by layer, the output
    (without bias), the weight gradient and, above the first layer, the gradient for the layer
    below: every product :func:`optlib.training.sweep.sweep`'s forward and backward pass computes
    (``tests/test_bench.py`` checks them against autograd). Layer inputs above the first are
    the output gradients' shape: the arithmetic, not the values, is what is timed.
    """
    n_seeds, n_lrs = weights[0].shape[:2]
    first = weights[0].reshape(n_seeds, -1, weights[0].shape[-1])  # (S, L * out, in)
    products = []
    for x_s, w_s, grad_s in zip(x, first, output_grads[0], strict=True):
        products += [x_s @ w_s.T, grad_s.T @ x_s]  # one wide product per seed, and its gradient
    inputs = products[0].new_ones(n_seeds * n_lrs, x.shape[1], first.shape[1] // n_lrs)
    for weight, grad in zip(weights[1:], output_grads[1:], strict=True):
        w = weight.reshape(n_seeds * n_lrs, *weight.shape[2:])  # (S * L, out, in)
        products += [inputs @ w.transpose(1, 2), grad.transpose(1, 2) @ inputs, grad @ w]
        inputs = products[-3]
    return products


def sweep_floor_seconds(
    task: Task, lrs: Sequence[float], seeds: Sequence[int], steps: int
) -> float:
    """Seconds of the work a sweep of ``len(lrs) x len(seeds)`` models cannot share, for
    ``steps`` steps of batch 64: the matrix products (:func:`matrix_products`) and one step of
    optlib's Adam over all the models' weights, as :func:`optlib.training.sweep.sweep` runs it.
    Left out: gathering minibatches, biases, activations, the loss and autograd's bookkeeping. So
    (sequential fits' time) / (this) bounds what any sweep with these products and this
    optimizer can gain; the products already run at the machine's matrix-multiply speed."""
    n_seeds, n_lrs = len(seeds), len(lrs)
    model = task.make_model(seeds[0])
    params = {
        name: p.detach().expand(n_seeds, n_lrs, *p.shape).clone()
        for name, p in model.named_parameters()
    }
    weights = [p for p in params.values() if p.dim() == 4]
    x = task.splits.train_x[: n_seeds * 64].view(n_seeds, 64, -1)
    output_grads = [torch.randn(n_seeds, 64, n_lrs * weights[0].shape[2])]
    output_grads += [torch.randn(n_seeds * n_lrs, 64, w.shape[2]) for w in weights[1:]]
    grads = {name: 1e-3 * torch.randn_like(p) for name, p in params.items()}
    optimizer = sweep.StackedOptimizer("adam", {}, params, lrs)
    started = time.perf_counter()
    for _ in range(steps):
        matrix_products(x, weights, output_grads)
        optimizer.step(grads)
    return time.perf_counter() - started


def bench_sweep(
    task: Task,
    target: float | None,
    steps: int,
    repeats: int,
    threads: int,
    medians: dict[tuple[str, int], dict[str, float]],
) -> list[Goal]:
    """All (lr, seed) models at once against one ``fit`` each; also checks that they agree.
    Stores the median training seconds of each contender in ``medians[(model, threads)]``."""
    lrs, seeds = (3e-4, 1e-3, 3e-3, 1e-2), (0, 1, 2)
    n_train = steps * 64
    training: dict[str, list[float]] = {"sequential": [], "sweep": [], "vmap": [], "floor": []}
    val_losses: dict[str, list[float]] = {}

    def sequential() -> float:
        started = time.perf_counter()
        records = []
        for seed in seeds:
            initial = task.make_model(seed)
            for lr in lrs:
                model = copy.deepcopy(initial)
                records.append(
                    fit(
                        model, optim.Adam(model.parameters(), lr=lr), task, epochs=1, seed=seed,
                        train_subset=n_train, eval_every_epoch=False, evaluate_test=False,
                        progress=False,
                    )
                )  # fmt: skip
        total = time.perf_counter() - started
        training["sequential"].append(sum(sum(r.epoch_seconds) for r in records))
        val_losses["sequential"] = [r.epoch_val_loss[-1] for r in records]
        return total

    def vectorized() -> float:
        started = time.perf_counter()
        result = sweep.sweep(
            task, "adam", lrs, seeds, epochs=1, train_subset=n_train,
            eval_every_epoch=False, evaluate_test=False,
        )  # fmt: skip
        total = time.perf_counter() - started
        # Each record holds its share of the shared wall time: the sum is the whole.
        training["sweep"].append(sum(sum(r.epoch_seconds) for r in result.records))
        val_losses["sweep"] = [result.record(lr, s).epoch_val_loss[-1] for s in seeds for lr in lrs]
        return total

    def with_vmap() -> float:
        training["vmap"].append(vmap_training_seconds(task, lrs, seeds, n_train)[0])
        return training["vmap"][-1]

    def floor() -> float:
        training["floor"].append(sweep_floor_seconds(task, lrs, seeds, steps))
        return training["floor"][-1]

    candidates = {"sequential": sequential, "sweep": vectorized, "vmap": with_vmap, "floor": floor}
    alternate(candidates, 1)  # warm-up
    for seconds in training.values():
        seconds.clear()
    totals = alternate(candidates, repeats)
    differences = zip(val_losses["sequential"], val_losses["sweep"], strict=True)
    agreement = max(abs(a - b) for a, b in differences)
    n_models = len(lrs) * len(seeds)
    print(
        f"\n3. Learning-rate sweep: {task.name}, Adam, {len(lrs)} lrs x {len(seeds)} seeds, "
        f"{steps} steps each, then a train/val evaluation; threads={threads}"
    )
    labels = {
        "sequential": f"{n_models} x fit, one after another",
        "sweep": "optlib.training.sweep.sweep",
        "vmap": "torch.func.vmap + pure rule (contender)",
        "floor": "what no sweep can share (products + update)",
    }
    print_table({f"{labels[k]}: training steps": v for k, v in training.items()}, "s", 1.0)
    del totals["vmap"], totals["floor"]  # they train only: no evaluation to compare
    print_table({f"{labels[k]}: in all": v for k, v in totals.items()}, "s", 1.0)
    vmap_ratio = paired_ratio(training, "sequential", "vmap")
    print(f"  torch.func.vmap + pure rule, speed-up over sequential fits: {vmap_ratio:.2f}x")
    bound = paired_ratio(training, "sequential", "floor")
    print(f"  the most any such sweep could gain (sequential / what it cannot share): {bound:.2f}x")
    print(f"  largest difference in final validation loss (float32): {agreement:.1e}")
    medians[(task.model, threads)] = {k: statistics.median(v) for k, v in training.items()}
    end_to_end = paired_ratio(totals, "sequential", "sweep")
    print(f"  speed-up in all, evaluation and set-up included: {end_to_end:.2f}x")
    goal = Goal(
        f"sweep speed-up over sequential fits (training), {task.model}",
        paired_ratio(training, "sequential", "sweep"),
        target,
        True,
        threads,
    )
    print(goal.line())
    return [goal]


def best_threads_goals(
    medians: Mapping[tuple[str, int], Mapping[str, float]], targets: Mapping[str, float | None]
) -> list[Goal]:
    """The sweep at its fastest thread count against sequential fits at theirs.

    With two threads on two cores a sequential fit of a small model can be *slower* than with
    one (the second thread mostly waits), which flatters a same-thread-count ratio. A user who
    picks the best setting for each gets this ratio of median times (a ratio of medians, not a
    paired median: the two may come from different thread counts). ``medians`` is what
    :func:`bench_sweep` stores; a model measured at fewer than two thread counts is skipped.
    Their :attr:`Goal.threads` is 0.
    """
    goals = []
    for model, target in targets.items():
        by_threads = {t: times for (name, t), times in medians.items() if name == model}
        if len(by_threads) < 2:
            continue
        sequential = min(by_threads, key=lambda t: by_threads[t]["sequential"])
        swept = min(by_threads, key=lambda t: by_threads[t]["sweep"])
        ratio = by_threads[sequential]["sequential"] / by_threads[swept]["sweep"]
        name = f"sweep ({swept} thr) / sequential fits ({sequential} thr), {model}"
        goals.append(Goal(name, ratio, target, True, 0))
    return goals
