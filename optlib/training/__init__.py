"""The training harness: MNIST and a sparse task, the models, one :func:`fit`, fair comparisons,
one :func:`tune_lr`, and run records.

* :mod:`~optlib.training.mnist` -- MNIST's files, downloaded, SHA-256 verified and cached
  (:func:`load_mnist`); :mod:`~optlib.training.data` -- train/validation/test splits
  (:func:`mnist_splits`); :mod:`~optlib.training.sparse` -- a synthetic sparse-feature task;
* :mod:`~optlib.training.models` -- the MLPs, logistic regression and the CNN
  (:func:`make_model`);
* :mod:`~optlib.training.train` -- :class:`Task`, :func:`fit` (the textbook loop),
  :func:`evaluate`, :func:`compare` (same weights, same minibatches);
  :mod:`~optlib.training.harness` -- what ``fit`` does around the loop (progress, records,
  checkpoints, divergence);
* :mod:`~optlib.training.tuning` -- :func:`tune_lr` on the validation split, :func:`format_tuning`;
  :mod:`~optlib.training.sweep` -- many (lr, seed) runs stacked into one, what ``tune_lr(...,
  stacked=True)`` uses;
* :mod:`~optlib.training.results` -- :class:`RunRecord`, JSON files, :func:`summarize`;
  :mod:`~optlib.training.runstore`, :mod:`~optlib.training.files` -- results files that never
  lose a run, verified checkpoints; :mod:`~optlib.training.report` -- paired differences.

The entry points readers use are importable from here:
``from optlib.training import make_task, fit, compare, tune_lr``.
"""

from optlib.training.data import DataSplits, mnist_splits
from optlib.training.harness import DivergenceError, optimizer_factory
from optlib.training.mnist import MnistError, load_mnist
from optlib.training.models import MLP, LogisticRegression, device, make_model
from optlib.training.results import (
    RunRecord,
    SummaryRow,
    group_by_optimizer,
    load_runs,
    save_runs,
    summarize,
    training_loss_curve,
)
from optlib.training.sparse import make_sparse_classification, sparse_splits, zipf_feature_frequency
from optlib.training.train import TASKS, Task, compare, evaluate, fit, make_task, objective
from optlib.training.tuning import TuningResult, format_tuning, log_grid, sweep_tuning, tune_lr

__all__ = [
    "MLP",
    "TASKS",
    "DataSplits",
    "DivergenceError",
    "LogisticRegression",
    "MnistError",
    "RunRecord",
    "SummaryRow",
    "Task",
    "TuningResult",
    "compare",
    "device",
    "evaluate",
    "fit",
    "format_tuning",
    "group_by_optimizer",
    "load_mnist",
    "load_runs",
    "log_grid",
    "make_model",
    "make_sparse_classification",
    "make_task",
    "mnist_splits",
    "objective",
    "optimizer_factory",
    "save_runs",
    "sparse_splits",
    "summarize",
    "sweep_tuning",
    "training_loss_curve",
    "tune_lr",
    "zipf_feature_frequency",
]
