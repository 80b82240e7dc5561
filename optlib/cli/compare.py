"""``python -m optlib compare``: train optimizers on seeds under identical conditions, optionally
tuning each one's learning rate first (``--tune``), into one resumable results file.

:func:`add_parser` declares the flags; :func:`run` checks everything that can fail (output path,
every learning rate, the data) before training, stores each finished run at once, and on
SIGINT/SIGTERM prints what was saved and the command that continues (:func:`interruption_report`).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from optlib import training as train
from optlib.book.experiments import with_inverse_sqrt_decay
from optlib.cli.common import (
    PROG,
    check_learning_rates,
    continue_line,
    parse_hyperparameters,
    parse_lrs,
    positive_float,
    positive_int,
    signals_interrupt,
)
from optlib.figures import summary_table
from optlib.optim import OPTIMIZERS
from optlib.training.files import check_writable, load_checkpoint
from optlib.training.harness import OptimizerSpec, as_factory
from optlib.training.mnist import DATA_DIR_ENV
from optlib.training.models import device
from optlib.training.results import summarize
from optlib.training.runstore import RunStore

DEFAULT_LR_GRID = train.log_grid(1e-4, 1.0, per_decade=2)
DECAYS = ("constant", "inverse-sqrt")


def add_parser(commands: argparse._SubParsersAction) -> None:
    """The ``compare`` subcommand and its flags."""
    parser = commands.add_parser(
        "compare",
        help="train every optimizer on every seed and save the run records as JSON",
        description="For each seed, every optimizer starts from the same initial weights and "
        "sees the same minibatches. Prints a summary table and the wall time.",
    )
    parser.add_argument("--task", required=True, choices=train.TASKS)
    parser.add_argument(
        "--optimizers",
        nargs="+",
        required=True,
        type=str.lower,
        choices=list(OPTIMIZERS),
        metavar="NAME",
        help=f"one or more of: {', '.join(OPTIMIZERS)}",
    )
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seeds", type=positive_int, default=3, help="number of seeds: 0, ..., N-1 (default: 3)"
    )
    seeds.add_argument(
        "--seed", type=int, help="run this one seed only (what a run's 'reproduce' uses)"
    )
    parser.add_argument("--epochs", type=positive_int, default=5, help="default: 5")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="default: 64")
    parser.add_argument(
        "--lr",
        nargs="+",
        default=[],
        metavar="LR",
        help="learning rates: one number for all, or name=value pairs (default: torch's)",
    )
    parser.add_argument(
        "--tune",
        action="store_true",
        help="choose each optimizer's lr from --lr-grid by the final validation loss",
    )
    parser.add_argument(
        "--lr-grid",
        nargs="+",
        type=positive_float,
        default=list(DEFAULT_LR_GRID),
        metavar="LR",
        help="learning rates tried by --tune (default: 1e-4 to 1, two per decade)",
    )
    parser.add_argument(
        "--tune-epochs", type=positive_int, help="epochs per tuning run (default: --epochs)"
    )
    parser.add_argument(
        "--hyperparameters",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="other hyperparameters of every optimizer, e.g. momentum=0.9 nesterov=true "
        "(default: torch's)",
    )
    parser.add_argument(
        "--decay",
        choices=DECAYS,
        default="constant",
        help="step-size schedule: constant, or inverse-sqrt (lr/sqrt(t), Kingma & Ba's "
        "logistic regression; default: constant)",
    )
    parser.add_argument("--l2", type=float, default=0.0, help="L2 penalty on the weight matrices")
    parser.add_argument(
        "--subset", type=positive_int, help="train on the first N training examples"
    )
    parser.add_argument(
        "--max-steps",
        type=positive_int,
        help="stop each run (and each tuning run) after N training steps",
    )
    parser.add_argument(
        "--threads", type=positive_int, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument(
        "--data-dir",
        help=f"the folder whose mnist/ holds the MNIST files, as ${DATA_DIR_ENV} means "
        f"(searched first; then ${DATA_DIR_ENV}/mnist, then ~/.cache/optlib/mnist, then a "
        "download)",
    )
    bars = parser.add_mutually_exclusive_group()
    bars.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show progress bars (default: only in a terminal, and not when $CI is set)",
    )
    bars.add_argument("--no-progress", dest="progress", action="store_false")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results.json"),
        help="JSON file, written after every finished run (default: results.json); the run in "
        "progress checkpoints in OUT.checkpoints/",
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted --out made by the same command: its finished runs are "
        "kept, the interrupted run goes on from its checkpoint",
    )
    existing.add_argument(
        "--force", action="store_true", help="replace an existing --out (and its checkpoints)"
    )


def optimizer_specs(
    names: Sequence[str], lrs: dict[str, float], hyperparameters: dict, decay: str
) -> dict[str, OptimizerSpec]:
    """What ``compare`` trains: each optimizer with its lr, the shared hyperparameters and the
    step-size schedule."""
    specs = {name: (name, {"lr": lrs[name], **hyperparameters}) for name in names}
    if decay == "constant":
        return specs
    return {name: with_inverse_sqrt_decay(as_factory(spec)) for name, spec in specs.items()}


def reproduce_args(args: argparse.Namespace, name: str, seed: int, lr: float) -> list[str]:
    """The ``python -m optlib`` arguments (without ``--out``) that re-run one run exactly."""
    argv = ["compare", "--task", args.task, "--optimizers", name, "--seed", str(seed)]
    argv += ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--lr", repr(lr)]
    if args.hyperparameters:
        argv += ["--hyperparameters", *args.hyperparameters]
    if args.decay != "constant":
        argv += ["--decay", args.decay]
    if args.l2:
        argv += ["--l2", repr(args.l2)]
    if args.subset:
        argv += ["--subset", str(args.subset)]
    if args.max_steps:
        argv += ["--max-steps", str(args.max_steps)]
    return argv


def compare_config(args: argparse.Namespace, seeds: list[int], lrs: dict[str, float]) -> dict:
    """What defines the runs of a ``compare`` command: resuming needs the same."""
    return {
        "task": args.task,
        "optimizers": args.optimizers,
        "seeds": seeds,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lrs": None if args.tune else lrs,
        "tune": args.tune,
        "lr_grid": args.lr_grid if args.tune else None,
        "tune_epochs": (args.tune_epochs or args.epochs) if args.tune else None,
        "l2": args.l2,
        "subset": args.subset,
        "max_steps": args.max_steps,
        # only when set, so that files made before these options existed still resume
        **(
            {"hyperparameters": parse_hyperparameters(args.hyperparameters)}
            if args.hyperparameters
            else {}
        ),
        **({"decay": args.decay} if args.decay != "constant" else {}),
    }


def run(args: argparse.Namespace, argv: Sequence[str]) -> None:
    """``python -m optlib compare``: ``argv`` is the command line, stored in the file and used
    for the command that continues an interrupted run."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if len(set(args.optimizers)) != len(args.optimizers):
        raise ValueError(f"--optimizers lists a name twice: {' '.join(args.optimizers)}")
    if args.tune and args.lr:
        raise ValueError("--tune chooses the learning rates; do not combine it with --lr")
    lrs = parse_lrs(args.lr, args.optimizers)
    hyperparameters = parse_hyperparameters(args.hyperparameters)
    if args.tune and args.decay != "constant":
        raise ValueError(
            "--tune does not run step-size schedules; the suite command tunes them "
            "(python -m optlib suite --help)"
        )
    seeds = [args.seed] if args.seed is not None else list(range(args.seeds))
    # Everything that can fail is checked before training, fastest first.
    check_writable(args.out)
    RunStore.check(args.out, resume=args.resume, force=args.force)
    task = train.make_task(args.task, l2=args.l2, data_dir=args.data_dir)
    grid = {name: list(args.lr_grid) if args.tune else [lrs[name]] for name in args.optimizers}
    check_learning_rates(task, grid, hyperparameters)
    store = RunStore.open(
        args.out,
        compare_config(args, seeds, lrs),
        resume=args.resume,
        force=args.force,
        command=argv,
    )
    print(
        f"task {task.name}: {len(task.splits.train_x)} train / {len(task.splits.val_x)} val / "
        f"{len(task.splits.test_x)} test examples, model {task.model}, "
        f"device {device()}, {torch.get_num_threads()} threads; "
        f"{len(store)} of {len(seeds) * len(args.optimizers)} runs already in {args.out}",
        flush=True,
    )
    try:
        with signals_interrupt():
            tune_into(store, args, task, seeds, lrs)
            runs = train.compare(
                optimizer_specs(args.optimizers, lrs, hyperparameters, args.decay),
                task,
                seeds,
                epochs=args.epochs,
                batch_size=args.batch_size,
                progress=args.progress,
                train_subset=args.subset,
                max_steps=args.max_steps,
                store=store,
                reproduce=lambda name, seed: reproduce_args(args, name, seed, lrs[name]),
            )
    except KeyboardInterrupt as interrupt:
        signum = getattr(interrupt, "signum", signal.SIGINT)
        print(interruption_report(store, args, seeds, argv, signum), file=sys.stderr)
        raise SystemExit(128 + signum) from None
    path = store.finish()
    print(summary_table(summarize(runs)).to_text())
    for record in runs:
        if record.diverged:
            where = record.divergence or {}
            print(
                f"{record.run_id} diverged at step {where.get('step')}: {where.get('where')} is "
                f"{where.get('loss')} (kept in the file, left out of the table's means)"
            )
    print(f"{len(runs)} runs in {store.meta['wall_seconds']:.1f} s; records saved to {path}")


def tune_into(
    store: RunStore,
    args: argparse.Namespace,
    task: train.Task,
    seeds: list[int],
    lrs: dict[str, float],
) -> None:
    """With ``--tune``, set ``lrs[name]`` to each optimizer's best lr on the validation split;
    results are stored in ``meta["tuning"]`` one optimizer at a time, and reused on resume."""
    if not args.tune:
        return
    tuning = store.meta.setdefault("tuning", {})
    for name in args.optimizers:
        if name not in tuning:
            result = train.tune_lr(
                name,
                task,
                args.lr_grid,
                seeds,
                epochs=args.tune_epochs or args.epochs,
                batch_size=args.batch_size,
                hyperparameters=parse_hyperparameters(args.hyperparameters),
                progress=args.progress,
                train_subset=args.subset,
                max_steps=args.max_steps,
                stacked=True,  # all (lr, seed) runs at once
            )
            print(train.format_tuning(result), flush=True)
            store.update_meta(tuning={**tuning, name: result.to_dict()})
            tuning = store.meta["tuning"]
        lrs[name] = float(tuning[name]["best_lr"])


def interruption_report(
    store: RunStore, args: argparse.Namespace, seeds: list[int], argv: Sequence[str], signum: int
) -> str:
    """What was saved, where the interrupted run stands, and the command that continues."""
    planned = [f"{name}/seed{seed}" for seed in seeds for name in args.optimizers]
    lines = [
        f"{PROG} compare: interrupted by {signal.Signals(signum).name}. "
        f"{len(store)} of {len(planned)} runs are saved in {store.path}."
    ]
    pending = next((run_id for run_id in planned if run_id not in store), None)
    if args.tune and len(store.meta.get("tuning", {})) < len(args.optimizers):
        lines.append("Tuning was not finished: the optimizer being tuned starts its tuning over.")
    elif pending is not None:
        checkpoint = store.checkpoint_path(pending)
        try:
            step = load_checkpoint(checkpoint)["record"]["steps"]
            lines.append(
                f"The run in progress, {pending}, goes on from its checkpoint at step {step} "
                f"({checkpoint})."
            )
        except (ValueError, KeyError, TypeError):
            lines.append(
                f"The run in progress, {pending}, had no checkpoint yet (one is written after "
                "every epoch): it starts over."
            )
    lines.append(continue_line(argv))
    return "\n".join(lines)
