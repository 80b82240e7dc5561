r"""Benchmarks: how fast optlib is, compared with what a user would otherwise write.

::

    python benchmarks/bench.py            # every section, 1 and 2 threads (5 min on 2 idle cores)
    python benchmarks/bench.py --quick        # fewer steps and repeats (40 s)
    python benchmarks/bench.py --threads 2    # one thread setting only
    python benchmarks/bench.py --chapters     # also execute every chapter (pytest --nbmake), timed
    python benchmarks/bench.py --book         # also time a full `jupyter-book build` (minutes)

Sections (MNIST must be available, e.g. ``OPTLIB_DATA_DIR=/path/to/data``), one module each:

1. :mod:`training_loop`: ``optlib.training.fit`` against the source article's ``DataLoader`` loop
   and against the compute floor, on the MNIST MLP.
2. :mod:`optimizer_step`: ``optlib.optim.Adam``/``Adagrad`` ``step()`` against ``torch.optim``'s.
3. :mod:`sweeps`: ``optlib.training.sweep.sweep`` (all models at once) against one ``fit`` per
   (learning rate, seed), against ``torch.func.vmap``, and against the work no sweep can share.
4. :mod:`chapter_times`: execution time of every chapter, read from the last ``make book`` log
   (``_build/build.log``) or the built execution-times page; ``--chapters``/``--book`` measure
   afresh.

How the numbers are made honest on a shared machine: the contenders of a comparison run in
turn, A B C A B C ..., so a background job that slows one repeat slows every contender of that
repeat; each ratio is the median over repeats of that repeat's ratio (:mod:`timing`). Each
contender does the same work (same model, optimizer, number of steps and initial weights); what a
ratio means is printed next to it, with the goal and PASS or MISS. Warm-up runs come first (the
first optimizer built in a process imports ``torch._dynamo``, about a second).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from chapter_times import report_chapters
from optimizer_step import bench_optimizer_step
from sweeps import bench_sweep, best_threads_goals
from timing import Goal, load_average
from training_loop import bench_training_loop

from optlib.training import MnistError, Task, make_task

BOOK_ROOT = Path(__file__).resolve().parent.parent  # the repository: benchmarks/..


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/bench.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads")
    parser.add_argument("--chapters", action="store_true", help="time every chapter (nbmake)")
    parser.add_argument("--book", action="store_true", help="time a full jupyter-book build")
    parser.add_argument("--root", type=Path, default=BOOK_ROOT, help="the book's directory")
    parser.add_argument(
        "--only", nargs="+", choices=["loop", "step", "sweep", "chapters"],
        default=["loop", "step", "sweep", "chapters"], help="sections to run",
    )  # fmt: skip
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    steps = 100 if args.quick else 200

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, device: CPU, {load_average()}")
    goals: list[Goal] = []
    sweep_medians: dict[tuple[str, int], dict[str, float]] = {}
    sweep_targets = {"logreg": 3.0, "mlp": None}  # MLP: goal withdrawn (README)
    tasks: dict[str, Task] = {}
    if {"loop", "sweep"} & set(args.only):
        try:
            tasks = {name: make_task(name) for name in ("mnist-mlp", "mnist-logreg")}
        except MnistError as error:
            print(f"MNIST is not available, skipping the training benchmarks:\n{error}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        if "loop" in args.only and tasks:
            goals += bench_training_loop(tasks["mnist-mlp"], 2 * steps, repeats, threads)
        if "step" in args.only:
            goals += bench_optimizer_step(repeats, 0.05 if args.quick else 0.1, threads)
        if "sweep" in args.only and tasks:
            sweep_repeats = 2 if args.quick else 5
            for task in (tasks["mnist-logreg"], tasks["mnist-mlp"]):
                target = sweep_targets[task.model]
                goals += bench_sweep(task, target, steps, sweep_repeats, threads, sweep_medians)
    goals += best_threads_goals(sweep_medians, sweep_targets)
    if "chapters" in args.only:
        report_chapters(args.root, args.chapters, args.book)

    print(f"\nSummary (ratios are medians of paired repeats; {load_average()})")
    for threads in [*args.threads, 0]:
        if not any(goal.threads == threads for goal in goals):
            continue
        print(f" threads={threads}" if threads else " the best thread count for each")
        for goal in goals:
            if goal.threads == threads:
                print(goal.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
