"""Run records as plain data: JSON files, summaries over seeds, curves (per learning rate too).

A :class:`RunRecord` holds everything one training run measured (it is what
:func:`optlib.training.fit` returns). Records are saved as JSON, so a long comparison run from the
command line can be plotted later by a notebook without re-training::

    {"runs": [{"optimizer": "adam", "seed": 0, "lr": 0.001, "train_loss": [...], ...}, ...],
     "meta": {"torch_version": "...", "created": "...", ...}}

:func:`load_runs` also accepts a bare list of run dictionaries.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from optlib.training.files import read_json, write_atomically
from optlib.training.runstore import STATUSES, json_safe


@dataclass
class RunRecord:
    """What one training run measured: one optimizer, one seed, one task.

    Per-step lists have one entry per optimizer step; per-epoch lists have one entry per
    evaluation (after every epoch, or only after the last one when
    ``fit(eval_every_epoch=False)``), taken after ``eval_steps[i]`` optimizer steps. Losses are
    mean cross entropies in nats; accuracies are fractions in [0, 1].
    """

    optimizer: str
    """Label of the optimizer in this comparison, usually its name, e.g. ``"adam"``."""
    seed: int
    """Seed of the initial weights and of the minibatch order."""
    lr: float
    """Learning rate (of the first parameter group)."""
    task: str
    batch_size: int
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    """The optimizer's other hyperparameters (``optimizer.defaults`` without ``lr``)."""
    algorithm: str = ""
    """Lower-case optimizer class name, e.g. ``"adam"`` (the label may be more specific)."""
    n_train: int = 0
    """Number of training examples the run sampled minibatches from."""
    steps_per_epoch: int = 0
    epochs: int = 0
    """Number of epochs run (the last may be partial if ``max_steps`` stopped it)."""
    steps: int = 0
    """Number of optimizer steps taken."""
    train_loss: list[float] = field(default_factory=list)
    """Minibatch loss at every step, measured *before* that step's update, so ``train_loss[0]`` is
    the loss of the initial weights on the first minibatch."""
    eval_steps: list[int] = field(default_factory=list)
    epoch_train_loss: list[float] = field(default_factory=list)
    epoch_train_accuracy: list[float] = field(default_factory=list)
    epoch_val_loss: list[float] = field(default_factory=list)
    epoch_val_accuracy: list[float] = field(default_factory=list)
    epoch_test_loss: list[float] = field(default_factory=list)
    epoch_test_accuracy: list[float] = field(default_factory=list)
    test_loss: float | None = None
    """Test loss after the last epoch (``None`` if the test split was not evaluated)."""
    test_accuracy: float | None = None
    """Test accuracy after the last epoch (``None`` if the test split was not evaluated)."""
    epoch_seconds: list[float] = field(default_factory=list)
    """Wall time of each epoch's training steps, evaluation excluded."""
    eval_seconds: list[float] = field(default_factory=list)
    """Wall time of each evaluation."""
    init_fingerprint: str = ""
    """Hash of the initial weights: equal for runs that started from identical weights."""
    batch_order_fingerprint: str = ""
    """Hash of every minibatch's example indices: equal for runs that saw the same batches."""
    device: str = "cpu"
    threads: int = 0
    """``torch.get_num_threads()`` during the run: it affects the timings and, through the order
    of floating-point sums, the last bits of the results."""
    status: str = "ok"
    """``"ok"``, or ``"diverged"``: training stopped at a non-finite loss, or at an evaluation
    whose training-set loss was far above the first loss (see
    :data:`optlib.training.harness.DIVERGENCE_FACTOR`). Tables and figures leave diverged runs
    out of means and standard deviations, and say so."""
    divergence: dict[str, Any] | None = None
    """For a diverged run: ``{"step", "loss", "lr", "where"}``, where it stopped and why."""
    run_id: str = ""
    """The run's key in a :class:`~optlib.training.runstore.RunStore`, e.g. ``"adam/seed0"``."""
    reproduce: list[str] | None = None
    """Arguments of ``python -m optlib`` that re-run exactly this run (one optimizer, one seed,
    its hyperparameters, no tuning); add ``--out FILE``."""

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dictionary."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """Rebuild a record from :meth:`to_dict` output; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        required = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing = required - set(data)
        if missing:
            raise ValueError(f"Run record is missing required fields: {sorted(missing)}")
        if data.get("status", "ok") not in STATUSES:
            raise ValueError(f"Run record has status {data['status']!r}, not one of {STATUSES}")
        return cls(**{key: _floats(value) for key, value in data.items() if key in names})


def _floats(value: Any) -> Any:
    """Undo :func:`~optlib.training.runstore.json_safe`: ``"nan"``/``"inf"``/``"-inf"`` in a
    list of numbers (or alone) become floats again."""
    if isinstance(value, str) and value in _NON_FINITE:
        return float(value)
    if isinstance(value, list):
        return [_floats(item) for item in value]
    return value


_NON_FINITE = {"nan", "inf", "-inf"}


def environment_meta() -> dict[str, Any]:
    """Versions and time stamp stored in every results file's ``meta``."""
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def save_runs(
    runs: Iterable[RunRecord], path: str | Path, meta: Mapping[str, Any] | None = None
) -> Path:
    """Write ``{"meta": {...}, "runs": [...]}`` to ``path`` (atomically); ``meta`` adds to the
    defaults.

    The file is plain JSON laid out for people: the metadata first, then one run per line.
    Non-finite numbers (a diverged run's last loss) are written as strings, ``"inf"``.
    A comparison that must survive interruptions writes through a
    :class:`~optlib.training.runstore.RunStore` instead, one run at a time.
    """
    meta_text = json.dumps(json_safe({**environment_meta(), **(meta or {})}), indent=1)
    lines = ",\n".join(json.dumps(json_safe(run.to_dict()), allow_nan=False) for run in runs)
    return write_atomically(path, f'{{"meta": {meta_text},\n"runs": [\n{lines}\n]}}\n')


def load_document(path: str | Path) -> tuple[list[RunRecord], dict[str, Any]]:
    """Read a results file written by :func:`save_runs` or a
    :class:`~optlib.training.runstore.RunStore` (or a bare list): ``(runs, meta)``.
    Every error names the file (missing, truncated, not JSON, not a results file)."""
    document = read_json(path)
    if isinstance(document, dict) and isinstance(document.get("runs"), list):
        runs, meta = document["runs"], document.get("meta", {})
    elif isinstance(document, list):
        runs, meta = document, {}
    else:
        raise ValueError(f"{path}: expected a list of runs or an object with a 'runs' list")
    records = []
    for index, run in enumerate(runs):
        try:
            records.append(RunRecord.from_dict(run))
        except (ValueError, TypeError, AttributeError) as error:
            raise ValueError(f"{path}: run {index}: {error}") from None
    return records, meta


def load_runs(path: str | Path) -> list[RunRecord]:
    """The run records in a results file (``{"runs": [...], "meta": ...}`` or a bare list)."""
    return load_document(path)[0]


# --------------------------------------------------------------------------------------------
# Summary table
# --------------------------------------------------------------------------------------------
class SummaryRow(NamedTuple):
    """One optimizer's results over seeds: mean and sample standard deviation (ddof = 1)."""

    optimizer: str
    lrs: tuple[float, ...]
    n_runs: int
    test_accuracy_mean: float
    test_accuracy_std: float
    """NaN when there is a single run (no spread to estimate)."""
    seconds_per_epoch_mean: float
    """Mean over every epoch of every run (training steps only)."""
    seconds_per_epoch_std: float
    n_diverged: int = 0
    """Runs of this optimizer that diverged: not counted in ``n_runs`` nor in any mean or std."""


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    std = statistics.stdev(values) if len(values) > 1 else math.nan
    return statistics.fmean(values), std


def group_by_optimizer(runs: Iterable[RunRecord]) -> dict[str, list[RunRecord]]:
    """Runs grouped by optimizer label, in order of first appearance."""
    groups: dict[str, list[RunRecord]] = {}
    for run in runs:
        groups.setdefault(run.optimizer, []).append(run)
    return groups


def summarize(runs: Iterable[RunRecord]) -> list[SummaryRow]:
    """Mean ± standard deviation over seeds of test accuracy and seconds per epoch.

    Runs whose test split was not evaluated count for timing only (their accuracy is skipped).
    Diverged runs are left out of every mean and std and counted in ``n_diverged``.
    """
    rows = []
    for label, every_run in group_by_optimizer(runs).items():
        group = [run for run in every_run if not run.diverged]
        accuracies = [run.test_accuracy for run in group if run.test_accuracy is not None]
        seconds = [s for run in group for s in run.epoch_seconds]
        rows.append(
            SummaryRow(
                label,
                tuple(sorted({run.lr for run in every_run})),
                len(group),
                *_mean_std(accuracies),
                *_mean_std(seconds),
                len(every_run) - len(group),
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------
class Curve(NamedTuple):
    """Mean and standard deviation over runs of a quantity, at positions ``x``."""

    x: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    n_runs: int


def _curve(x: np.ndarray, values: np.ndarray) -> Curve:
    """Mean ± std (ddof 1; 0 for a single run) over the rows of ``values`` (runs x points)."""
    std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1])
    return Curve(x, values.mean(axis=0), std, len(values))


def window_means(values: Sequence[float], window: int) -> np.ndarray:
    """Means over consecutive, non-overlapping windows of ``window`` values.

    Trailing values that do not fill a whole window are dropped, so every point averages the
    same number of steps.
    """
    if window < 1:
        raise ValueError(f"Invalid window: {window}")
    array = np.asarray(values, dtype=float)
    n_windows = len(array) // window
    return array[: n_windows * window].reshape(n_windows, window).mean(axis=1)


def training_loss_curve(runs: Sequence[RunRecord], window: int | None = None) -> Curve:
    """Per-step training loss averaged over windows of steps, then mean ± std over runs.

    Runs are cut to the shortest one. ``x`` is the centre of each window in epochs. The default
    window gives about 20 points per epoch.
    """
    if not runs:
        raise ValueError("training_loss_curve needs at least one run")
    n_steps = min(len(run.train_loss) for run in runs)
    if n_steps == 0:
        raise ValueError("training_loss_curve needs runs with at least one step")
    steps_per_epoch = max(1, runs[0].steps_per_epoch)
    window = min(window or max(1, steps_per_epoch // 20), n_steps)
    smoothed = np.stack([window_means(run.train_loss[:n_steps], window) for run in runs])
    centres = np.arange(smoothed.shape[1]) * window + (window - 1) / 2
    return _curve(centres / steps_per_epoch, smoothed)


def epoch_curve(runs: Sequence[RunRecord], metric: str) -> Curve:
    """Mean ± std over runs of a per-epoch metric such as ``"epoch_test_accuracy"``."""
    if not runs:
        raise ValueError("epoch_curve needs at least one run")
    n_points = min(len(getattr(run, metric)) for run in runs)
    values = np.array([getattr(run, metric)[:n_points] for run in runs], dtype=float)
    x = np.asarray(runs[0].eval_steps[:n_points], dtype=float) / max(1, runs[0].steps_per_epoch)
    return _curve(x, values)


class LrCurve(NamedTuple):
    """An optimizer's training-loss curve at one learning rate, mean ± std over seeds."""

    optimizer: str
    lr: float
    curve: Curve  # x in epochs; n_runs == 0 when every run at this rate diverged


def lr_curves(
    runs: Iterable[RunRecord | Mapping[str, Any]], *, window: int | None = None
) -> list[LrCurve]:
    """Group runs (records, or their dictionaries from a results file) by optimizer and
    learning rate: each group's minibatch training loss, mean ± std over its seeds, in windows
    of ``window`` steps (:func:`training_loss_curve`) or, when every run of the group comes from
    a results file that keeps one mean per epoch (``train_loss_epoch_mean``, the full-budget
    suites), per epoch. Diverged runs are left out (:func:`_diverged`). What chapter 4's
    learning-rate study (:func:`optlib.figures.interactive.lr_study`) shows."""
    groups: dict[tuple[str, float], list[tuple[RunRecord, list | None]]] = {}
    for run in runs:
        epoch_means = run.get("train_loss_epoch_mean") if isinstance(run, Mapping) else None
        record = RunRecord.from_dict(run) if isinstance(run, Mapping) else run
        groups.setdefault((record.optimizer, float(record.lr)), []).append((record, epoch_means))
    curves = []
    for (optimizer, lr), group in sorted(groups.items()):
        finished = [(run, means) for run, means in group if not _diverged(run)]
        if finished and all(means for _, means in finished):
            n = min(len(means) for _, means in finished)
            values = np.array([means[:n] for _, means in finished], dtype=float)
            curve = _curve(np.arange(n) + 0.5, values)  # at the middle of each epoch
        elif finished:
            curve = training_loss_curve([run for run, _ in finished], window)
        else:
            curve = Curve(np.array([]), np.array([]), np.array([]), 0)
        curves.append(LrCurve(optimizer, lr, curve))
    return curves


def _diverged(run: RunRecord) -> bool:
    """A run whose curve cannot join its group's mean: marked ``"diverged"``, a non-finite
    loss, or one a sweep stopped recording mid-epoch (more losses than finished steps: the
    sweep stops a run at its first non-finite loss and counts steps at epoch ends). A results
    file's record may keep fewer losses than steps (only the first ones); that is not a
    divergence."""
    losses = np.asarray(run.train_loss, dtype=float)
    return (
        run.diverged or run.steps == 0 or len(losses) > run.steps or not np.all(np.isfinite(losses))
    )
