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

Nothing is lost: everything that can be checked is checked before training (the output path,
every learning rate against the parameters' dtype, the data); each finished run is written to
``--out`` at once (a :class:`~optlib.training.runstore.RunStore`); the run in progress
checkpoints after every epoch; Ctrl-C or SIGTERM stops with exit status 130 or 143 and prints
the command that continues (``--resume``). A run that diverges is stored with
``"status": "diverged"`` and the others go on.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shlex
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from optlib import training as train
from optlib.figures import plot_runs, summary_table
from optlib.optim import DEFAULT_LR, OPTIMIZERS, make_optimizer
from optlib.training.data import DATA_DIR_ENV, MnistError
from optlib.training.files import check_writable, load_checkpoint
from optlib.training.harness import OptimizerSpec, as_factory
from optlib.training.models import device
from optlib.training.results import load_document, summarize
from optlib.training.runstore import RunStore

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


DECAYS = ("constant", "inverse-sqrt")


def parse_hyperparameters(tokens: Sequence[str]) -> dict[str, float | bool]:
    """``KEY=VALUE`` tokens as a dict: ``true``/``false`` are booleans, anything else a number."""
    result: dict[str, float | bool] = {}
    for token in tokens:
        key, equals, text = token.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ValueError(f"Invalid --hyperparameters entry {token!r}: expected KEY=VALUE")
        if key == "lr":
            raise ValueError("--hyperparameters: set the learning rate with --lr")
        if key in result:
            raise ValueError(f"--hyperparameters sets {key!r} twice")
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            result[key] = lowered == "true"
            continue
        try:
            result[key] = float(text)
        except ValueError:
            raise ValueError(
                f"Invalid --hyperparameters entry {token!r}: {text!r} is not a number or true/false"
            ) from None
    return result


def optimizer_specs(
    names: Sequence[str], lrs: dict[str, float], hyperparameters: dict, decay: str
) -> dict[str, OptimizerSpec]:
    """What ``compare`` trains: each optimizer with its lr, the shared hyperparameters and the
    step-size schedule."""
    specs = {name: (name, {"lr": lrs[name], **hyperparameters}) for name in names}
    if decay == "constant":
        return specs
    from optlib.book.experiments import with_inverse_sqrt_decay

    return {name: with_inverse_sqrt_decay(as_factory(spec)) for name, spec in specs.items()}


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
    seeds = run.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seeds", type=positive_int, default=3, help="number of seeds: 0, ..., N-1 (default: 3)"
    )
    seeds.add_argument(
        "--seed", type=int, help="run this one seed only (what a run's 'reproduce' uses)"
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
    run.add_argument(
        "--hyperparameters",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="other hyperparameters of every optimizer, e.g. momentum=0.9 nesterov=true "
        "(default: torch's)",
    )
    run.add_argument(
        "--decay",
        choices=DECAYS,
        default="constant",
        help="step-size schedule: constant, or inverse-sqrt (lr/sqrt(t), Kingma & Ba's "
        "logistic regression; default: constant)",
    )
    run.add_argument("--l2", type=float, default=0.0, help="L2 penalty on the weight matrices")
    run.add_argument("--subset", type=positive_int, help="train on the first N training examples")
    run.add_argument(
        "--max-steps",
        type=positive_int,
        help="stop each run (and each tuning run) after N training steps",
    )
    run.add_argument(
        "--threads", type=positive_int, help="torch CPU threads (default: torch's choice)"
    )
    run.add_argument(
        "--data-dir",
        help=f"the folder whose mnist/ holds the MNIST files, as ${DATA_DIR_ENV} means "
        f"(searched first; then ${DATA_DIR_ENV}/mnist, then ~/.cache/optlib/mnist, then a "
        "download)",
    )
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
        "--out",
        type=Path,
        default=Path("results.json"),
        help="JSON file, written after every finished run (default: results.json); the run in "
        "progress checkpoints in OUT.checkpoints/",
    )
    existing = run.add_mutually_exclusive_group()
    existing.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted --out made by the same command: its finished runs are "
        "kept, the interrupted run goes on from its checkpoint",
    )
    existing.add_argument(
        "--force", action="store_true", help="replace an existing --out (and its checkpoints)"
    )

    add_suite_parsers(commands)

    plot = commands.add_parser(
        "plot", help="plot a results file: training loss and test accuracy, mean ± std"
    )
    plot.add_argument("results", type=Path)
    plot.add_argument("--out", type=Path, help="image file (default: results file with .png)")
    return parser


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during ``compare``; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` (a KeyboardInterrupt) while inside.

    Files are only ever replaced atomically, so wherever the exception lands, every stored run
    and the last checkpoint are intact."""
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def check_learning_rates(
    task: train.Task, lrs: dict[str, list[float]], hyperparameters: dict | None = None
) -> None:
    """One step of every optimizer with every learning rate it may use (and ``hyperparameters``),
    on a copy of the task's model with zero gradients, so that a value it refuses (e.g. an lr the
    parameters' dtype cannot hold, which torch.optim-style optimizers check when they step)
    stops the command before any training rather than when that optimizer's turn comes."""
    model = task.make_model(0)
    for name, values in lrs.items():
        for lr in values:
            params = [param.detach().clone().requires_grad_() for param in model.parameters()]
            for param in params:
                param.grad = torch.zeros_like(param)
            try:
                make_optimizer(name, params, lr=lr, **(hyperparameters or {})).step()
            except (ValueError, TypeError) as error:
                raise ValueError(f"{name} with lr={lr:g}: {error}") from None


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


def run_compare(args: argparse.Namespace, argv: Sequence[str]) -> None:
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
    for run in runs:
        if run.diverged:
            where = run.divergence or {}
            print(
                f"{run.run_id} diverged at step {where.get('step')}: {where.get('where')} is "
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
            print(format_tuning(result), flush=True)
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
    command = [arg for arg in argv if arg != "--force"]
    command += [] if "--resume" in command else ["--resume"]
    lines.append(f"To continue: python -m optlib {shlex.join(command)}")
    return "\n".join(lines)


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
    out = check_writable(args.out or args.results.with_suffix(".png"))
    runs, meta = load_document(args.results)
    if not runs:
        raise ValueError(f"{args.results} holds no runs")
    title = f"{meta.get('config', meta).get('task', runs[0].task)}, batch size {runs[0].batch_size}"
    fig = plot_runs(runs, title=title)
    try:
        fig.savefig(out, dpi=150)
    except ValueError as error:  # e.g. an extension matplotlib does not know
        raise ValueError(f"--out {out}: {error}") from None
    print(f"figure saved to {out}")
    diverged = [run for run in runs if run.diverged]
    if diverged:
        print(f"{len(diverged)} diverged run(s) marked with ✕, left out of the means")


PROG = "python -m optlib"


# --------------------------------------------------------------------------------------------
# Full-budget suites
# --------------------------------------------------------------------------------------------
def add_suite_parsers(commands: argparse._SubParsersAction) -> None:
    from optlib.book.suites import SUITES

    suite = commands.add_parser(
        "suite",
        help="run a full-budget suite: tune every optimizer's lr at the full budget, then "
        "compare them on several seeds",
        description="Runs one suite of optlib.book.suites into one results file: tuning runs "
        "and final runs, each stored as it finishes (resume with --resume). Prints the report "
        "(mean ± std, paired differences against Adam with 95 %% intervals, time to the "
        "validation-loss target) and the wall time. "
        + " ".join(f"{name}: {s.description}." for name, s in SUITES.items()),
    )
    suite.add_argument("name", choices=list(SUITES), metavar="NAME", help=", ".join(SUITES))
    suite.add_argument("--out", type=Path, help="results file (default: results/NAME.json)")
    existing = suite.add_mutually_exclusive_group()
    existing.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted --out made by the same command",
    )
    existing.add_argument("--force", action="store_true", help="replace an existing --out")
    suite.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch CPU threads (default: 1, so that stored runs reproduce bit for bit)",
    )
    smaller = suite.add_argument_group(
        "a smaller budget (smoke tests, a quick look; recorded in the file)"
    )
    smaller.add_argument("--epochs", type=positive_int, help="epochs of every run")
    smaller.add_argument("--seeds", type=positive_int, help="final runs on seeds 0..N-1")
    smaller.add_argument("--tune-seeds", type=positive_int, help="tuning on seeds 0..N-1")
    smaller.add_argument("--subset", type=positive_int, help="first N training examples")
    suite.add_argument(
        "--data-dir", help=f"the folder whose mnist/ holds the MNIST files, as ${DATA_DIR_ENV}"
    )
    bars = suite.add_mutually_exclusive_group()
    bars.add_argument("--progress", dest="progress", action="store_true", default=None)
    bars.add_argument("--no-progress", dest="progress", action="store_false")

    report = commands.add_parser(
        "report", help="print the report of a suite's results file (complete or not)"
    )
    report.add_argument("results", type=Path)


def run_suite_command(args: argparse.Namespace, argv: Sequence[str]) -> None:
    from optlib.book.suites import (
        SUITES,
        load_results,
        report_text,
        run_suite,
        scaled,
        suite_config,
    )

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
    n_final = sum(1 for run in store.runs if run.get("role") == "final")
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
        command = [arg for arg in argv if arg != "--force"]
        command += [] if "--resume" in command else ["--resume"]
        print(
            f"{PROG} suite: interrupted by {signal.Signals(signum).name}. {len(store)} runs are "
            f"saved in {store.path}; the run in progress goes on from its last checkpoint (a "
            f"stacked tuning sweep starts over).\nTo continue: {PROG} {shlex.join(command)}",
            file=sys.stderr,
        )
        raise SystemExit(128 + signum) from None
    store.finish()
    print(report_text(load_results(out)))
    print(f"wall time {store.meta['wall_seconds']:.0f} s; results in {out}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m optlib`` and the ``optlib`` script; returns the exit code."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    try:
        if args.command == "compare":
            run_compare(args, argv)
        elif args.command == "suite":
            run_suite_command(args, argv)
        elif args.command == "report":
            from optlib.book.suites import load_results, report_text

            print(report_text(load_results(args.results)))
        else:
            run_plot(args)
    except (ValueError, OSError, MnistError) as error:
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")
    except KeyboardInterrupt:  # before the run store exists: nothing to save
        parser.exit(130, f"{parser.prog} {args.command}: interrupted; nothing was saved\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
