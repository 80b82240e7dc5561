r"""The training harness: one plain loop, fair comparisons, learning-rate tuning.

:func:`fit` trains one model with one optimizer and returns a :class:`~optlib.results.RunRecord`.
Its loop is the textbook one, written out so a reader can follow every line::

    for epoch in range(epochs):
        order = torch.randperm(n_train, generator=batch_order)   # seeded shuffle
        for indices in order.split(batch_size):
            loss = objective(model, task, x[indices], y[indices])  # recorded before the update
            optimizer.zero_grad(); loss.backward(); optimizer.step()
        evaluate(model, ...)  # train, validation and test loss and accuracy

What makes a comparison fair (:func:`compare`): for a given seed every optimizer starts from the
*same* initial weights (built once, then deep-copied) and sees the *same* minibatches in the same
order (the shuffling generator is seeded with the same seed). Each record carries a fingerprint of
both, so the claim can be checked, not just believed.

How learning rates are tuned (:func:`tune_lr`): each learning rate of a log-spaced grid is run on
every seed; the score is the validation loss after the last epoch (a run that diverges scores
:math:`+\infty`); the best learning rate minimises the mean score over seeds. The test split is
never evaluated while tuning, so the test accuracy of the final runs at the chosen learning rate
played no part in choosing it.

The objective is the mean cross entropy of the minibatch, plus an optional L2 penalty
(:attr:`Task.l2`) on the weight matrices, as in the Adam paper's logistic regression:

.. math:: L(\theta) = -\frac{1}{|B|}\sum_{i \in B} \log \operatorname{softmax}(f_\theta(x_i))_{y_i}
          \;+\; \frac{\lambda}{2} \sum_{W} \lVert W \rVert_F^2
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer

from optlib.data import DataSplits
from optlib.models import device as default_device
from optlib.models import make_model, parameter_fingerprint
from optlib.results import RunRecord, SummaryRow, format_table, load_runs, save_runs, summarize

__all__ = [
    "TASKS",
    "DivergenceError",
    "RunRecord",
    "SummaryRow",
    "Task",
    "TuningResult",
    "chain_fingerprint",
    "check_seeds",
    "compare",
    "epoch_order",
    "evaluate",
    "fit",
    "format_table",
    "load_runs",
    "log_grid",
    "make_task",
    "optimizer_factory",
    "progress_bar",
    "recorded_hyperparameters",
    "save_runs",
    "summarize",
    "tune_lr",
]

OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]
"""Builds an optimizer for the given parameters, e.g. ``lambda p: torch.optim.Adam(p, lr=1e-3)``."""

OptimizerSpec = OptimizerFactory | tuple[str, Mapping[str, Any]]
"""An optimizer factory, or ``(name, hyperparameters)`` such as ``("adam", {"lr": 1e-3})``."""

EVAL_BATCH_SIZE = 10_000
CHECKPOINT_FORMAT = 1
_IMPLEMENTATION_FLAGS = {"foreach", "fused", "capturable", "differentiable"}


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
    """A name from :data:`optlib.models.MODELS`, e.g. ``"mlp"`` or ``"logreg"``."""
    in_features: int
    n_classes: int
    l2: float = 0.0

    def make_model(self, seed: int) -> nn.Module:
        """This task's model with the initial weights drawn from ``seed`` (on the CPU)."""
        return make_model(
            self.model, seed=seed, in_features=self.in_features, n_classes=self.n_classes
        )


TASKS = ("mnist-mlp", "mnist-logreg", "sparse")
"""Task names accepted by :func:`make_task`."""


def make_task(
    name: str,
    *,
    l2: float = 0.0,
    root: str | Path | None = None,
    val_size: int = 10_000,
    split_seed: int = 0,
    **sparse_options: Any,
) -> Task:
    """Build one of the book's tasks (see :data:`TASKS`).

    * ``"mnist-mlp"``: MNIST with the source article's 784-128-10 ReLU network;
    * ``"mnist-logreg"``: MNIST with multinomial logistic regression (the Adam paper's convex
      experiment; pass ``l2`` for its weight penalty);
    * ``"sparse"``: :func:`optlib.data.sparse_splits`, a synthetic task with sparse features where
      rare features carry signal (Adagrad's home ground), with logistic regression.
      ``sparse_options`` go to :func:`optlib.data.sparse_splits`.

    MNIST's official 60 000 training images are split into ``60 000 - val_size`` for training and
    ``val_size`` for validation (seeded by ``split_seed``); the 10 000 test images stay untouched.
    """
    from optlib import data

    if l2 < 0 or not math.isfinite(l2):
        raise ValueError(f"Invalid l2: {l2}")
    if name not in TASKS:
        raise ValueError(f"Unknown task: {name!r}; expected one of {', '.join(TASKS)}")
    if name != "sparse" and sparse_options:
        raise ValueError(f"Options {sorted(sparse_options)} only apply to the 'sparse' task")
    if name == "sparse":
        splits = data.sparse_splits(**sparse_options)
        model = "logreg"
    else:
        splits = data.mnist_splits(val_size=val_size, seed=split_seed, root=root)
        model = "mlp" if name == "mnist-mlp" else "logreg"
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
    model: nn.Module, x: Tensor, y: Tensor, *, batch_size: int = EVAL_BATCH_SIZE
) -> Evaluation:
    """Loss and accuracy of ``model`` on ``(x, y)``, in large batches without gradients."""
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
class DivergenceError(FloatingPointError):
    """Training produced a NaN or infinite loss; names the optimizer, step and learning rate."""

    def __init__(
        self,
        optimizer: str,
        step: int,
        lr: float,
        loss: float,
        where: str = "minibatch loss",
        *,
        record: RunRecord | None = None,
    ) -> None:
        self.optimizer, self.step, self.lr, self.loss = optimizer, step, lr, loss
        self.record = record
        """The run record up to the divergence (losses of the steps before it), if known."""
        super().__init__(
            f"{optimizer} diverged at step {step} with lr={lr:g}: {where} is {loss}. "
            "Try a smaller learning rate."
        )


def progress_enabled(progress: bool | None) -> bool:
    """Resolve ``progress=None`` (auto): on in terminals and notebooks, off under CI.

    ``OPTLIB_PROGRESS=0``/``1`` forces it off/on; a truthy ``CI`` variable turns it off.
    """
    if progress is not None:
        return progress
    forced = os.environ.get("OPTLIB_PROGRESS", "").strip().lower()
    if forced:
        return forced not in {"0", "false", "no", "off"}
    if os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no", "off"}:
        return False
    in_notebook = "ipykernel" in sys.modules
    return in_notebook or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())


def progress_bar(total: int, description: str, enabled: bool, *, unit: str = "step"):
    """A tqdm bar; per-run bars (steps) vanish when done, bars over runs stay."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, disable=not enabled, unit=unit, leave=unit == "run")


def epoch_order(n_train: int, generator: torch.Generator) -> Tensor:
    """The order in which one epoch visits the training examples: a ``torch.randperm`` drawn
    from the run's shuffling generator (seeded with the run's seed), so equal seeds mean equal
    minibatches, in :func:`fit` and in :func:`optlib.sweep.sweep` alike."""
    return torch.randperm(n_train, generator=generator)


def chain_fingerprint(previous: str, indices: Tensor) -> str:
    """Extend a hash chain with one epoch's example order."""
    digest = hashlib.sha256(previous.encode())
    digest.update(indices.to("cpu", torch.int64).numpy().tobytes())
    return digest.hexdigest()[:16]


def recorded_hyperparameters(optimizer: Optimizer) -> dict[str, Any]:
    """The optimizer's JSON-friendly hyperparameters, without ``lr`` and implementation flags."""
    result = {}
    for key, value in optimizer.defaults.items():
        if key == "lr" or key in _IMPLEMENTATION_FLAGS:
            continue
        if isinstance(value, Tensor):
            value = value.tolist()
        if isinstance(value, tuple):
            value = list(value)
        if value is None or isinstance(value, bool | int | float | str | list):
            result[key] = value
    return result


def _save_checkpoint(path: Path, **contents: Any) -> None:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(contents, temporary)
    os.replace(temporary, path)


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
    checkpoint_path: str | Path | None = None,
    resume_from: str | Path | None = None,
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
    checkpoint_path:
        After each complete epoch, save model, optimizer, shuffling-generator state, step count
        and the record so far to this file.
    resume_from:
        A checkpoint written by an earlier call with the same task, seed and batch size;
        training continues from it up to ``epochs`` and the result is bit-identical to an
        uninterrupted run (timings aside).
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
        As soon as a loss is NaN or infinite, naming the optimizer, the step and the lr.
    """
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

    run_device = next(model.parameters()).device
    train_x = task.splits.train_x[:n_train].to(run_device)
    train_y = task.splits.train_y[:n_train].to(run_device)
    val_x, val_y = task.splits.val_x.to(run_device), task.splits.val_y.to(run_device)
    test_x, test_y = task.splits.test_x.to(run_device), task.splits.test_y.to(run_device)

    name = optimizer_name or type(optimizer).__name__.lower()
    batch_order = torch.Generator().manual_seed(seed)
    record = RunRecord(
        optimizer=name,
        seed=seed,
        lr=float(optimizer.param_groups[0]["lr"]),
        task=task.name,
        batch_size=batch_size,
        hyperparameters=recorded_hyperparameters(optimizer),
        algorithm=type(optimizer).__name__.lower(),
        n_train=n_train,
        steps_per_epoch=math.ceil(n_train / batch_size),
        init_fingerprint=parameter_fingerprint(model),
        device=str(run_device),
        threads=torch.get_num_threads(),
    )
    if resume_from is not None:
        record = _resume(resume_from, model, optimizer, batch_order, expected=record)

    total_steps = epochs * record.steps_per_epoch
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)
    show = progress_enabled(progress)
    step = record.steps
    model.train()
    with progress_bar(total_steps, f"{name} seed={seed}", show) as bar:
        bar.update(step)
        for epoch in range(record.epochs, epochs):
            order = epoch_order(n_train, batch_order)
            record.batch_order_fingerprint = chain_fingerprint(
                record.batch_order_fingerprint, order
            )
            started = time.perf_counter()
            for indices in order.to(run_device).split(batch_size):
                if step == max_steps:
                    break
                # index_select: the same rows as train_x[indices], without fancy-indexing overhead
                batch_x, batch_y = (
                    train_x.index_select(0, indices),
                    train_y.index_select(0, indices),
                )
                loss = objective(model, task, batch_x, batch_y)
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    current_lr = float(optimizer.param_groups[0]["lr"])  # schedulers change it
                    raise DivergenceError(name, step, current_lr, loss_value, record=record)
                record.train_loss.append(loss_value)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                bar.update()
            record.epoch_seconds.append(time.perf_counter() - started)
            record.epochs, record.steps = epoch + 1, step

            finished = record.epochs == epochs or step == max_steps
            if eval_every_epoch or finished:
                splits = (train_x, train_y, val_x, val_y, test_x, test_y)
                _evaluate_into(record, model, splits, evaluate_test)
                bar.set_postfix(val_loss=f"{record.epoch_val_loss[-1]:.4f}")
            if checkpoint_path is not None and step == record.epochs * record.steps_per_epoch:
                _save_checkpoint(
                    Path(checkpoint_path),
                    format=CHECKPOINT_FORMAT,
                    model=model.state_dict(),
                    optimizer=optimizer.state_dict(),
                    batch_order=batch_order.get_state(),
                    record=record.to_dict(),
                )
            if finished:
                break
    return record


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
    for where, value in (("training-set loss", train.loss), ("validation loss", val.loss)):
        if not math.isfinite(value):
            raise DivergenceError(
                record.optimizer, record.steps, record.lr, value, where, record=record
            )


def _resume(
    path: str | Path,
    model: nn.Module,
    optimizer: Optimizer,
    batch_order: torch.Generator,
    expected: RunRecord,
) -> RunRecord:
    """Load a checkpoint into ``model``, ``optimizer`` and ``batch_order``; return its record."""
    checkpoint = torch.load(path, map_location=expected.device, weights_only=True)
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not an optlib checkpoint (format {checkpoint.get('format')})")
    record = RunRecord.from_dict(checkpoint["record"])
    for key in ("optimizer", "seed", "task", "batch_size", "n_train"):
        if getattr(record, key) != getattr(expected, key):
            raise ValueError(
                f"Cannot resume from {path}: checkpoint has {key}={getattr(record, key)!r}, "
                f"this run has {key}={getattr(expected, key)!r}"
            )
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    batch_order.set_state(checkpoint["batch_order"])
    return record


# --------------------------------------------------------------------------------------------
# Fair comparisons
# --------------------------------------------------------------------------------------------
def optimizer_factory(name: str, **hyperparameters: Any) -> OptimizerFactory:
    """A factory for the :mod:`optlib.optim` optimizer called ``name`` (``"adam"``, ...).

    Unspecified hyperparameters keep torch's defaults. Unknown names raise ``ValueError`` listing
    the valid ones.
    """
    from optlib.optim import OPTIMIZERS, make_optimizer

    if name.lower() not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")

    def factory(params: Iterable[nn.Parameter]) -> Optimizer:
        return make_optimizer(name, params, **hyperparameters)

    return factory


def _as_factory(spec: OptimizerSpec) -> OptimizerFactory:
    if callable(spec):
        return spec
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        return optimizer_factory(spec[0], **dict(spec[1]))
    raise ValueError(
        f"Invalid optimizer spec: {spec!r}; expected a factory or (name, hyperparameters)"
    )


def check_seeds(seeds: Sequence[int]) -> list[int]:
    """``seeds`` as a list of ints; ``ValueError`` for a bare int, non-integers or nothing."""
    if isinstance(seeds, int) or not all(isinstance(s, int | np.integer) for s in seeds):
        raise ValueError(f"Invalid seeds: {seeds!r}; expected a sequence of ints, e.g. range(3)")
    if not seeds:
        raise ValueError("Invalid seeds: empty")
    return [int(s) for s in seeds]


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
) -> list[RunRecord]:
    """Train every optimizer on every seed under identical conditions; one record per run.

    For each seed the model is built once (:meth:`Task.make_model`) and deep-copied for each
    optimizer, and every run shuffles with the same seed, so within a seed the optimizers differ
    in nothing but the update rule. ``optimizers`` maps a label to a factory
    ``params -> Optimizer`` or to ``(name, hyperparameters)``, e.g.
    ``{"adam": ("adam", {}), "adagrad": ("adagrad", {"lr": 0.05})}``.
    Records come out seed by seed, in the mapping's order within a seed.
    """
    if not optimizers:
        raise ValueError("Invalid optimizers: empty")
    factories = {label: _as_factory(spec) for label, spec in optimizers.items()}
    seeds = check_seeds(seeds)
    run_device = torch.device(device) if device is not None else default_device()
    show = progress_enabled(progress)
    records = []
    with progress_bar(len(seeds) * len(factories), "runs", show, unit="run") as runs_bar:
        for seed in seeds:
            initial_model = task.make_model(seed)
            for label, factory in factories.items():
                model = copy.deepcopy(initial_model).to(run_device)
                record = fit(
                    model,
                    factory(model.parameters()),
                    task,
                    epochs=epochs,
                    batch_size=batch_size,
                    seed=seed,
                    optimizer_name=label,
                    eval_every_epoch=eval_every_epoch,
                    progress=show,
                    max_steps=max_steps,
                    train_subset=train_subset,
                )
                records.append(record)
                runs_bar.update()
    return records


# --------------------------------------------------------------------------------------------
# Learning-rate tuning on the validation split
# --------------------------------------------------------------------------------------------
class TuningResult(NamedTuple):
    """Validation loss after the last epoch for every (learning rate, seed); ``inf`` = diverged."""

    optimizer: str
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    val_losses: tuple[tuple[float, ...], ...]
    """``val_losses[i][j]``: learning rate ``lrs[i]``, seed ``seeds[j]``."""
    mean_val_loss: tuple[float, ...]
    """Mean over seeds (``inf`` if any seed diverged)."""
    std_val_loss: tuple[float, ...]
    """Sample standard deviation over seeds (``nan`` with one seed or any divergence)."""
    best_lr: float
    epochs: int

    @property
    def best_on_edge(self) -> bool:
        """True when the best lr is the smallest or largest tried: extend the grid."""
        return self.best_lr in (min(self.lrs), max(self.lrs)) and len(self.lrs) > 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (infinities become ``"inf"`` strings)."""

        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return str(value)
            if isinstance(value, tuple):
                return [clean(v) for v in value]
            return value

        return {key: clean(value) for key, value in self._asdict().items()}


def log_grid(low: float, high: float, per_decade: int = 2) -> tuple[float, ...]:
    """Log-spaced learning rates from ``low`` to ``high`` with ``per_decade`` points per decade.

    >>> log_grid(1e-3, 1e-1, per_decade=1)
    (0.001, 0.01, 0.1)
    """
    if not 0 < low <= high:
        raise ValueError(f"Invalid grid bounds: low={low}, high={high} (need 0 < low <= high)")
    if per_decade < 1:
        raise ValueError(f"Invalid per_decade: {per_decade}")
    n_points = round(math.log10(high / low) * per_decade) + 1
    exponents = np.linspace(math.log10(low), math.log10(high), n_points)
    return tuple(float(f"{10.0**e:.3g}") for e in exponents)


def tuning_result(
    optimizer: str, lrs: Sequence[float], seeds: Sequence[int], scores: np.ndarray, epochs: int
) -> TuningResult:
    """Summarise a ``(len(lrs), len(seeds))`` array of final validation losses (``inf`` for a
    diverged run): mean and std per lr, and the best lr. Raises ``ValueError`` if all diverged."""
    means = scores.mean(axis=1)
    if not np.isfinite(means).any():
        raise ValueError(f"Every learning rate diverged for {optimizer}: lrs={tuple(lrs)}")
    with np.errstate(invalid="ignore"):
        stds = scores.std(axis=1, ddof=1) if len(seeds) > 1 else np.full(len(lrs), np.nan)
    return TuningResult(
        optimizer=optimizer,
        lrs=tuple(lrs),
        seeds=tuple(seeds),
        val_losses=tuple(tuple(float(v) for v in row) for row in scores),
        mean_val_loss=tuple(float(v) for v in means),
        std_val_loss=tuple(float(v) for v in stds),
        best_lr=lrs[int(np.argmin(means))],
        epochs=epochs,
    )


def tune_lr(
    optimizer_name: str,
    task: Task,
    lrs: Sequence[float],
    seeds: Sequence[int],
    *,
    epochs: int,
    batch_size: int = 64,
    hyperparameters: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    train_subset: int | None = None,
    max_steps: int | None = None,
    device: torch.device | str | None = None,
    factory_for_lr: Callable[[float], OptimizerFactory] | None = None,
) -> TuningResult:
    """Pick the learning rate with the lowest mean final validation loss over ``seeds``.

    Every ``(lr, seed)`` pair is one :func:`fit` run from the seed's initial weights and batch
    order (the same for every lr), evaluated on the validation split only. A run that diverges
    (:class:`DivergenceError`) scores ``+inf`` instead of stopping the search. Other
    hyperparameters are fixed at ``hyperparameters`` (default: torch's). ``factory_for_lr(lr)``,
    if given, builds the optimizer instead (for one that is more than a name and hyperparameters,
    e.g. with a schedule); ``optimizer_name`` is then only its label. Raises ``ValueError`` when
    every learning rate diverges.
    """
    lrs = tuple(float(lr) for lr in lrs)
    if not lrs or any(not (lr > 0 and math.isfinite(lr)) for lr in lrs):
        raise ValueError(f"Invalid lrs: {lrs}; expected positive learning rates")
    if len(set(lrs)) != len(lrs):
        raise ValueError(f"Invalid lrs: {lrs}; duplicates")
    seeds = check_seeds(seeds)
    hyperparameters = dict(hyperparameters or {})
    if "lr" in hyperparameters:
        raise ValueError("hyperparameters must not contain 'lr': it is what tune_lr varies")
    run_device = torch.device(device) if device is not None else default_device()
    show = progress_enabled(progress)

    scores = np.full((len(lrs), len(seeds)), np.inf)
    description = f"tune {optimizer_name}"
    with progress_bar(len(lrs) * len(seeds), description, show, unit="run") as runs_bar:
        for j, seed in enumerate(seeds):
            initial_model = task.make_model(seed)
            for i, lr in enumerate(lrs):
                if factory_for_lr is None:
                    factory = optimizer_factory(optimizer_name, lr=lr, **hyperparameters)
                else:
                    factory = factory_for_lr(lr)
                model = copy.deepcopy(initial_model).to(run_device)
                try:
                    record = fit(
                        model,
                        factory(model.parameters()),
                        task,
                        epochs=epochs,
                        batch_size=batch_size,
                        seed=seed,
                        optimizer_name=optimizer_name,
                        eval_every_epoch=False,
                        evaluate_test=False,
                        progress=show,
                        max_steps=max_steps,
                        train_subset=train_subset,
                    )
                    scores[i, j] = record.epoch_val_loss[-1]
                except DivergenceError:
                    scores[i, j] = np.inf
                runs_bar.update()

    return tuning_result(optimizer_name, lrs, seeds, scores, epochs)
