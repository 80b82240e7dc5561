r"""The training harness: one plain loop and fair comparisons.

:func:`fit` trains one model with one optimizer and returns a :class:`~optlib.training.RunRecord`.
Its loop is the textbook one, written out so a reader can follow every line::

    for epoch in range(epochs):
        order = torch.randperm(n_train, generator=batch_order)   # seeded shuffle
        for indices in order.split(batch_size):
            loss = objective(model, task, x[indices], y[indices])  # recorded before the update
            optimizer.zero_grad(); loss.backward(); optimizer.step()
        evaluate(model, ...)  # train, validation and test loss and accuracy
        save_checkpoint(...)  # with fit(checkpoint=path): a run killed later resumes here

What makes a comparison fair (:func:`compare`): for a given seed every optimizer starts from the
*same* initial weights (built once, then deep-copied) and sees the *same* minibatches in the same
order (the shuffling generator is seeded with the same seed). Each record carries a fingerprint of
both, so the claim can be checked, not just believed.

Learning rates are tuned by :func:`optlib.training.tune_lr` (:mod:`optlib.training.tuning`): a
comparison whose contenders are the learning rates of a grid, scored on the validation split.

The objective is the mean cross entropy of the minibatch, plus an optional L2 penalty
(:attr:`Task.l2`) on the weight matrices, as in the Adam paper's logistic regression:

.. math:: L(\theta) = -\frac{1}{|B|}\sum_{i \in B} \log \operatorname{softmax}(f_\theta(x_i))_{y_i}
          \;+\; \frac{\lambda}{2} \sum_{W} \lVert W \rVert_F^2
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer

from optlib.training.data import DataSplits
from optlib.training.harness import (
    DivergenceError,
    OptimizerSpec,
    as_factory,
    chain_fingerprint,
    check_finite_loss,
    check_seeds,
    check_training_loss,
    diverged_record,
    epoch_order,
    new_record,
    progress_bar,
    progress_enabled,
    restore_checkpoint,
    save_checkpoint,
)
from optlib.training.models import device as default_device
from optlib.training.models import make_model
from optlib.training.results import RunRecord
from optlib.training.runstore import RunStore

__all__ = [
    "EVAL_BATCH_SIZE",
    "TASKS",
    "Evaluation",
    "Task",
    "check_budget",
    "compare",
    "evaluate",
    "fit",
    "l2_penalty",
    "make_task",
    "objective",
]

EVAL_BATCH_SIZE = 10_000


# --------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------
class Task(NamedTuple):
    r"""A supervised classification problem: data, model architecture and objective.

    The loss is always cross entropy on logits; ``l2`` adds
    :math:`\frac{\lambda}{2}\sum_W \lVert W\rVert_F^2` over the weight matrices (biases are
    not penalised), see :func:`objective`.
    """

    name: str
    splits: DataSplits
    """Features float32 ``(N, d)`` and labels int64 ``(N,)`` of the train/val/test splits."""
    model: str
    """A name from :data:`optlib.training.models.MODELS`, e.g. ``"mlp"`` or ``"logreg"``."""
    in_features: int
    n_classes: int
    l2: float = 0.0

    def make_model(self, seed: int) -> nn.Module:
        """This task's model with the initial weights drawn from ``seed`` (on the CPU)."""
        return make_model(
            self.model, seed=seed, in_features=self.in_features, n_classes=self.n_classes
        )


MNIST_TASK_MODELS = {
    "mnist-mlp": "mlp",
    "mnist-logreg": "logreg",
    "mnist-mlp-kb": "mlp-kb",
    "mnist-mlp-kb-dropout": "mlp-kb-dropout",
    "mnist-cnn": "cnn",
}
"""The MNIST tasks and their models (:data:`optlib.training.models.MODELS`)."""

TASKS = (*MNIST_TASK_MODELS, "sparse")
"""Task names accepted by :func:`make_task`."""


def make_task(
    name: str,
    *,
    l2: float = 0.0,
    data_dir: str | Path | None = None,
    val_size: int = 10_000,
    split_seed: int = 0,
    **sparse_options: Any,
) -> Task:
    """Build one of the book's tasks (see :data:`TASKS`).

    * ``"mnist-mlp"``: MNIST with the source article's 784-128-10 ReLU network;
    * ``"mnist-logreg"``: MNIST with multinomial logistic regression (the Adam paper's convex
      experiment; pass ``l2`` for its weight penalty);
    * ``"mnist-mlp-kb"``, ``"mnist-mlp-kb-dropout"``: MNIST with the Adam paper's 784-1000-1000-10
      ReLU network, without and with dropout; ``"mnist-cnn"``: MNIST with a small CNN;
    * ``"sparse"``: :func:`optlib.training.sparse.sparse_splits`, a synthetic task with sparse
      features where rare features carry signal (Adagrad's home ground), with logistic regression.
      ``sparse_options`` go to :func:`optlib.training.sparse.sparse_splits`.

    MNIST's official 60 000 training images are split into ``60 000 - val_size`` for training and
    ``val_size`` for validation (seeded by ``split_seed``); the 10 000 test images stay untouched.
    ``data_dir`` is the folder whose ``mnist/`` holds the files, as ``$OPTLIB_DATA_DIR``
    (see :func:`optlib.training.mnist.load_mnist`).
    """
    from optlib.training import data, sparse

    if l2 < 0 or not math.isfinite(l2):
        raise ValueError(f"Invalid l2: {l2}")
    if name not in TASKS:
        raise ValueError(f"Unknown task: {name!r}; expected one of {', '.join(TASKS)}")
    if name != "sparse" and sparse_options:
        raise ValueError(f"Options {sorted(sparse_options)} only apply to the 'sparse' task")
    if name == "sparse":
        splits = sparse.sparse_splits(**sparse_options)
        model = "logreg"
    else:
        splits = data.mnist_splits(val_size=val_size, seed=split_seed, data_dir=data_dir)
        model = MNIST_TASK_MODELS[name]
    n_classes = int(max(splits.train_y.max(), splits.val_y.max(), splits.test_y.max())) + 1
    return Task(name, splits, model, int(splits.train_x.shape[1]), max(n_classes, 2), l2)


def l2_penalty(model: nn.Module) -> Tensor:
    r""":math:`\frac12 \sum_W \lVert W \rVert_F^2` over the model's weight matrices (not biases)."""
    return 0.5 * sum(p.square().sum() for p in model.parameters() if p.dim() >= 2)


def objective(model: nn.Module, task: Task, x: Tensor, y: Tensor) -> Tensor:
    """The loss the optimizer minimises: mean cross entropy, plus ``task.l2`` times the penalty."""
    loss = F.cross_entropy(model(x), y)
    if task.l2:
        loss = loss + task.l2 * l2_penalty(model)
    return loss


class Evaluation(NamedTuple):
    """Mean cross entropy (without the L2 penalty) and accuracy on one split."""

    loss: float
    accuracy: float


@torch.no_grad()
def evaluate(
    model: nn.Module, x: Tensor, y: Tensor, *, batch_size: int | None = None
) -> Evaluation:
    """Loss and accuracy of ``model`` on ``(x, y)``, in large batches without gradients: of
    ``batch_size`` examples, by default the model's ``eval_batch_size`` if it has one, else
    :data:`EVAL_BATCH_SIZE`."""
    batch_size = batch_size or getattr(model, "eval_batch_size", EVAL_BATCH_SIZE)
    was_training = model.training
    model.eval()
    total_loss = 0.0
    correct = 0
    for start in range(0, len(x), batch_size):
        logits = model(x[start : start + batch_size])
        labels = y[start : start + batch_size]
        total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += int((logits.argmax(dim=1) == labels).sum())
    model.train(was_training)
    return Evaluation(total_loss / len(x), correct / len(x))


# --------------------------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------------------------
def fit(
    model: nn.Module,
    optimizer: Optimizer,
    task: Task,
    *,
    epochs: int,
    batch_size: int = 64,
    seed: int,
    optimizer_name: str | None = None,
    eval_every_epoch: bool = True,
    evaluate_test: bool = True,
    checkpoint: str | Path | None = None,
    progress: bool | None = None,
    max_steps: int | None = None,
    train_subset: int | None = None,
) -> RunRecord:
    """Train ``model`` with ``optimizer`` on ``task`` and record what happened.

    Parameters
    ----------
    epochs, batch_size:
        Passes over the training set, and examples per minibatch (the last one of an epoch may
        be smaller).
    seed:
        Seeds the generator that shuffles the training set each epoch (``torch.randperm``), so
        runs with the same seed see the same minibatches. It does not touch the model: build
        the initial weights yourself, e.g. with ``task.make_model(seed)``.
    optimizer_name:
        Label stored in the record and error messages; defaults to the class name, lower-cased.
    eval_every_epoch:
        Evaluate train/validation(/test) loss and accuracy after every epoch, or only at the end.
    evaluate_test:
        Set ``False`` while tuning hyperparameters, so the test split is never looked at.
    checkpoint:
        A file to resume from and to save to. If it exists, it must hold an earlier call of the
        same run (optimizer, hyperparameters, task, seed, batch size: any difference is an error
        naming it; a damaged file is an error naming it), and training continues from it up to
        ``epochs``, bit-identical to an uninterrupted run (timings aside). After each complete
        epoch, model, optimizer, shuffling-generator state, step count and the record so far are
        saved to it (atomically, with a SHA-256 of its contents).
    progress:
        Show a tqdm progress bar; ``None`` means on in terminals and notebooks, off under CI.
    max_steps:
        Stop after this many optimizer steps in total (the last epoch is then partial).
    train_subset:
        Train (and measure training loss) on the first ``train_subset`` training examples only.

    Runs are bit-reproducible for the same seed, initial weights, torch version, device and
    number of threads (the thread count changes the order of floating-point sums).

    Raises
    ------
    DivergenceError
        As soon as a loss is NaN or infinite, or an evaluation's training-set loss exceeds
        :data:`~optlib.training.harness.DIVERGENCE_FACTOR` times the first minibatch loss;
        it names the optimizer, the step and the lr, and carries the record so far.
    """
    n_train = check_budget(task, epochs, batch_size, max_steps, train_subset)
    splits = _on_device(task, n_train, next(model.parameters()).device)
    train_x, train_y = splits[0], splits[1]
    name = optimizer_name or type(optimizer).__name__.lower()
    record = new_record(
        model,
        optimizer,
        task_name=task.name,
        seed=seed,
        batch_size=batch_size,
        n_train=n_train,
        name=name,
    )
    batch_order = torch.Generator().manual_seed(seed)
    if checkpoint is not None and Path(checkpoint).exists():
        record = restore_checkpoint(checkpoint, model, optimizer, batch_order, expected=record)
    total_steps = min(epochs * record.steps_per_epoch, max_steps or math.inf)

    step = record.steps
    model.train()
    with progress_bar(total_steps, f"{name} seed={seed}", progress_enabled(progress)) as bar:
        bar.update(step)
        for epoch in range(record.epochs, epochs):
            order = epoch_order(n_train, batch_order)
            record.batch_order_fingerprint = chain_fingerprint(
                record.batch_order_fingerprint, order
            )
            started = time.perf_counter()
            for indices in order.to(train_x.device).split(batch_size):
                if step == max_steps:
                    break
                # index_select: the same rows as train_x[indices], without fancy indexing's cost
                x, y = train_x.index_select(0, indices), train_y.index_select(0, indices)
                loss = objective(model, task, x, y)
                record.train_loss.append(check_finite_loss(loss, record, optimizer, step))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                bar.update()
            record.epoch_seconds.append(time.perf_counter() - started)
            record.epochs, record.steps = epoch + 1, step

            finished = record.epochs == epochs or step == max_steps
            if eval_every_epoch or finished:
                _evaluate_into(record, model, splits, evaluate_test)
                bar.set_postfix(val_loss=f"{record.epoch_val_loss[-1]:.4f}")
            if checkpoint is not None and step == record.epochs * record.steps_per_epoch:
                save_checkpoint(checkpoint, model, optimizer, batch_order, record)
            if finished:
                break
    return record


def check_budget(
    task: Task, epochs: int, batch_size: int, max_steps: int | None, train_subset: int | None
) -> int:
    """The number of training examples :func:`fit` (and the stacked sweep) train on;
    ``ValueError`` naming a bad argument."""
    if epochs < 1:
        raise ValueError(f"Invalid epochs: {epochs}")
    if batch_size < 1:
        raise ValueError(f"Invalid batch_size: {batch_size}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"Invalid max_steps: {max_steps}")
    n_available = len(task.splits.train_x)
    n_train = n_available if train_subset is None else train_subset
    if not 1 <= n_train <= n_available:
        raise ValueError(f"Invalid train_subset: {train_subset} (the task has {n_available})")
    return n_train


def _on_device(task: Task, n_train: int, device: torch.device) -> tuple[Tensor, ...]:
    """``(train_x, train_y, val_x, val_y, test_x, test_y)`` on ``device``; the first
    ``n_train`` training examples only."""
    s = task.splits
    tensors = (s.train_x[:n_train], s.train_y[:n_train], s.val_x, s.val_y, s.test_x, s.test_y)
    return tuple(t.to(device) for t in tensors)


def _evaluate_into(
    record: RunRecord, model: nn.Module, tensors: tuple[Tensor, ...], evaluate_test: bool
) -> None:
    """Append one evaluation of every split to ``record``; raise if a loss is not finite."""
    train_x, train_y, val_x, val_y, test_x, test_y = tensors
    started = time.perf_counter()
    train = evaluate(model, train_x, train_y)
    val = evaluate(model, val_x, val_y)
    record.eval_steps.append(record.steps)
    record.epoch_train_loss.append(train.loss)
    record.epoch_train_accuracy.append(train.accuracy)
    record.epoch_val_loss.append(val.loss)
    record.epoch_val_accuracy.append(val.accuracy)
    if evaluate_test:
        test = evaluate(model, test_x, test_y)
        record.epoch_test_loss.append(test.loss)
        record.epoch_test_accuracy.append(test.accuracy)
        record.test_loss, record.test_accuracy = test.loss, test.accuracy
    record.eval_seconds.append(time.perf_counter() - started)
    check_training_loss(record, train.loss)
    if not math.isfinite(val.loss):
        raise DivergenceError(
            record.optimizer, record.steps, record.lr, val.loss, "validation loss", record=record
        )


# --------------------------------------------------------------------------------------------
# Fair comparisons
# --------------------------------------------------------------------------------------------
def compare(
    optimizers: Mapping[str, OptimizerSpec],
    task: Task,
    seeds: Sequence[int],
    *,
    epochs: int,
    batch_size: int = 64,
    progress: bool | None = None,
    train_subset: int | None = None,
    max_steps: int | None = None,
    eval_every_epoch: bool = True,
    device: torch.device | str | None = None,
    store: RunStore | None = None,
    reproduce: Callable[[str, int], list[str]] | None = None,
    evaluate_test: bool = True,
    stored_form: Callable[[RunRecord], dict[str, Any]] = RunRecord.to_dict,
) -> list[RunRecord]:
    """Train every optimizer on every seed under identical conditions; one record per run.

    For each seed the model is built once (:meth:`Task.make_model`) and deep-copied for each
    optimizer, and every run shuffles with the same seed, so within a seed the optimizers differ
    in nothing but the update rule. ``optimizers`` maps a label to a factory
    ``params -> Optimizer`` or to ``(name, hyperparameters)``, e.g.
    ``{"adam": ("adam", {}), "adagrad": ("adagrad", {"lr": 0.05})}``.
    Records come out seed by seed, in the mapping's order within a seed.

    A run that diverges is kept with ``status="diverged"`` (:func:`diverged_record`) and the
    others go on. With a ``store`` (:class:`~optlib.training.runstore.RunStore`), each run has
    the id ``"<label>/seed<seed>"``: a run the store holds is read back, not trained; a run with a
    checkpoint in the store resumes from it; every finished run is added to the store at once.
    ``reproduce(label, seed)``, if given, is stored in each record (the command line that re-runs
    it alone). ``stored_form(record)`` is what the store keeps of a run (default: everything;
    :func:`optlib.book.suites.compact_record` keeps files small). ``evaluate_test=False`` never
    looks at the test split (for tuning runs).
    """
    if not optimizers:
        raise ValueError("Invalid optimizers: empty")
    factories = {label: as_factory(spec) for label, spec in optimizers.items()}
    seeds = check_seeds(seeds)
    run_device = torch.device(device) if device is not None else default_device()
    show = progress_enabled(progress)
    records = []
    with progress_bar(len(seeds) * len(factories), "runs", show, unit="run") as runs_bar:
        for seed in seeds:
            initial_model = task.make_model(seed)
            for label, factory in factories.items():
                run_id = f"{label}/seed{seed}"
                if store is not None and run_id in store:  # finished in an earlier session
                    records.append(RunRecord.from_dict(store.get(run_id)))
                    runs_bar.update()
                    continue
                model = copy.deepcopy(initial_model).to(run_device)
                try:
                    record = fit(
                        model,
                        factory(model.parameters()),
                        task,
                        epochs=epochs,
                        batch_size=batch_size,
                        seed=seed,
                        optimizer_name=label,
                        eval_every_epoch=eval_every_epoch,
                        evaluate_test=evaluate_test,
                        checkpoint=store.checkpoint_path(run_id) if store is not None else None,
                        progress=show,
                        max_steps=max_steps,
                        train_subset=train_subset,
                    )
                except DivergenceError as error:  # kept, marked; the other runs go on
                    record = diverged_record(error)
                record.run_id = run_id
                record.reproduce = reproduce(label, seed) if reproduce else None
                if store is not None:
                    store.add(stored_form(record))
                records.append(record)
                runs_bar.update()
    return records
