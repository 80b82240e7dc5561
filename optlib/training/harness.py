"""What :func:`optlib.training.fit` does around the textbook loop: progress bars, the record of
a run, its fingerprints, divergence, checkpoints, and turning optimizer names into factories.

Kept here so that ``fit``'s body reads as the loop itself.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from optlib.training.files import CheckpointError, load_checkpoint
from optlib.training.files import save_checkpoint as write_checkpoint
from optlib.training.models import parameter_fingerprint
from optlib.training.results import RunRecord

OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]
"""Builds an optimizer for the given parameters, e.g. ``lambda p: torch.optim.Adam(p, lr=1e-3)``."""

OptimizerSpec = OptimizerFactory | tuple[str, Mapping[str, Any]]
"""An optimizer factory, or ``(name, hyperparameters)`` such as ``("adam", {"lr": 1e-3})``."""

DIVERGENCE_FACTOR = 10.0
"""A run has diverged when an evaluation finds its training-set loss above this many times its
first minibatch loss (the untrained model's, about ln 10 = 2.3 nats on MNIST). Why 10: over 400
steps of SGD, Adam, Adagrad and RMSprop at learning rates from sensible to 1000 times too large,
on MNIST's logistic regression and MLP, the runs that ended with a usable model ended below their
first loss even after spikes of 15-20x on the way, and none ended above 7x; Adam at lr=1000 on
logistic regression ended 2400x above. A loss 10x the untrained model's is an optimizer that is no
longer minimising it, whatever the accuracy says."""
_IMPLEMENTATION_FLAGS = {"foreach", "fused", "capturable", "differentiable"}


class DivergenceError(FloatingPointError):
    """Training produced a NaN or infinite loss, or a training-set loss
    :data:`DIVERGENCE_FACTOR` times the first; names the optimizer, step and learning rate."""

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
        self.where = where
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
    minibatches, in :func:`fit` and in :func:`optlib.training.sweep.sweep` alike."""
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


_RESUME_KEYS = (
    "optimizer",
    "algorithm",
    "seed",
    "task",
    "batch_size",
    "n_train",
    "lr",
    "hyperparameters",
)


def restore_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: Optimizer,
    batch_order: torch.Generator,
    expected: RunRecord,
) -> RunRecord:
    """Load a checkpoint into ``model``, ``optimizer`` and ``batch_order``; return its record.

    The file is verified (:func:`~optlib.training.files.load_checkpoint`: SHA-256, weights
    only), and the run it holds must be this run: same optimizer, hyperparameters, seed, task
    and batch size; every difference is named. (The model's current weights do not matter: the
    checkpoint's replace them.)
    """
    checkpoint = load_checkpoint(path, map_location=expected.device)
    try:
        record = RunRecord.from_dict(checkpoint["record"])
        state = checkpoint["model"], checkpoint["optimizer"], checkpoint["batch_order"]
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: not a checkpoint of fit ({error})") from None
    differences = [
        f"{key}={getattr(record, key)!r} in the checkpoint, {getattr(expected, key)!r} now"
        for key in _RESUME_KEYS
        if getattr(record, key) != getattr(expected, key)
    ]
    if differences:
        raise ValueError(
            f"Cannot resume from {path}: it holds another run: " + "; ".join(differences)
        )
    model.load_state_dict(state[0])
    optimizer.load_state_dict(state[1])
    batch_order.set_state(state[2])
    return record


def new_record(
    model: nn.Module,
    optimizer: Optimizer,
    *,
    task_name: str,
    seed: int,
    batch_size: int,
    n_train: int,
    name: str,
) -> RunRecord:
    """An empty :class:`RunRecord` of a run about to start: its settings and the fingerprint of
    the initial weights."""
    return RunRecord(
        optimizer=name,
        seed=seed,
        lr=float(optimizer.param_groups[0]["lr"]),
        task=task_name,
        batch_size=batch_size,
        hyperparameters=recorded_hyperparameters(optimizer),
        algorithm=type(optimizer).__name__.lower(),
        n_train=n_train,
        steps_per_epoch=math.ceil(n_train / batch_size),
        init_fingerprint=parameter_fingerprint(model),
        device=str(next(model.parameters()).device),
        threads=torch.get_num_threads(),
    )


def training_loss_divergence(loss: float, first_loss: float) -> str | None:
    """Why an evaluation's training-set ``loss`` says the run has diverged (non-finite, or above
    :data:`DIVERGENCE_FACTOR` times the run's first minibatch loss), or ``None`` if it has not:
    the test of :func:`fit` (:func:`check_training_loss`) and of the stacked sweep."""
    if not math.isfinite(loss):
        return "training-set loss"
    if loss > DIVERGENCE_FACTOR * first_loss:
        return f"training-set loss, over {DIVERGENCE_FACTOR:g}x the first loss ({first_loss:.3g}),"
    return None


def check_training_loss(record: RunRecord, loss: float) -> None:
    """Raise :class:`DivergenceError` if an evaluation's training-set ``loss`` says the run has
    diverged (:func:`training_loss_divergence`)."""
    first = record.train_loss[0] if record.train_loss else math.inf
    where = training_loss_divergence(loss, first)
    if where is not None:
        raise DivergenceError(record.optimizer, record.steps, record.lr, loss, where, record=record)


def mark_diverged(record: RunRecord, *, step: int, loss: float, lr: float, where: str) -> None:
    """Mark ``record`` ``status="diverged"``, with where it stopped: kept and stored, left out
    of means."""
    record.status = "diverged"
    record.divergence = {"step": step, "loss": loss, "lr": lr, "where": where}


def diverged_record(error: DivergenceError) -> RunRecord:
    """The record a :class:`DivergenceError` carries, marked diverged (:func:`mark_diverged`)."""
    if error.record is None:
        raise ValueError("This DivergenceError carries no record") from error
    where = {"step": error.step, "loss": error.loss, "lr": error.lr, "where": error.where}
    mark_diverged(error.record, **where)
    return error.record


def check_finite_loss(loss: Tensor, record: RunRecord, optimizer: Optimizer, step: int) -> float:
    """The minibatch loss as a number, to record before the update; :class:`DivergenceError`
    (carrying the record so far) if it is NaN or infinite."""
    value = loss.item()
    if not math.isfinite(value):
        current_lr = float(optimizer.param_groups[0]["lr"])  # schedulers change it
        raise DivergenceError(record.optimizer, step, current_lr, value, record=record)
    return value


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: Optimizer,
    batch_order: torch.Generator,
    record: RunRecord,
) -> None:
    """Save everything a resumed run needs after a complete epoch (see ``fit(checkpoint=)``),
    atomically and with a SHA-256 (:func:`optlib.training.files.save_checkpoint`)."""
    write_checkpoint(
        path,
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "batch_order": batch_order.get_state(),
            "record": record.to_dict(),
        },
    )


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


def as_factory(spec: OptimizerSpec) -> OptimizerFactory:
    """A factory from a factory or from ``(name, hyperparameters)``."""
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
