"""Command line: full-scale comparisons that are too slow for a notebook, and their figures.

Examples::

    python -m optlib compare --task mnist-mlp --optimizers adam adagrad --seeds 3 --epochs 5 \\
        --out results/mnist-mlp.json
    python -m optlib compare --task mnist-mlp --optimizers adam adagrad --lr adam=1e-3 adagrad=0.05
    python -m optlib compare --task mnist-logreg --optimizers adam adagrad --tune --out tuned.json
    python -m optlib compare ... --out results/mnist-mlp.json --resume   # after Ctrl-C or a kill
    python -m optlib compare --task mnist-logreg --optimizers sgd --lr 3.16 --l2 1e-4 \\
        --hyperparameters momentum=0.9 nesterov=true --decay inverse-sqrt --batch-size 128
    python -m optlib plot results/mnist-mlp.json --out results/mnist-mlp.png
    python -m optlib suite kb-logreg --out results/kb-logreg.json     # a full-budget suite
    python -m optlib report results/kb-logreg.json                    # its report

Each optimizer uses torch's default learning rate unless ``--lr`` or ``--tune`` says otherwise,
and torch's defaults for the rest unless ``--hyperparameters`` sets them; ``--decay
inverse-sqrt`` makes the step size lr/sqrt(t)
(:func:`optlib.book.experiments.with_inverse_sqrt_decay`).
``suite`` runs one of :data:`optlib.book.suites.SUITES` (tuning at the full budget, then the
final runs, all in one resumable results file); ``report`` prints a suite file's report.
``--tune`` picks each optimizer's learning rate from ``--lr-grid`` by the mean final validation
loss over the same seeds (see :func:`optlib.training.tune_lr`; it runs with ``stacked=True``,
which trains all of an optimizer's (learning rate, seed) pairs at once); the test split is only
used by the final runs.

One module per subcommand (:mod:`optlib.cli.compare`, :mod:`optlib.cli.suite`,
:mod:`optlib.cli.report` for ``report`` and ``plot``) declares its flags and runs it;
:mod:`optlib.cli.common` holds what they share.

Nothing is lost: everything that can be checked is checked before training (the output path,
every learning rate against the parameters' dtype, the data); each finished run is written to
``--out`` at once (a :class:`~optlib.training.runstore.RunStore`); the run in progress
checkpoints after every epoch; Ctrl-C or SIGTERM stops with exit status 130 or 143 and prints
the command that continues (``--resume``). A run that diverges is stored with
``"status": "diverged"`` and the others go on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from optlib.cli import compare, report, suite
from optlib.cli.common import PROG
from optlib.training.mnist import MnistError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train and compare optimizers under identical conditions; plot the results.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compare.add_parser(commands)
    suite.add_parser(commands)
    report.add_parsers(commands)  # report, plot
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m optlib`` and the ``optlib`` script; returns the exit code."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    try:
        if args.command == "compare":
            compare.run(args, argv)
        elif args.command == "suite":
            suite.run(args, argv)
        elif args.command == "report":
            report.run_report(args)
        else:
            report.run_plot(args)
    except (ValueError, OSError, MnistError) as error:
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")
    except KeyboardInterrupt:  # before the run store exists: nothing to save
        parser.exit(130, f"{parser.prog} {args.command}: interrupted; nothing was saved\n")
    return 0
