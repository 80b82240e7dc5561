"""``python -m optlib suite``: run one full-budget suite of :data:`optlib.book.suites.SUITES`
(tuning at the full budget, then the final runs) into one resumable results file, then print its
report. The suites themselves, and the report, live in :mod:`optlib.book.suites`."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from optlib import training as train
from optlib.book.suites import SUITES, load_results, report_text, run_suite, scaled, suite_config
from optlib.cli.common import (
    PROG,
    check_learning_rates,
    continue_line,
    positive_int,
    signals_interrupt,
)
from optlib.training.files import check_writable
from optlib.training.mnist import DATA_DIR_ENV
from optlib.training.runstore import RunStore


def add_parser(commands: argparse._SubParsersAction) -> None:
    """The ``suite`` subcommand and its flags."""
    parser = commands.add_parser(
        "suite",
        help="run a full-budget suite: tune every optimizer's lr at the full budget, then "
        "compare them on several seeds",
        description="Runs one suite of optlib.book.suites into one results file: tuning runs "
        "and final runs, each stored as it finishes (resume with --resume). Prints the report "
        "(mean ± std, paired differences against Adam with 95 %% intervals, time to the "
        "validation-loss target) and the wall time. "
        + " ".join(f"{name}: {s.description}." for name, s in SUITES.items()),
    )
    parser.add_argument("name", choices=list(SUITES), metavar="NAME", help=", ".join(SUITES))
    parser.add_argument("--out", type=Path, help="results file (default: results/NAME.json)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted --out made by the same command",
    )
    existing.add_argument("--force", action="store_true", help="replace an existing --out")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch CPU threads (default: 1, so that stored runs reproduce bit for bit)",
    )
    smaller = parser.add_argument_group(
        "a smaller budget (smoke tests, a quick look; recorded in the file)"
    )
    smaller.add_argument("--epochs", type=positive_int, help="epochs of every run")
    smaller.add_argument("--seeds", type=positive_int, help="final runs on seeds 0..N-1")
    smaller.add_argument("--tune-seeds", type=positive_int, help="tuning on seeds 0..N-1")
    smaller.add_argument("--subset", type=positive_int, help="first N training examples")
    parser.add_argument(
        "--data-dir", help=f"the folder whose mnist/ holds the MNIST files, as ${DATA_DIR_ENV}"
    )
    bars = parser.add_mutually_exclusive_group()
    bars.add_argument("--progress", dest="progress", action="store_true", default=None)
    bars.add_argument("--no-progress", dest="progress", action="store_false")


def run(args: argparse.Namespace, argv: Sequence[str]) -> None:
    """``python -m optlib suite``; ``argv`` as for :func:`optlib.cli.compare.run`."""
    torch.set_num_threads(args.threads)
    suite = scaled(
        SUITES[args.name],
        epochs=args.epochs,
        seeds=args.seeds,
        tune_seeds=args.tune_seeds,
        subset=args.subset,
    )
    out = args.out or Path("results") / f"{suite.name}.json"
    check_writable(out)
    RunStore.check(out, resume=args.resume, force=args.force)
    task = train.make_task(suite.task, l2=suite.l2, data_dir=args.data_dir)
    for optimizer in suite.optimizers:
        check_learning_rates(
            task, {optimizer.name: list(optimizer.grid)}, optimizer.hyperparameters
        )
    store = RunStore.open(
        out, suite_config(suite), resume=args.resume, force=args.force, command=argv
    )
    n_planned = len(suite.optimizers) * len(suite.seeds)
    n_final = sum(1 for record in store.runs if record.get("role") == "final")
    print(
        f"suite {suite.name}: {suite.description}; {torch.get_num_threads()} thread(s); "
        f"{len(store)} runs already in {out} ({n_final} of {n_planned} final runs)",
        flush=True,
    )
    try:
        with signals_interrupt():
            run_suite(suite, store, task=task, progress=args.progress)
    except KeyboardInterrupt as interrupt:
        signum = getattr(interrupt, "signum", signal.SIGINT)
        print(
            f"{PROG} suite: interrupted by {signal.Signals(signum).name}. {len(store)} runs are "
            f"saved in {store.path}; the run in progress goes on from its last checkpoint (a "
            f"stacked tuning sweep starts over).\n{continue_line(argv)}",
            file=sys.stderr,
        )
        raise SystemExit(128 + signum) from None
    store.finish()
    print(report_text(load_results(out)))
    print(f"wall time {store.meta['wall_seconds']:.0f} s; results in {out}")
