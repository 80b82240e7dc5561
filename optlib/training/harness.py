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

from optlib.training.models import parameter_fingerprint
from optlib.training.results import RunRecord

OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]
"""Builds an optimizer for the given parameters, e.g. ``lambda p: torch.optim.Adam(p, lr=1e-3)``."""

OptimizerSpec = OptimizerFactory | tuple[str, Mapping[str, Any]]
"""An optimizer factory, or ``(name, hyperparameters)`` such as ``("adam", {"lr": 1e-3})``."""

CHECKPOINT_FORMAT = 1
_IMPLEMENTATION_FLAGS = {"foreach", "fused", "capturable", "differentiable"}


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


def _save_checkpoint(path: Path, **contents: Any) -> None:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(contents, temporary)
    os.replace(temporary, path)


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
    """Save everything a resumed run needs after a complete epoch (see ``fit(resume_from=)``)."""
    _save_checkpoint(
        Path(path),
        format=CHECKPOINT_FORMAT,
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        batch_order=batch_order.get_state(),
        record=record.to_dict(),
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
