r"""Train many configurations at once: every (learning rate, seed) pair in one vectorized loop.

Tuning a learning rate means training the same model many times: :func:`optlib.training.tune_lr`
runs :func:`~optlib.training.train.fit` once per learning rate and seed. :func:`sweep` trains all
:math:`K = \#\text{lrs} \times \#\text{seeds}` models *together*. Their weights are stacked along
two leading axes, seed and learning rate (a weight matrix :math:`W \in \mathbb{R}^{o\times i}`
becomes a tensor of shape ``(n_seeds, n_lrs, o, i)``), and every step does, for all models:

1. **the same minibatches as** :func:`~optlib.training.train.fit`. The models of one seed share that
   seed's shuffled order, so their first layer is *one* wide matrix product
   :math:`X\,[W_1^\top \cdots W_L^\top]` instead of :math:`L` narrow ones.
2. **one backward pass** through the sum of the :math:`K` losses: model :math:`k`'s weights
   appear only in loss :math:`k`, so the gradient of the sum with respect to them is exactly
   the gradient of loss :math:`k`.
3. **one step of an** :mod:`optlib.optim` **optimizer** whose parameters are views of the
   stacked weights: learning rate :math:`\eta_i` is one parameter group, holding the slices
   ``[:, i]`` of every stacked weight (its models, one per seed). The update is elementwise, so
   updating those slices is updating each of the models, with the very code ``fit`` runs
   (Adam's and Adagrad's in-place kernels, :mod:`optlib.kernels`).

   The first version ran the pure rule of :mod:`optlib.rules` on the stacked weights with the
   learning rate as a tensor of shape ``(n_models, 1, ..., 1)``, broadcasting over the model
   axis. Once the optimizers ran in place, that was the slower way: 1.9x the time of this one
   for the MLP's update, about the same for logistic regression.

The result is one :class:`~optlib.training.RunRecord` per model with the numbers a sequential
:func:`~optlib.training.fit` records (``tests/test_sweep.py`` checks them in float64; in float32
the two agree up to rounding, as the stacked products add up in a different order). A model
whose loss becomes NaN or infinite stops being recorded (:attr:`SweepResult.diverged_at`)
without disturbing the others. ``optlib.training.tune_lr(..., stacked=True)`` runs on a sweep.

**What it buys, measured** (``benchmarks/bench.py``): tuning logistic regression, where most of
a sequential step is per-call overhead, about 3.7x less wall time than sequential fits; that is
what the CLI's ``--tune`` and the full-budget suites use it for. For the MLP the step is mostly
arithmetic that stacking does not shrink: twelve sequential MLP fits take only about 1.5 times
as long as that arithmetic alone on one thread (the benchmark's ``sweep_floor_seconds``), so no
sweep can gain more there, and the notebooks tune the MLP with plain fits.
``torch.func.vmap`` over ``functional_call`` is the generic way to stack models; the benchmark
times it too: it beats sequential fits for logistic regression but not this module, and for the
MLP it is slower than sequential fits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from optlib.training.harness import (
    OptimizerFactory,
    chain_fingerprint,
    check_seeds,
    epoch_order,
    mark_diverged,
    optimizer_factory,
    progress_bar,
    progress_enabled,
    recorded_hyperparameters,
    training_loss_divergence,
)
from optlib.training.models import device as default_device
from optlib.training.models import parameter_fingerprint
from optlib.training.results import RunRecord
from optlib.training.train import EVAL_BATCH_SIZE, Task, check_budget

__all__ = ["Schedule", "StackedOptimizer", "SweepResult", "stacked_logits", "sweep"]

Schedule = Callable[[OptimizerFactory], OptimizerFactory]
"""Wraps an optimizer factory into one whose optimizer changes its step size as it goes, per
parameter group, e.g. :func:`optlib.book.experiments.with_inverse_sqrt_decay`."""


class SweepResult(NamedTuple):
    """What :func:`sweep` measured: one record per (learning rate, seed), learning-rate major."""

    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    records: list[RunRecord]
    """``records[i * len(seeds) + j]`` is the run with ``lrs[i]`` and ``seeds[j]``. Its
    ``epoch_seconds`` and ``eval_seconds`` are the shared wall time divided by the number of
    models: each run's share."""
    diverged_at: list[int | None]
    """Per record: the step at which its loss stopped being finite, or ``None``. A diverged
    record ends there, like the record a :class:`~optlib.training.train.DivergenceError` carries."""
    parameters: dict[str, Tensor]
    """Final weights by parameter name, stacked with shape ``(len(seeds), len(lrs), ...)``."""

    def record(self, lr: float, seed: int) -> RunRecord:
        """The record of the run with learning rate ``lr`` and seed ``seed``."""
        return self.records[self.lrs.index(lr) * len(self.seeds) + self.seeds.index(seed)]


# --------------------------------------------------------------------------------------------
# Stacked models: the forward pass of S x L models at once
# --------------------------------------------------------------------------------------------
def _stacked_linear(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    r"""``Linear`` for stacked models: weight ``(S, L, out, in)``, bias ``(S, L, out)``.

    ``x`` is ``(B, in)`` (one input for all models), ``(S, B, in)`` (one minibatch per seed,
    shared by the seed's ``L`` models) or ``(S, L, B, in)`` (one input per model); the result
    is ``(S, L, B, out)``. A shared input is multiplied by all its models' weights in one wide
    product, :math:`X\,[W_1^\top \cdots W_L^\top]`, whose gradient with respect to the stacked
    weights comes back contiguous (``unbind`` rather than indexing: the backward of an index
    would zero-fill a full-size gradient for every slice). (One batched product for all seeds,
    ``torch.baddbmm``, measured no faster and rounds differently from ``fit``'s products.)
    """
    n_seeds, n_lrs, n_out, n_in = weight.shape
    if x.dim() == 2:
        wide = F.linear(x, weight.reshape(-1, n_in), bias.reshape(-1))  # (B, S * L * out)
        return wide.view(len(x), n_seeds, n_lrs, n_out).permute(1, 2, 0, 3)
    if x.dim() == 3:
        per_seed = zip(x.unbind(0), weight.unbind(0), bias.unbind(0), strict=True)
        wide = torch.stack(
            [F.linear(x_s, w_s.reshape(-1, n_in), b_s.reshape(-1)) for x_s, w_s, b_s in per_seed]
        )  # (S, B, L * out)
        return wide.view(n_seeds, x.shape[1], n_lrs, n_out).transpose(1, 2)
    return torch.matmul(x, weight.transpose(-1, -2)) + bias.unsqueeze(-2)


def stacked_logits(model: str, params: Mapping[str, Tensor], x: Tensor) -> Tensor:
    """Logits of every stacked model of architecture ``model``, shape ``(S, L, B, classes)``.

    ``params`` maps the parameter names of :func:`optlib.training.make_model` ``(model, ...)``
    to stacked tensors ``(S, L, *shape)``; ``x`` is ``(S, B, features)`` (seed ``s``'s minibatch) or
    ``(B, features)`` (the same examples for every model). The same computation as
    :class:`optlib.training.models.MLP` and :class:`~optlib.training.models.LogisticRegression`
    (``tests/test_sweep.py`` compares them).
    """
    if model == "logreg":
        return _stacked_linear(x, params["linear.weight"], params["linear.bias"])
    if model == "mlp":
        hidden = torch.relu(_stacked_linear(x, params["fc1.weight"], params["fc1.bias"]))
        return _stacked_linear(hidden, params["fc2.weight"], params["fc2.bias"])
    raise ValueError(f"Invalid model: {model!r}; sweep supports 'mlp' and 'logreg'")


def _cross_entropies(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross entropy of every example of every model: logits ``(S, L, B, classes)`` and labels
    ``(S, L, B)`` give losses ``(S, L, B)``, the numbers ``F.cross_entropy`` gives row by row.

    The classes go to axis 1 (``F.cross_entropy``'s layout for extra axes). On the CPU a
    log-softmax over the last axis works through the rows one at a time, ten numbers each for
    MNIST; over another axis it runs along the rows, all at once. For a step of 12 models x 64
    rows (one thread) the log-softmax takes 7 instead of 130 microseconds, the loss's forward and
    backward 90 instead of 230: a tenth of a logistic-regression sweep step.
    """
    return F.cross_entropy(logits.permute(0, 3, 1, 2), labels, reduction="none")


def _stacked_objective(task: Task, params: Mapping[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
    """:func:`optlib.training.objective` of every model, shape ``(S, L)``: mean cross entropy plus
    ``task.l2`` times half the squared norm of the weight matrices."""
    logits = stacked_logits(task.model, params, x)
    n_seeds, n_lrs, batch, _ = logits.shape
    loss = _cross_entropies(logits, y.unsqueeze(1).expand(n_seeds, n_lrs, batch)).mean(dim=-1)
    if task.l2:
        matrices = [p for p in params.values() if p.dim() >= 4]  # (S, L, out, in)
        loss = loss + task.l2 * sum(0.5 * w.square().flatten(2).sum(dim=-1) for w in matrices)
    return loss


@torch.no_grad()
def _stacked_evaluate(
    task: Task, params: Mapping[str, Tensor], x: Tensor, y: Tensor
) -> tuple[Tensor, Tensor]:
    """Mean cross entropy and accuracy of every model on ``(x, y)``, each of shape ``(S, L)``,
    in chunks of :data:`~optlib.training.train.EVAL_BATCH_SIZE` like
    :func:`optlib.training.evaluate`."""
    total_loss, correct = 0.0, 0.0
    for start in range(0, len(x), EVAL_BATCH_SIZE):
        logits = stacked_logits(task.model, params, x[start : start + EVAL_BATCH_SIZE])
        labels = y[start : start + EVAL_BATCH_SIZE].expand(logits.shape[:-1])
        total_loss = total_loss + _cross_entropies(logits, labels).sum(dim=-1)
        correct = correct + (logits.argmax(dim=-1) == labels).sum(dim=-1)
    # Accuracies in float64, as fit computes them in Python (a float32 0.68 is 0.68000001).
    return total_loss / len(x), correct.to(torch.float64) / len(x)


# --------------------------------------------------------------------------------------------
# The update: one optlib optimizer over every model's weights
# --------------------------------------------------------------------------------------------
class StackedOptimizer:
    """An optlib optimizer whose parameters are views of the stacked weights, one per
    (learning rate, parameter name).

    Parameters are stored as ``(S, L, *shape)`` tensors. Learning rate ``lrs[i]`` is one
    parameter group, whose parameters are the views ``stacked[:, i]`` of shape ``(S, *shape)``:
    the weights of that learning rate's ``S`` models. ``step()`` hands each view its slice of
    the stacked gradient and calls the optimizer's own ``step()``. The update is elementwise, so
    updating ``S`` models' weights as one tensor is updating each model: the same code, hence
    the same numbers, as a sequential :func:`~optlib.training.train.fit`.
    """

    def __init__(
        self,
        optimizer_name: str,
        hyperparameters: Mapping[str, Any],
        params: dict[str, Tensor],
        lrs: Sequence[float],
        schedule: Schedule | None = None,
    ) -> None:
        # Views of a detached tensor are leaves: an optimizer takes them, and updates in place.
        self.views = {name: p.detach().unbind(1) for name, p in params.items()}
        groups = [
            {"params": [views[i] for views in self.views.values()], "lr": lr}
            for i, lr in enumerate(lrs)
        ]
        factory = optimizer_factory(optimizer_name, **hyperparameters)
        self.optimizer = (schedule(factory) if schedule else factory)(groups)

    @torch.no_grad()
    def step(self, grads: Mapping[str, Tensor]) -> None:
        for name, grad in grads.items():
            for view, grad_of_lr in zip(self.views[name], grad.unbind(1), strict=True):
                view.grad = grad_of_lr
        self.optimizer.step()


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------
class _Runs:
    """The sweep's records, addressed by (seed index, lr index), and where each diverged."""

    def __init__(self, records: list[RunRecord], n_seeds: int) -> None:
        self.records = records  # learning-rate major
        self.n_seeds = n_seeds
        self.diverged_at: list[int | None] = [None] * len(records)

    def live(self):
        """``(seed index, lr index, record)`` of every run that has not diverged."""
        for k, record in enumerate(self.records):
            if self.diverged_at[k] is None:
                yield k % self.n_seeds, k // self.n_seeds, record

    def diverge(self, s: int, i: int, step: int, loss: float, where: str) -> None:
        """End run (s, i) at ``step``; its record is kept, marked as ``fit`` marks one."""
        k = i * self.n_seeds + s
        self.diverged_at[k] = step
        mark_diverged(self.records[k], step=step, loss=loss, lr=self.records[k].lr, where=where)

    def add_losses(self, losses: list[list[float]], step: int) -> None:
        """Append each live run's minibatch loss; a non-finite loss ends the run at ``step``."""
        for s, i, record in list(self.live()):
            if math.isfinite(losses[s][i]):
                record.train_loss.append(losses[s][i])
            else:
                self.diverge(s, i, step, losses[s][i], "minibatch loss")

    def end_epoch(self, epoch: int, step: int, seconds: float) -> None:
        for _, _, record in self.live():
            record.epochs, record.steps = epoch + 1, step
            record.epoch_seconds.append(seconds)

    def add_evaluation(
        self, results: Mapping[str, tuple[list, list]], step: int, seconds: float
    ) -> None:
        """Append one evaluation per live run, as ``fit`` does; a training-set loss that says
        the run diverged (:func:`.harness.training_loss_divergence`) or a non-finite validation
        loss ends it."""
        for s, i, record in list(self.live()):
            (train_loss, train_acc), (val_loss, val_acc) = (
                (results[split][0][s][i], results[split][1][s][i]) for split in ("train", "val")
            )
            where = training_loss_divergence(train_loss, record.train_loss[0])
            if where is not None:
                self.diverge(s, i, step, train_loss, where)
                continue
            if not math.isfinite(val_loss):
                self.diverge(s, i, step, val_loss, "validation loss")
                continue
            record.eval_steps.append(step)
            record.epoch_train_loss.append(train_loss)
            record.epoch_train_accuracy.append(train_acc)
            record.epoch_val_loss.append(val_loss)
            record.epoch_val_accuracy.append(val_acc)
            if "test" in results:
                test_loss, test_acc = results["test"][0][s][i], results["test"][1][s][i]
                record.epoch_test_loss.append(test_loss)
                record.epoch_test_accuracy.append(test_acc)
                record.test_loss, record.test_accuracy = test_loss, test_acc
            record.eval_seconds.append(seconds)


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------
def _check_grid(lrs: tuple[float, ...], seeds: tuple[int, ...]) -> None:
    if not lrs or any(not (lr >= 0 and math.isfinite(lr)) for lr in lrs):
        raise ValueError(f"Invalid lrs: {lrs}; expected finite learning rates >= 0")
    if len(set(lrs)) != len(lrs):
        raise ValueError(f"Invalid lrs: {lrs}; duplicates")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"Invalid seeds: {seeds}; duplicates")


def sweep(
    task: Task,
    optimizer_name: str,
    lrs: Sequence[float],
    seeds: Sequence[int],
    *,
    epochs: int,
    batch_size: int = 64,
    hyperparameters: Mapping[str, Any] | None = None,
    eval_every_epoch: bool = True,
    evaluate_test: bool = True,
    train_subset: int | None = None,
    max_steps: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    progress: bool | None = None,
    schedule: Schedule | None = None,
) -> SweepResult:
    """Train ``optimizer_name`` with every learning rate in ``lrs`` on every seed, all at once.

    Equivalent to one :func:`optlib.training.fit` per pair, each from ``task.make_model(seed)``
    with ``optlib.optim.make_optimizer(optimizer_name, ..., lr=lr, **hyperparameters)`` and
    shuffling seed ``seed`` (same initial weights, same minibatches); see the module docstring.
    The arguments mean what they mean for :func:`~optlib.training.train.fit` and
    :func:`~optlib.training.tune_lr`; ``dtype`` (default: the task's feature dtype) is the dtype
    of the weights. ``schedule`` (e.g. :func:`optlib.book.experiments.with_inverse_sqrt_decay`)
    wraps the optimizer's factory as it would wrap ``fit``'s: each learning rate is one parameter
    group, so a per-group schedule decays each from its own starting value.
    """
    lrs, seeds = tuple(float(lr) for lr in lrs), tuple(check_seeds(seeds))
    _check_grid(lrs, seeds)
    n_train = check_budget(task, epochs, batch_size, max_steps, train_subset)
    hyperparameters = dict(hyperparameters or {})
    if "lr" in hyperparameters:
        raise ValueError("hyperparameters must not contain 'lr': sweep takes the lrs separately")

    run_device = torch.device(device) if device is not None else default_device()
    dtype = dtype or task.splits.train_x.dtype
    train_x = task.splits.train_x[:n_train].to(run_device, dtype)
    train_y = task.splits.train_y[:n_train].to(run_device)
    eval_sets = {"train": (train_x, train_y)}
    eval_sets["val"] = (task.splits.val_x.to(run_device, dtype), task.splits.val_y.to(run_device))
    if evaluate_test:
        test = (task.splits.test_x.to(run_device, dtype), task.splits.test_y.to(run_device))
        eval_sets["test"] = test

    # Weights (S, L, *shape): every learning rate of a seed starts from that seed's model.
    n_seeds, n_lrs = len(seeds), len(lrs)
    models = [task.make_model(seed).to(dtype) for seed in seeds]
    params = {}
    for name, _ in models[0].named_parameters():
        per_seed = torch.stack([m.get_parameter(name).detach() for m in models])
        stacked = per_seed.unsqueeze(1).expand(n_seeds, n_lrs, *per_seed.shape[1:])
        params[name] = stacked.to(run_device).contiguous().requires_grad_()
    # The optimizer class validates the hyperparameters (a ValueError naming the culprit).
    optimizer = StackedOptimizer(optimizer_name, hyperparameters, params, lrs, schedule)

    steps_per_epoch = math.ceil(n_train / batch_size)
    records = [
        RunRecord(
            optimizer=optimizer_name,
            seed=seed,
            lr=lr,
            task=task.name,
            batch_size=batch_size,
            hyperparameters=recorded_hyperparameters(optimizer.optimizer),
            algorithm=type(optimizer.optimizer).__name__.lower(),
            n_train=n_train,
            steps_per_epoch=steps_per_epoch,
            init_fingerprint=parameter_fingerprint(model),
            device=str(run_device),
            threads=torch.get_num_threads(),
        )
        for lr in lrs
        for seed, model in zip(seeds, models, strict=True)
    ]
    runs = _Runs(records, n_seeds)
    n_models = len(records)

    total_steps = epochs * steps_per_epoch
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    step = 0
    description = f"{optimizer_name} x {n_models} models"
    with progress_bar(total_steps, description, progress_enabled(progress)) as bar:
        for epoch in range(epochs):
            orders = [epoch_order(n_train, generator) for generator in generators]
            for k, record in enumerate(records):
                record.batch_order_fingerprint = chain_fingerprint(
                    record.batch_order_fingerprint, orders[k % n_seeds]
                )
            started = time.perf_counter()
            for rows in torch.stack(orders).to(run_device).split(batch_size, dim=1):
                if step == total_steps:
                    break
                flat_rows = rows.flatten()  # one gather for every seed's minibatch
                x = train_x.index_select(0, flat_rows).view(n_seeds, -1, train_x.shape[1])
                y = train_y.index_select(0, flat_rows).view(n_seeds, -1)
                losses = _stacked_objective(task, params, x, y)  # (S, L)
                grads = torch.autograd.grad(losses.sum(), list(params.values()))
                optimizer.step(dict(zip(params, grads, strict=True)))
                runs.add_losses(losses.tolist(), step)
                step += 1
                bar.update()
            runs.end_epoch(epoch, step, (time.perf_counter() - started) / n_models)
            finished = epoch + 1 == epochs or step == total_steps
            if eval_every_epoch or finished:
                started = time.perf_counter()
                results = {
                    split: tuple(t.tolist() for t in _stacked_evaluate(task, params, x, y))
                    for split, (x, y) in eval_sets.items()
                }
                runs.add_evaluation(results, step, (time.perf_counter() - started) / n_models)
            if finished:
                break
    final = {name: p.detach() for name, p in params.items()}
    return SweepResult(lrs, seeds, records, runs.diverged_at, final)
