"""Running a suite: tune every optimizer at the full budget, then compare them (the protocol is
in :mod:`optlib.book.suites`); every run goes into a :class:`~optlib.training.runstore.RunStore`
as it finishes, in the small form :func:`compact_record` keeps, with the command line that
re-runs it alone (:func:`reproduce_args`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from optlib.book.experiments import with_inverse_sqrt_decay
from optlib.book.suites.definitions import Suite, SuiteOptimizer
from optlib.training.results import RunRecord
from optlib.training.runstore import RunStore
from optlib.training.sweep import sweep
from optlib.training.train import Task, compare, make_task
from optlib.training.tuning import TuningResult, final_val_loss, format_tuning, tuning_result

__all__ = [
    "KEPT_STEPS",
    "compact_record",
    "is_tuning_run",
    "reproduce_args",
    "run_suite",
    "tune",
]

KEPT_STEPS = 200
"""Per-step training losses a stored record keeps (the rest as one mean per epoch)."""


def compact_record(record: RunRecord, **extra: Any) -> dict[str, Any]:
    """What a suite stores of a run: everything but the per-step training loss after
    :data:`KEPT_STEPS` steps, which is kept as one mean per epoch (``train_loss_epoch_mean``,
    ``train_loss_steps`` = the number of steps it summarises); plus ``extra``."""
    data = record.to_dict()
    losses = np.asarray(record.train_loss, dtype=float)
    per_epoch = max(1, record.steps_per_epoch)
    data["train_loss"] = record.train_loss[:KEPT_STEPS]
    data["train_loss_steps"] = len(losses)
    data["train_loss_epoch_mean"] = [
        float(losses[start : start + per_epoch].mean())
        for start in range(0, len(losses), per_epoch)
    ]
    return {**data, **extra}


_TUNING = "tune/"  # the run ids of tuning runs start with it; final runs' with the label


def _tuning_label(label: str, lr: float) -> str:
    """The :func:`~optlib.training.compare` label of a tuning run: ``tune/<label>/lr=<lr>``."""
    return f"{_TUNING}{label}/lr={lr:g}"


def _tuning_id(label: str, lr: float, seed: int) -> str:
    return f"{_tuning_label(label, lr)}/seed{seed}"  # as compare names its runs


def is_tuning_run(run: RunRecord) -> bool:
    """Whether ``run`` is one of a suite's tuning runs (else a final run)."""
    return run.run_id.startswith(_TUNING)


def _hyperparameter_args(hyperparameters: dict[str, Any]) -> list[str]:
    def shown(value: Any) -> str:
        return str(value).lower() if isinstance(value, bool) else repr(value)

    tokens = [f"{key}={shown(value)}" for key, value in hyperparameters.items()]
    return ["--hyperparameters", *tokens] if tokens else []


def reproduce_args(suite: Suite, optimizer: SuiteOptimizer, lr: float, seed: int) -> list[str]:
    """``python -m optlib`` arguments (without ``--out``) that train one run of ``suite`` alone:
    ``optimizer`` at learning rate ``lr`` on ``seed``, its schedule, no tuning."""
    argv = ["compare", "--task", suite.task, "--optimizers", optimizer.name, "--seed", str(seed)]
    argv += ["--epochs", str(suite.epochs), "--batch-size", str(suite.batch_size)]
    argv += ["--lr", repr(lr), *_hyperparameter_args(optimizer.hyperparameters)]
    if optimizer.decay:
        argv += ["--decay", "inverse-sqrt"]
    if suite.l2:
        argv += ["--l2", repr(suite.l2)]
    if suite.subset:
        argv += ["--subset", str(suite.subset)]
    return argv


def run_suite(
    suite: Suite,
    store: RunStore,
    *,
    task: Task | None = None,
    data_dir: str | Path | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> list[RunRecord]:
    """Tune every optimizer of ``suite`` at the full budget, then run the final comparison;
    every run goes into ``store`` as it finishes, runs already there are not run again.
    Returns the final runs' records (in :func:`optlib.training.compare`'s order)."""
    task = task or make_task(suite.task, l2=suite.l2, data_dir=data_dir)
    tuned = {}  # label -> (optimizer, its tuned learning rate)
    for optimizer in suite.optimizers:
        result = tune(suite, optimizer, task, store, progress=progress, log=log)
        tuned[optimizer.label] = (optimizer, result.best_lr)
    log("tuned learning rates: " + ", ".join(f"{o.label} {lr:g}" for o, lr in tuned.values()))
    return _train_runs(suite, task, store, tuned, suite.seeds, progress, role="final")


def _train_runs(
    suite: Suite,
    task: Task,
    store: RunStore,
    runs: Mapping[str, tuple[SuiteOptimizer, float]],
    seeds: Sequence[int],
    progress: bool | None,
    **stored: Any,
) -> list[RunRecord]:
    """:func:`~optlib.training.compare` of ``runs`` (label -> optimizer, learning rate) on
    ``seeds`` at the suite's budget, into ``store``: a run the store holds is not trained again;
    a finished one is stored at once, as :func:`compact_record` with ``stored`` (``role`` first)
    and with the command that re-runs it alone. Tuning runs (``role="tuning"``) are evaluated
    only after the last epoch, and never on the test split."""
    final = stored["role"] == "final"
    return compare(
        {label: optimizer.factory(lr) for label, (optimizer, lr) in runs.items()},
        task,
        seeds,
        epochs=suite.epochs,
        batch_size=suite.batch_size,
        progress=progress,
        train_subset=suite.subset,
        eval_every_epoch=final,
        evaluate_test=final,
        store=store,
        reproduce=lambda label, seed: reproduce_args(suite, *runs[label], seed),
        stored_form=lambda record: compact_record(record, **stored),
    )


def tune(
    suite: Suite,
    optimizer: SuiteOptimizer,
    task: Task,
    store: RunStore,
    *,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> TuningResult:
    """Tune ``optimizer``'s learning rate for ``suite`` (see :mod:`optlib.book.suites`), store
    the result in ``store.meta["tuning"][label]`` and return it. Runs already in ``store`` are
    reused, so a resumed suite makes the same decisions without training again."""
    stored = store.meta.get("tuning", {}).get(optimizer.label)
    if stored is not None:
        return TuningResult.from_dict(stored)
    grid = sorted(optimizer.grid)
    extensions: list[dict[str, Any]] = []
    while True:
        _train_tuning_runs(suite, optimizer, task, store, grid, progress)
        result = _score(suite, optimizer, store, grid)
        if not result.best_on_edge or len(extensions) == suite.max_grid_extensions:
            break
        side = "low" if result.best_lr == grid[0] else "high"
        new = _next_grid_point(grid, side)
        extensions.append({"lr": new, "side": side, "best_before": result.best_lr})
        log(
            f"{optimizer.label}: the best lr {result.best_lr:g} is on the grid's {side} edge; "
            f"extending the grid by {new:g}"
        )
        grid = sorted([*grid, new])
    log(format_tuning(result, extensions))
    entry = {
        **result.to_dict(),
        "grid": list(optimizer.grid),
        "extended": extensions,
        "best_on_edge": result.best_on_edge,
        "stacked": suite.stacked_tuning,
    }
    store.update_meta(tuning={**store.meta.get("tuning", {}), optimizer.label: entry})
    return result


def _next_grid_point(grid: Sequence[float], side: str) -> float:
    """The learning rate one grid step beyond the ``"low"`` or ``"high"`` end of a log-spaced
    ``grid``, rounded as :func:`optlib.training.tuning.log_grid` rounds (``3.16e-6`` above ``1e-6,
    3.16e-6``, ``1e-5``; not ``9.99e-6``)."""
    per_decade = round(1 / math.log10(grid[1] / grid[0]))
    edge = grid[0] if side == "low" else grid[-1]
    exponent = round(math.log10(edge) * per_decade) + (-1 if side == "low" else 1)
    return float(f"{10.0 ** (exponent / per_decade):.3g}")


def _score(
    suite: Suite, optimizer: SuiteOptimizer, store: RunStore, grid: Sequence[float]
) -> TuningResult:
    """The tuning the stored runs of ``grid`` x ``suite.tune_seeds`` amount to."""

    def score(lr: float, seed: int) -> float:
        return final_val_loss(RunRecord.from_dict(store.get(_tuning_id(optimizer.label, lr, seed))))

    scores = np.array([[score(lr, seed) for seed in suite.tune_seeds] for lr in grid])
    return tuning_result(optimizer.label, grid, suite.tune_seeds, scores, suite.epochs)


def _train_tuning_runs(
    suite: Suite,
    optimizer: SuiteOptimizer,
    task: Task,
    store: RunStore,
    grid: Sequence[float],
    progress: bool | None,
) -> None:
    """Train every (lr, seed) of ``grid`` x ``suite.tune_seeds`` that ``store`` lacks: one
    :func:`~optlib.training.fit` per run, or all in one :func:`~optlib.training.sweep.sweep`
    if the suite says so (``stacked_tuning``)."""
    missing = [
        lr
        for lr in grid
        if any(_tuning_id(optimizer.label, lr, seed) not in store for seed in suite.tune_seeds)
    ]
    stored = dict(role="tuning", stacked=suite.stacked_tuning, optimizer=optimizer.label)
    if missing and not suite.stacked_tuning:
        runs = {_tuning_label(optimizer.label, lr): (optimizer, lr) for lr in missing}
        _train_runs(suite, task, store, runs, suite.tune_seeds, progress, **stored)
    elif missing:
        result = sweep(
            task,
            optimizer.name,
            missing,
            suite.tune_seeds,
            epochs=suite.epochs,
            batch_size=suite.batch_size,
            hyperparameters=optimizer.hyperparameters,
            eval_every_epoch=False,
            evaluate_test=False,
            train_subset=suite.subset,
            progress=progress,
            schedule=with_inverse_sqrt_decay if optimizer.decay else None,
        )
        for record in result.records:  # the sweep marks a diverged run as fit would
            record.run_id = _tuning_id(optimizer.label, record.lr, record.seed)
            if record.run_id not in store:
                record.reproduce = reproduce_args(suite, optimizer, record.lr, record.seed)
                store.add(compact_record(record, **stored))
