"""optlib: the optimizer library behind the book "Adam vs Adagrad: an executable book".

Layers, from the equations outwards (each imports only the ones above it)::

    optlib.rules        every update rule of the book as a small pure function (variants too)
    optlib.kernels      Adam's and Adagrad's rules computed in place, for speed
    optlib.optim        drop-in torch.optim optimizers built on those rules; their checks of
                        hyperparameters live in optlib.validation, their state-dict plumbing
                        in optlib.torch_state
    optlib.claims       claim(): checks an outcome of an experiment, with a stated margin;
                        glue(): hands a measured number to the prose (myst-nb)
    optlib.training     mnist (verified files) and data (splits), sparse, models, train (fit,
                        compare), tuning (tune_lr), sweep, harness, results, runstore, files,
                        report (paired differences, time to target)
    optlib.problems     toy problems and landscapes; one driver for the pure rules on NumPy
    optlib.figures      palette (colour + marker + dash per optimizer), plots, one table
                        helper; interactive/ (Plotly figures with sliders, offline)
    optlib.book         chapter-specific protocols (online regret, distributed, gradient-free,
                        the FAQ's experiments, the full-budget suites, chNN helpers)
    optlib.cli          python -m optlib: compare, suite, report, plot

``import optlib`` is light: ``optim``, ``rules``, ``training``, ``problems``, ``figures`` and
``book`` load on first use, so ``import optlib.optim`` never imports matplotlib.
``optlib.color``, ``optlib.label`` and ``optlib.use_book_style`` are shortcuts to
:mod:`optlib.figures`.
"""

import importlib
from typing import Any

from optlib.claims import ClaimError, claim, glue

__all__ = [
    "ClaimError",
    "book",
    "claim",
    "color",
    "figures",
    "glue",
    "label",
    "optim",
    "problems",
    "rules",
    "training",
    "use_book_style",
]
__version__ = "0.1.0"

_SUBPACKAGES = {"book", "figures", "kernels", "optim", "problems", "rules", "training"}
_FIGURE_SHORTCUTS = {"COLORS", "color", "label", "use_book_style"}


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"optlib.{name}")
    if name in _FIGURE_SHORTCUTS:
        return getattr(importlib.import_module("optlib.figures.style"), name)
    raise AttributeError(f"module 'optlib' has no attribute {name!r}")
