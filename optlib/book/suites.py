r"""Full-budget suites: the book's comparisons at the budgets people train with, one command each.

Chapter 4's live experiments run one epoch so that the page executes in a minute. A *suite* runs
one comparison at a realistic budget, from the command line, into one results file::

    python -m optlib suite kb-logreg --out results/kb-logreg.json      # --resume after a kill

Every suite follows one protocol (:func:`run_suite`):

1. **Tune** each optimizer's learning rate on the validation split *at the full budget*: every
   value of the suite's grid, on ``tune_seeds``, scored by the mean final validation loss
   (:func:`optlib.training.tuning.tuning_result`; the test split is never evaluated). If the best
   value is on the grid's edge, the grid grows by one point on that side (same ratio) and the
   new value is trained, until the best is inside (at most ``max_grid_extensions`` times); the
   results file says which points were added and why (``meta["tuning"]``). Logistic-regression
   suites tune with :func:`optlib.training.sweep.sweep` (all values and seeds stacked, about
   3.7x faster there), the others with one :func:`optlib.training.fit` per run.
2. **Compare** the optimizers at their tuned learning rates on ``seeds`` with
   :func:`optlib.training.compare` (per seed: the same initial weights and minibatches for all).

Every tuning run and every final run is a run of one :class:`~optlib.training.runstore.RunStore`
(``tune/<label>/lr=<lr>/seed<s>`` and ``<label>/seed<s>``): stored as soon as it finishes, so an
interrupted suite resumes (``--resume``) where it stopped, the run in progress from its last
epoch's checkpoint. Records are kept small (:func:`compact_record`): the training loss of the
first :data:`KEPT_STEPS` steps, then one mean per epoch, besides the per-epoch evaluations. Each
record's ``reproduce`` is the ``python -m optlib compare`` command that re-runs it alone (one
optimizer, one seed, its tuned learning rate and schedule, no tuning); ``tests/test_results.py``
re-runs the first :data:`KEPT_STEPS` steps of stored runs and compares them bit for bit.

:func:`optlib.training.report.suite_report` summarises a results file (mean ± std, paired
differences with confidence intervals, time to a validation-loss target);
:mod:`optlib.figures.suites` draws it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from optlib.book.experiments import (
    KINGMA_BA_BATCH_SIZE,
    KINGMA_BA_L2,
    KINGMA_BA_MOMENTUM,
    KINGMA_BA_OPTIMIZERS,
    with_inverse_sqrt_decay,
)
from optlib.training.harness import OptimizerFactory, optimizer_factory
from optlib.training.report import OptimizerSummary, suite_report
from optlib.training.results import RunRecord, load_document
from optlib.training.runstore import RunStore
from optlib.training.sweep import sweep
from optlib.training.train import Task, compare, make_task
from optlib.training.tuning import TuningResult, tuning_result

__all__ = [
    "KEPT_STEPS",
    "SUITES",
    "Suite",
    "SuiteOptimizer",
    "SuiteResults",
    "compact_record",
    "final_runs",
    "load_results",
    "report_text",
    "run_suite",
    "scaled",
    "suite_config",
]

KEPT_STEPS = 200
"""Per-step training losses a stored record keeps (the rest as one mean per epoch)."""


class SuiteOptimizer(NamedTuple):
    """One contender of a suite: an :mod:`optlib.optim` optimizer, its fixed hyperparameters,
    its step-size schedule and the learning rates tuning starts from."""

    label: str
    """Name in run ids, tables and figures (a key of :data:`optlib.figures.STYLES`)."""
    name: str
    """A name from :data:`optlib.optim.OPTIMIZERS`."""
    hyperparameters: dict[str, Any]
    """Fixed hyperparameters besides the learning rate (torch's defaults for the rest)."""
    decay: bool
    r"""Step size :math:`\alpha/\sqrt{t}` (:func:`with_inverse_sqrt_decay`) instead of constant."""
    grid: tuple[float, ...]
    """Learning rates tuning starts from (ascending, log-spaced)."""

    def factory(self, lr: float) -> OptimizerFactory:
        """This optimizer with learning rate ``lr``, and its schedule."""
        factory = optimizer_factory(self.name, lr=lr, **self.hyperparameters)
        return with_inverse_sqrt_decay(factory) if self.decay else factory


class Suite(NamedTuple):
    """A comparison at a stated budget: task, optimizers and grids, seeds, epochs."""

    name: str
    description: str
    task: str
    """A name of :data:`optlib.training.TASKS`."""
    epochs: int
    batch_size: int
    seeds: tuple[int, ...]
    """Seeds of the final runs."""
    tune_seeds: tuple[int, ...]
    """Seeds of the tuning runs (the score is the mean over them)."""
    optimizers: tuple[SuiteOptimizer, ...]
    reference: str
    """The label paired differences are taken against (Adam)."""
    target_val_loss: float
    """Validation loss whose first crossing the report times (report only, not a run setting).
    Chosen, once the results were in, as a round value that every run of the good optimizers
    reaches (kb-logreg and sparse: all but Adagrad with α/√t); the MLP and CNN values are
    provisional until those suites have run."""
    l2: float = 0.0
    stacked_tuning: bool = False
    """Tune with :func:`optlib.training.sweep.sweep` (logistic regression only)."""
    subset: int | None = None
    """Train on the first N training examples only (smoke tests)."""
    max_grid_extensions: int = 3

    def optimizer(self, label: str) -> SuiteOptimizer:
        for candidate in self.optimizers:
            if candidate.label == label:
                return candidate
        raise ValueError(f"Suite {self.name!r} has no optimizer {label!r}")


def _kingma_ba(label: str, grid: tuple[float, ...]) -> SuiteOptimizer:
    spec = KINGMA_BA_OPTIMIZERS[label]
    return SuiteOptimizer(label, spec.name, dict(spec.hyperparameters), spec.decay, grid)


def _kingma_ba_protocol(grids: dict[str, tuple[float, ...]]) -> tuple[SuiteOptimizer, ...]:
    r"""Kingma & Ba's section 6.1 optimizers (:data:`KINGMA_BA_OPTIMIZERS`: Adam and SGD with
    Nesterov momentum under :math:`\alpha/\sqrt{t}`, Adagrad in both readings), plus AdamW (torch's
    default decoupled weight decay, 0.01) and RMSprop under the same schedule as Adam."""
    optimizers = [_kingma_ba(label, grids[label]) for label in KINGMA_BA_OPTIMIZERS]
    optimizers += [
        SuiteOptimizer("adamw-decayed", "adamw", {}, True, grids["adamw-decayed"]),
        SuiteOptimizer("rmsprop-decayed", "rmsprop", {}, True, grids["rmsprop-decayed"]),
    ]
    return tuple(optimizers)


def _practitioner_protocol(grids: dict[str, tuple[float, ...]]) -> tuple[SuiteOptimizer, ...]:
    """Constant learning rates, torch's defaults otherwise; SGD with Nesterov momentum 0.9."""
    nesterov = {"momentum": KINGMA_BA_MOMENTUM, "nesterov": True}
    return tuple(
        SuiteOptimizer(label, name, hyperparameters, False, grids[label])
        for label, name, hyperparameters in (
            ("adam", "adam", {}),
            ("adagrad", "adagrad", {}),
            ("adamw", "adamw", {}),
            ("rmsprop", "rmsprop", {}),
            ("nesterov", "sgd", nesterov),
        )
    )


def _mlp_suite(name: str, task: str, description: str, target: float) -> Suite:
    return Suite(
        name=name,
        description=description,
        task=task,
        epochs=20,
        batch_size=KINGMA_BA_BATCH_SIZE,
        seeds=(0, 1, 2),
        tune_seeds=(0,),
        optimizers=_practitioner_protocol(
            {
                "adam": (0.0001, 0.000316, 0.001, 0.00316),
                "adamw": (0.0001, 0.000316, 0.001, 0.00316),
                "rmsprop": (3.16e-05, 0.0001, 0.000316, 0.001),
                "adagrad": (0.00316, 0.01, 0.0316, 0.1),
                "nesterov": (0.00316, 0.01, 0.0316, 0.1),
            }
        ),
        reference="adam",
        target_val_loss=target,
    )


SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        Suite(
            name="kb-logreg",
            description="Kingma & Ba (2015) section 6.1: L2-regularised logistic regression on "
            "MNIST, step size alpha/sqrt(t), minibatches of 128, 45 epochs",
            task="mnist-logreg",
            l2=KINGMA_BA_L2,
            epochs=45,
            batch_size=KINGMA_BA_BATCH_SIZE,
            seeds=(0, 1, 2, 3, 4),
            tune_seeds=(0, 1),
            optimizers=_kingma_ba_protocol(
                {
                    "adam-decayed": (0.01, 0.0316, 0.1, 0.316, 1.0),
                    "adamw-decayed": (0.01, 0.0316, 0.1, 0.316, 1.0),
                    "rmsprop-decayed": (0.001, 0.00316, 0.01, 0.0316, 0.1),
                    "adagrad-constant": (0.01, 0.0316, 0.1, 0.316, 1.0),
                    "adagrad-decayed": (0.0316, 0.1, 0.316, 1.0, 3.16),
                    "nesterov-decayed": (0.1, 0.316, 1.0, 3.16, 10.0),
                }
            ),
            reference="adam-decayed",
            target_val_loss=0.30,
            stacked_tuning=True,
        ),
        Suite(
            name="sparse",
            description="the sparse-feature task (optlib.training.sparse_splits: 2,000 Zipf "
            "features, rare ones carry the signal), logistic regression, Kingma & Ba's protocol "
            "(alpha/sqrt(t), minibatches of 128), 30 epochs",
            task="sparse",
            epochs=30,
            batch_size=KINGMA_BA_BATCH_SIZE,
            seeds=(0, 1, 2, 3, 4),
            tune_seeds=(0, 1),
            optimizers=_kingma_ba_protocol(
                {
                    "adam-decayed": (0.0316, 0.1, 0.316, 1.0, 3.16),
                    "adamw-decayed": (0.0316, 0.1, 0.316, 1.0, 3.16),
                    "rmsprop-decayed": (0.01, 0.0316, 0.1, 0.316, 1.0),
                    "adagrad-constant": (0.0316, 0.1, 0.316, 1.0, 3.16),
                    "adagrad-decayed": (0.0316, 0.1, 0.316, 1.0, 3.16),
                    "nesterov-decayed": (1.0, 3.16, 10.0, 31.6, 100.0),
                }
            ),
            reference="adam-decayed",
            target_val_loss=0.15,
            stacked_tuning=True,
        ),
        Suite(
            name="cnn",
            description="a small CNN (optlib.training.models.CNN) on MNIST, constant learning "
            "rates, minibatches of 128, 10 epochs",
            task="mnist-cnn",
            epochs=10,
            batch_size=KINGMA_BA_BATCH_SIZE,
            seeds=(0, 1, 2),
            tune_seeds=(0,),
            optimizers=_practitioner_protocol(
                {
                    "adam": (0.000316, 0.001, 0.00316, 0.01),
                    "adamw": (0.000316, 0.001, 0.00316, 0.01),
                    "rmsprop": (0.0001, 0.000316, 0.001, 0.00316),
                    "adagrad": (0.00316, 0.01, 0.0316, 0.1),
                    "nesterov": (0.01, 0.0316, 0.1, 0.316),
                }
            ),
            reference="adam",
            target_val_loss=0.06,
        ),
        _mlp_suite(
            "mlp-kb",
            "mnist-mlp-kb",
            "Kingma & Ba (2015) section 6.2's network: 784-1000-1000-10 ReLU MLP on MNIST, no "
            "dropout, constant learning rates, minibatches of 128, 20 epochs",
            target=0.08,
        ),
        _mlp_suite(
            "mlp-kb-dropout",
            "mnist-mlp-kb-dropout",
            "Kingma & Ba (2015) section 6.2's network with dropout 0.5 after each hidden layer: "
            "784-1000-1000-10 ReLU MLP on MNIST, constant learning rates, minibatches of 128, "
            "20 epochs",
            target=0.08,
        ),
    )
}
"""The suites, by the name ``python -m optlib suite NAME`` takes."""


def scaled(
    suite: Suite,
    *,
    epochs: int | None = None,
    seeds: int | None = None,
    tune_seeds: int | None = None,
    subset: int | None = None,
) -> Suite:
    """``suite`` at a smaller budget (for smoke tests and a quick look): ``epochs``, the first
    ``seeds`` / ``tune_seeds`` seeds, the first ``subset`` training examples."""
    changes: dict[str, Any] = {}
    if epochs is not None:
        changes["epochs"] = epochs
    if seeds is not None:
        changes["seeds"] = tuple(range(seeds))
    if tune_seeds is not None:
        changes["tune_seeds"] = tuple(range(tune_seeds))
    if subset is not None:
        changes["subset"] = subset
    for key, value in changes.items():
        if key in ("epochs", "subset") and value < 1 or key.endswith("seeds") and not value:
            raise ValueError(f"Invalid {key}: {value!r}")
    return suite._replace(**changes)


def suite_config(suite: Suite) -> dict[str, Any]:
    """What defines a suite's runs (a resumed results file must have been made with the same):
    everything but the description and the report's target."""
    config = suite._asdict()
    for key in ("description", "target_val_loss"):
        config.pop(key)
    config["optimizers"] = [optimizer._asdict() for optimizer in suite.optimizers]
    return config


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------
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


def final_runs(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The final runs of a suite's records (not the tuning runs)."""
    return [run for run in runs if not run.run_id.startswith("tune/")]


def _tuning_id(label: str, lr: float, seed: int) -> str:
    return f"tune/{label}/lr={lr:g}/seed{seed}"


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


# --------------------------------------------------------------------------------------------
# Running a suite
# --------------------------------------------------------------------------------------------
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
    lrs = {
        optimizer.label: tune(suite, optimizer, task, store, progress=progress, log=log).best_lr
        for optimizer in suite.optimizers
    }
    log("tuned learning rates: " + ", ".join(f"{label} {lr:g}" for label, lr in lrs.items()))
    optimizers = {o.label: o for o in suite.optimizers}
    return compare(
        {label: optimizers[label].factory(lr) for label, lr in lrs.items()},
        task,
        suite.seeds,
        epochs=suite.epochs,
        batch_size=suite.batch_size,
        progress=progress,
        train_subset=suite.subset,
        store=store,
        reproduce=lambda label, seed: reproduce_args(suite, optimizers[label], lrs[label], seed),
        stored_form=lambda record: compact_record(record, role="final"),
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
    """Tune ``optimizer``'s learning rate for ``suite`` (see the module docstring), store the
    result in ``store.meta["tuning"][label]`` and return it. Runs already in ``store`` are
    reused, so a resumed suite makes the same decisions without training again."""
    stored = store.meta.get("tuning", {}).get(optimizer.label)
    if stored is not None:
        return _tuning_from_meta(stored)
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


def _tuning_from_meta(entry: dict[str, Any]) -> TuningResult:
    def floats(values: Sequence[Any]) -> tuple[float, ...]:
        return tuple(float(v) for v in values)

    return TuningResult(
        optimizer=entry["optimizer"],
        lrs=floats(entry["lrs"]),
        seeds=tuple(int(s) for s in entry["seeds"]),
        val_losses=tuple(floats(row) for row in entry["val_losses"]),
        mean_val_loss=floats(entry["mean_val_loss"]),
        std_val_loss=floats(entry["std_val_loss"]),
        best_lr=float(entry["best_lr"]),
        epochs=int(entry["epochs"]),
    )


def _score(suite: Suite, optimizer: SuiteOptimizer, store: RunStore, grid: list[float]):
    """Final validation loss of every stored tuning run (``inf`` if diverged), summarised."""
    scores = np.full((len(grid), len(suite.tune_seeds)), np.inf)
    for i, lr in enumerate(grid):
        for j, seed in enumerate(suite.tune_seeds):
            record = store.get(_tuning_id(optimizer.label, lr, seed))
            if record["status"] == "ok":
                scores[i, j] = float(record["epoch_val_loss"][-1])
    return tuning_result(optimizer.label, grid, suite.tune_seeds, scores, suite.epochs)


def _train_tuning_runs(
    suite: Suite,
    optimizer: SuiteOptimizer,
    task: Task,
    store: RunStore,
    grid: Sequence[float],
    progress: bool | None,
) -> None:
    """Train every (lr, seed) of ``grid`` x ``suite.tune_seeds`` that ``store`` lacks."""
    missing = [
        lr
        for lr in grid
        if any(_tuning_id(optimizer.label, lr, seed) not in store for seed in suite.tune_seeds)
    ]
    if not missing:
        return

    def stored_form(record: RunRecord) -> dict[str, Any]:
        return compact_record(
            record, role="tuning", stacked=suite.stacked_tuning, optimizer=optimizer.label
        )

    if not suite.stacked_tuning:
        compare(
            {f"tune/{optimizer.label}/lr={lr:g}": optimizer.factory(lr) for lr in missing},
            task,
            suite.tune_seeds,
            epochs=suite.epochs,
            batch_size=suite.batch_size,
            progress=progress,
            train_subset=suite.subset,
            eval_every_epoch=False,
            evaluate_test=False,
            store=store,
            reproduce=lambda label, seed: reproduce_args(
                suite, optimizer, float(label.rpartition("=")[2]), seed
            ),
            stored_form=stored_form,
        )
        return
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
        run_id = _tuning_id(optimizer.label, record.lr, record.seed)
        if run_id in store:
            continue
        record.optimizer, record.run_id = optimizer.label, run_id
        record.reproduce = reproduce_args(suite, optimizer, record.lr, record.seed)
        store.add(stored_form(record))


def format_tuning(result: TuningResult, extensions: Sequence[dict[str, Any]] = ()) -> str:
    """Mean ± std final validation loss per learning rate, the chosen one marked."""
    lines = [
        f"{result.optimizer}: final validation loss after {result.epochs} epochs, "
        f"{len(result.seeds)} seed(s)"
    ]
    added = {extension["lr"] for extension in extensions}
    for lr, mean, std in zip(result.lrs, result.mean_val_loss, result.std_val_loss, strict=True):
        shown = "diverged" if math.isinf(mean) else f"{mean:.4f}"
        if not (math.isinf(mean) or math.isnan(std)):
            shown += f" ± {std:.4f}"
        notes = ["<- best"] if lr == result.best_lr else []
        notes += ["(added: the best was on the edge)"] if lr in added else []
        lines.append(f"  lr={lr:<9g} {shown}  {' '.join(notes)}".rstrip())
    if result.best_on_edge:
        lines.append(
            f"  warning: the best lr is still on the grid's edge after {len(extensions)} extensions"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Reading a results file
# --------------------------------------------------------------------------------------------
class SuiteResults(NamedTuple):
    """A suite's results file, read: what chapter 4 and ``python -m optlib report`` show."""

    suite: Suite
    """The suite as defined now (:data:`SUITES`); ``tests/test_results.py`` checks that the
    file was made by this definition."""
    meta: dict[str, Any]
    """The file's ``meta``: config, provenance (command, commit, versions, CPU, threads, wall
    seconds), ``complete``, ``tuning``."""
    runs: list[RunRecord]
    """The final runs."""
    tuning: dict[str, TuningResult]
    """Per optimizer label, the tuning at the full budget (every lr tried, extensions
    included)."""

    @property
    def budget(self) -> str:
        """The budget in words, e.g. "45 epochs, 5 seeds; learning rates tuned at 45 epochs on
        2 seeds (grids of 5 values, half a decade apart)"."""
        config = self.meta["config"]
        sizes = sorted({len(o["grid"]) for o in config["optimizers"]})
        grids = " or ".join(str(size) for size in sizes)
        extended = sum(
            bool(entry.get("extended")) for entry in self.meta.get("tuning", {}).values()
        )
        note = f"; {extended} grid(s) extended at the edge" if extended else ""
        return (
            f"{config['epochs']} epochs, {len(config['seeds'])} seeds; learning rates tuned at "
            f"{config['epochs']} epochs on {len(config['tune_seeds'])} seed(s) (grids of {grids} "
            f"values, half a decade apart{note})"
        )

    def report(self) -> list[OptimizerSummary]:
        """:func:`optlib.training.report.suite_report` of the final runs: against the suite's
        reference, with its validation-loss target."""
        return suite_report(
            self.runs, reference=self.suite.reference, target=self.suite.target_val_loss
        )


def load_results(path: str | Path) -> SuiteResults:
    """Read a suite's results file (complete or not); errors name the file."""
    runs, meta = load_document(path)
    name = meta.get("config", {}).get("name")
    if name not in SUITES:
        raise ValueError(f"{path}: not a suite's results file (meta.config.name is {name!r})")
    tuning = {label: _tuning_from_meta(entry) for label, entry in meta.get("tuning", {}).items()}
    return SuiteResults(SUITES[name], meta, final_runs(runs), tuning)


def report_text(results: SuiteResults) -> str:
    """The report as text: the budget, the table (:func:`optlib.figures.suites.suite_table`),
    and how to read it."""
    from optlib.figures.suites import suite_table

    config, meta = results.meta["config"], results.meta
    if not results.runs:
        return f"{config['name']}: no final runs yet ({len(results.tuning)} optimizers tuned)"
    planned = len(config["optimizers"]) * len(config["seeds"])
    lines = [
        f"{config['name']}, batch size {config['batch_size']}: {results.budget}; each lr "
        "chosen by the mean final validation loss"
        + ("" if meta.get("complete") else f" (INCOMPLETE: {len(results.runs)} of {planned} runs)"),
        suite_table(results.report(), target=results.suite.target_val_loss).to_text(),
        "Δ: paired differences against the reference on the same seeds (diverged runs and their "
        "pairs left out); time to target: first per-epoch evaluation at or below it, training "
        "time only.",
    ]
    return "\n".join(lines)
