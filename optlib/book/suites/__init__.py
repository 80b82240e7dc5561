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
   3.7x faster there), the others as the final runs are trained (one ``fit`` per run).
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

The package: :mod:`~optlib.book.suites.definitions` (the suites),
:mod:`~optlib.book.suites.runner` (the protocol above) and :mod:`~optlib.book.suites.results`
(reading a results file).
"""

from optlib.book.suites.definitions import SUITES, Suite, SuiteOptimizer, scaled, suite_config
from optlib.book.suites.results import SuiteResults, final_runs, load_results, report_text
from optlib.book.suites.runner import (
    KEPT_STEPS,
    compact_record,
    reproduce_args,
    run_suite,
    tune,
)

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
    "reproduce_args",
    "run_suite",
    "scaled",
    "suite_config",
    "tune",
]
