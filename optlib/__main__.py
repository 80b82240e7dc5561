"""Command line: full-scale comparisons that are too slow for a notebook, and their figures.

Examples::

    python -m optlib compare --task mnist-mlp --optimizers adam adagrad --seeds 3 --epochs 5 \\
        --out results/mnist-mlp.json
    python -m optlib compare --task mnist-mlp --optimizers adam adagrad --lr adam=1e-3 adagrad=0.05
    python -m optlib compare --task mnist-logreg --optimizers adam adagrad --tune --out tuned.json
    python -m optlib plot results/mnist-mlp.json --out results/mnist-mlp.png

Each optimizer uses torch's default learning rate unless ``--lr`` or ``--tune`` says otherwise.
``--tune`` picks each optimizer's learning rate from ``--lr-grid`` by the mean final validation
loss over the same seeds (see :func:`optlib.training.tune_lr`; it runs with ``stacked=True``,
which trains all of an optimizer's (learning rate, seed) pairs at once); the test split is only
used by the final runs.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from optlib import training as train
from optlib.figures import plot_runs, summary_table
from optlib.optim import DEFAULT_LR, OPTIMIZERS
from optlib.training.data import MnistError
from optlib.training.models import device
from optlib.training.results import load_document, save_runs, summarize

DEFAULT_LR_GRID = train.log_grid(1e-4, 1.0, per_decade=2)


def parse_lrs(tokens: Sequence[str], optimizers: Sequence[str]) -> dict[str, float]:
    """Learning rate per optimizer from ``--lr`` tokens.

    A bare number applies to every optimizer; ``name=value`` sets one optimizer (and wins over a
    bare number). Optimizers not mentioned keep torch's default (:data:`optlib.optim.DEFAULT_LR`).
    """
    shared: float | None = None
    specific: dict[str, float] = {}
    for token in tokens:
        name, _, value = token.rpartition("=")
        name = name.strip().lower()
        try:
            lr = float(value)
        except ValueError:
            raise ValueError(
                f"Invalid --lr value {token!r}: expected a number or name=number"
            ) from None
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"Invalid learning rate in --lr {token!r}: must be positive")
        if not name:
            if shared is not None:
                raise ValueError(f"--lr got two bare learning rates: {shared:g} and {lr:g}")
            shared = lr
        elif name not in optimizers:
            raise ValueError(
                f"--lr names {name!r}, which is not among --optimizers ({', '.join(optimizers)})"
            )
        elif name in specific:
            raise ValueError(f"--lr sets {name!r} twice")
        else:
            specific[name] = lr
    return {
        name: specific.get(name, shared if shared is not None else DEFAULT_LR[name])
        for name in optimizers
    }


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m optlib",
        description="Train and compare optimizers under identical conditions; plot the results.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "compare",
        help="train every optimizer on every seed and save the run records as JSON",
        description="For each seed, every optimizer starts from the same initial weights and "
        "sees the same minibatches. Prints a summary table and the wall time.",
    )
    run.add_argument("--task", required=True, choices=train.TASKS)
    run.add_argument(
        "--optimizers",
        nargs="+",
        required=True,
        type=str.lower,
        choices=list(OPTIMIZERS),
        metavar="NAME",
        help=f"one or more of: {', '.join(OPTIMIZERS)}",
    )
    run.add_argument(
        "--seeds", type=positive_int, default=3, help="number of seeds: 0, ..., N-1 (default: 3)"
    )
    run.add_argument("--epochs", type=positive_int, default=5, help="default: 5")
    run.add_argument("--batch-size", type=positive_int, default=64, help="default: 64")
    run.add_argument(
        "--lr",
        nargs="+",
        default=[],
        metavar="LR",
        help="learning rates: one number for all, or name=value pairs (default: torch's)",
    )
    run.add_argument(
        "--tune",
        action="store_true",
        help="choose each optimizer's lr from --lr-grid by the final validation loss",
    )
    run.add_argument(
        "--lr-grid",
        nargs="+",
        type=positive_float,
        default=list(DEFAULT_LR_GRID),
        metavar="LR",
        help="learning rates tried by --tune (default: 1e-4 to 1, two per decade)",
    )
    run.add_argument(
        "--tune-epochs", type=positive_int, help="epochs per tuning run (default: --epochs)"
    )
    run.add_argument("--l2", type=float, default=0.0, help="L2 penalty on the weight matrices")
    run.add_argument("--subset", type=positive_int, help="train on the first N training examples")
    run.add_argument("--max-steps", type=positive_int, help="stop each run after N steps")
    run.add_argument(
        "--threads", type=positive_int, help="torch CPU threads (default: torch's choice)"
    )
    run.add_argument("--data-dir", help="where the MNIST files are (default: $OPTLIB_DATA_DIR)")
    bars = run.add_mutually_exclusive_group()
    bars.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show progress bars (default: only in a terminal, and not when $CI is set)",
    )
    bars.add_argument("--no-progress", dest="progress", action="store_false")
    run.add_argument(
        "--out", type=Path, default=Path("results.json"), help="JSON file (default: results.json)"
    )

    plot = commands.add_parser(
        "plot", help="plot a results file: training loss and test accuracy, mean ± std"
    )
    plot.add_argument("results", type=Path)
    plot.add_argument("--out", type=Path, help="image file (default: results file with .png)")
    return parser


def run_compare(args: argparse.Namespace, argv: Sequence[str]) -> None:
    started = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    if len(set(args.optimizers)) != len(args.optimizers):
        raise ValueError(f"--optimizers lists a name twice: {' '.join(args.optimizers)}")
    if args.tune and args.lr:
        raise ValueError("--tune chooses the learning rates; do not combine it with --lr")
    lrs = parse_lrs(args.lr, args.optimizers)
    task = train.make_task(args.task, l2=args.l2, root=args.data_dir)
    seeds = range(args.seeds)
    print(
        f"task {task.name}: {len(task.splits.train_x)} train / {len(task.splits.val_x)} val / "
        f"{len(task.splits.test_x)} test examples, model {task.model}, "
        f"device {device()}, {torch.get_num_threads()} threads",
        flush=True,
    )

    tuning = {}
    if args.tune:
        for name in args.optimizers:
            result = train.tune_lr(
                name,
                task,
                args.lr_grid,
                seeds,
                epochs=args.tune_epochs or args.epochs,
                batch_size=args.batch_size,
                progress=args.progress,
                train_subset=args.subset,
                max_steps=args.max_steps,
                stacked=True,  # all (lr, seed) runs at once
            )
            print(format_tuning(result), flush=True)
            tuning[name] = result.to_dict()
            lrs[name] = result.best_lr

    runs = train.compare(
        {name: (name, {"lr": lrs[name]}) for name in args.optimizers},
        task,
        seeds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        progress=args.progress,
        train_subset=args.subset,
        max_steps=args.max_steps,
    )
    wall_seconds = time.perf_counter() - started
    meta = {
        "argv": list(argv),
        "task": task.name,
        "epochs": args.epochs,
        "seeds": list(seeds),
        "batch_size": args.batch_size,
        "l2": args.l2,
        "tuning": tuning,
        "wall_seconds": wall_seconds,
    }
    path = save_runs(runs, args.out, meta)
    print(summary_table(summarize(runs)).to_text())
    print(f"{len(runs)} runs in {wall_seconds:.1f} s; records saved to {path}")


def format_tuning(result: train.TuningResult) -> str:
    """Mean ± std validation loss per learning rate, best one marked."""
    lines = [f"{result.optimizer}: final validation loss over {len(result.seeds)} seed(s)"]
    for lr, mean, std in zip(result.lrs, result.mean_val_loss, result.std_val_loss, strict=True):
        spread = "" if math.isnan(std) else f" ± {std:.4f}"
        mark = "  <- best" if lr == result.best_lr else ""
        shown = "diverged" if math.isinf(mean) else f"{mean:.4f}{spread}"
        lines.append(f"  lr={lr:<10g} {shown}{mark}")
    if result.best_on_edge:
        lines.append("  warning: the best lr is at the edge of the grid; consider widening it")
    return "\n".join(lines)


def run_plot(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    runs, meta = load_document(args.results)
    if not runs:
        raise ValueError(f"{args.results} holds no runs")
    title = f"{meta.get('task', runs[0].task)}, batch size {runs[0].batch_size}"
    fig = plot_runs(runs, title=title)
    out = args.out or args.results.with_suffix(".png")
    fig.savefig(out, dpi=150)
    print(f"figure saved to {out}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m optlib`` and the ``optlib`` script; returns the exit code."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    try:
        if args.command == "compare":
            run_compare(args, argv)
        else:
            run_plot(args)
    except (ValueError, FileNotFoundError, MnistError, train.DivergenceError) as error:
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
