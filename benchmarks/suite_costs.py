r"""What each full-budget suite costs on this machine, measured per step and per evaluation.

::

    OPTLIB_DATA_DIR=/path/to/data python benchmarks/suite_costs.py [--steps 30] [suite ...]

For each suite (:data:`optlib.book.suites.SUITES`) on one torch thread, as the suites run:

* one training step of the suite's model (minibatch of its batch size; forward, backward and
  Adam's step, inside :func:`optlib.training.fit`), the median over ``--steps`` steps after
  five warm-up steps;
* one evaluation of the training, validation and test splits (what ``fit`` does after every
  epoch of a final run; tuning runs skip the test split and evaluate only after the last epoch).

From these it estimates the suite's wall time without grid extensions:
``tuning runs x (epochs x epoch + evaluation) + final runs x epochs x (epoch + evaluation)``.
Suites that tune with the stacked sweep (logistic regression) are estimated as if they did not;
their measured wall time is in their results file. The load average is printed with the numbers:
on a shared machine every figure moves with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from timing import load_average

from optlib.book.suites import SUITES, Suite
from optlib.training import evaluate, make_task
from optlib.training.harness import optimizer_factory
from optlib.training.train import objective


def measure(suite: Suite, steps: int) -> dict[str, float]:
    """Seconds per training step and per evaluation of each split, for ``suite``'s model."""
    task = make_task(suite.task, l2=suite.l2)
    model = task.make_model(0)
    optimizer = optimizer_factory("adam", lr=1e-3)(model.parameters())
    x, y = task.splits.train_x, task.splits.train_y
    generator = torch.Generator().manual_seed(0)
    times = []
    for step in range(steps + 5):
        rows = torch.randint(len(x), (suite.batch_size,), generator=generator)
        started = time.perf_counter()
        loss = objective(model, task, x[rows], y[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step >= 5:
            times.append(time.perf_counter() - started)
    costs = {"step": statistics.median(times)}
    for split in ("train", "val", "test"):
        started = time.perf_counter()
        evaluate(model, getattr(task.splits, f"{split}_x"), getattr(task.splits, f"{split}_y"))
        costs[f"eval_{split}"] = time.perf_counter() - started
    costs["steps_per_epoch"] = -(-len(x) // suite.batch_size)
    return costs


def estimate(suite: Suite, costs: dict[str, float]) -> dict[str, float]:
    """Seconds of one epoch, of the tuning and of the final runs (no grid extensions)."""
    epoch = costs["steps_per_epoch"] * costs["step"]
    eval_final = costs["eval_train"] + costs["eval_val"] + costs["eval_test"]
    eval_tuning = costs["eval_train"] + costs["eval_val"]
    n_tuning = sum(len(o.grid) for o in suite.optimizers) * len(suite.tune_seeds)
    n_final = len(suite.optimizers) * len(suite.seeds)
    return {
        "epoch": epoch,
        "evaluation": eval_final,
        "tuning_runs": n_tuning,
        "tuning": n_tuning * (suite.epochs * epoch + eval_tuning),
        "final_runs": n_final,
        "final": n_final * suite.epochs * (epoch + eval_final),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", default=list(SUITES), choices=list(SUITES))
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.suites:
        suite = SUITES[name]
        load = load_average()
        costs = measure(suite, args.steps)
        total = estimate(suite, costs)
        hours = (total["tuning"] + total["final"]) / 3600
        print(
            f"{name}: {1000 * costs['step']:.1f} ms/step x {costs['steps_per_epoch']} steps = "
            f"{total['epoch']:.1f} s/epoch + {total['evaluation']:.1f} s evaluation (train "
            f"{costs['eval_train']:.1f}, val {costs['eval_val']:.1f}, test "
            f"{costs['eval_test']:.1f}); tuning {total['tuning_runs']} runs "
            f"{total['tuning'] / 3600:.1f} h + final {total['final_runs']} runs "
            f"{total['final'] / 3600:.1f} h = {hours:.1f} h estimated "
            f"({load} on {os.cpu_count()} cores)",
            flush=True,
        )


if __name__ == "__main__":
    main()
