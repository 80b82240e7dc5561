"""Toy problems and the driver that runs the pure rules of :mod:`optlib.rules` on them (NumPy).

* :mod:`~optlib.problems.landscapes` -- 2-D test functions (:class:`Landscape`), a 1-D double
  well and a rare-feature regression;
* :mod:`~optlib.problems.toys` -- an ellipsoid, Reddi et al.'s online counterexample, Wilson et
  al.'s least-squares classification problem;
* :mod:`~optlib.problems.driver` -- one loop (:func:`iterate`) behind :func:`run`/:func:`run_on`
  (closed loop on a function) and :func:`replay` (open loop on a recorded gradient stream), and
  :func:`tune_on`, a step size picked on a landscape; :func:`landscape_paths`, Adam and Adagrad
  over a hyperparameter grid.

Every public name is importable from here: ``from optlib.problems import run_on, saddle``.
"""

from optlib.problems.driver import (
    FIVE,
    LR_GRID,
    METHODS,
    Method,
    PathGrid,
    Search,
    Trajectory,
    Tuning,
    gaps,
    grid_search,
    in_view,
    iterate,
    landscape_paths,
    landscape_score,
    method,
    replay,
    replay_states,
    run,
    run_on,
    steps_to_tolerance,
    tail_gap,
    tune_on,
)
from optlib.problems.landscapes import (
    Curve,
    Landscape,
    SparseRegression,
    beale,
    ill_conditioned_quadratic,
    rosenbrock,
    saddle,
    sparse_regression,
    test_functions,
    tilted_double_well,
)
from optlib.problems.toys import (
    LinearProblem,
    Quadratic,
    ellipsoid,
    reddi_beta2,
    reddi_coefficients,
    reddi_stochastic_coefficients,
    wilson_problem,
    wilson_test_error,
)

__all__ = [
    "FIVE",
    "LR_GRID",
    "METHODS",
    "Curve",
    "Landscape",
    "LinearProblem",
    "Method",
    "PathGrid",
    "Quadratic",
    "Search",
    "SparseRegression",
    "Trajectory",
    "Tuning",
    "beale",
    "ellipsoid",
    "gaps",
    "grid_search",
    "ill_conditioned_quadratic",
    "in_view",
    "iterate",
    "landscape_paths",
    "landscape_score",
    "method",
    "reddi_beta2",
    "reddi_coefficients",
    "reddi_stochastic_coefficients",
    "replay",
    "replay_states",
    "rosenbrock",
    "run",
    "run_on",
    "saddle",
    "sparse_regression",
    "steps_to_tolerance",
    "tail_gap",
    "test_functions",
    "tilted_double_well",
    "tune_on",
    "wilson_problem",
    "wilson_test_error",
]
