r"""Benchmarks: how fast optlib is, compared with what a user would otherwise write.

::

    python benchmarks/bench.py            # every section, 1 and 2 threads (5 min on 2 idle cores)
    python benchmarks/bench.py --quick        # fewer steps and repeats (40 s)
    python benchmarks/bench.py --threads 2    # one thread setting only
    python benchmarks/bench.py --chapters     # also execute every chapter (pytest --nbmake), timed
    python benchmarks/bench.py --book         # also time a full `jupyter-book build` (minutes)

Sections (MNIST must be available, e.g. ``OPTLIB_DATA_DIR=/path/to/data``):

1. **Training loop** on the MNIST MLP, batch 64, with optlib's Adam: :func:`optlib.training.fit`
   against the source article's loop (a ``Dataset`` whose ``__getitem__`` returns one example,
   wrapped in ``DataLoader(batch_size=64, shuffle=True)``) and against the compute floor
   (minibatches cut before the clock starts; forward, backward and step only).
2. **Optimizer step**: ``optlib.optim.Adam``/``Adagrad`` ``step()`` against ``torch.optim``'s
   default implementation (on the CPU: one tensor at a time), on the MNIST MLP (4 tensors) and
   on a deep narrow MLP (100 tensors).
3. **Learning-rate sweep**: :func:`optlib.training.sweep.sweep` (all models at once) against one
   :func:`~optlib.training.fit` per (learning rate, seed), and against the generic design,
   ``torch.func.vmap`` over ``functional_call`` with the pure rule broadcasting over the model
   axis (:func:`vmap_training_seconds`). Also timed: the work no sweep can share
   (:func:`sweep_floor_seconds`), which bounds what any sweep could gain, and, when several
   thread counts ran, each contender at its fastest setting (:func:`best_threads_goals`).
4. **Chapters**: execution time of every chapter, read from the last ``make book`` log
   (``_build/build.log``) or the built execution-times page; ``--chapters``/``--book`` measure
   afresh.

How the numbers are made honest on a shared machine: the contenders of a comparison run in
turn, A B C A B C ..., so a background job that slows one repeat slows every contender of that
repeat; each ratio is the median over repeats of that repeat's ratio. Each contender does the
same work (same model, optimizer, number of steps and initial weights); what a ratio means is
printed next to it, with the goal and PASS or MISS. Warm-up runs come first (the first
optimizer built in a process imports ``torch._dynamo``, about a second).
"""

from __future__ import annotations

import argparse
import copy
import html
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from optlib import optim, rules
from optlib.training import harness, sweep
from optlib.training import train as train
from optlib.training.mnist import MnistError
from optlib.training.models import make_model

BOOK_ROOT = Path(__file__).resolve().parent.parent  # the repository: benchmarks/..
CHAPTER_LINE = re.compile(r"([^/\s]+\.ipynb): Executed notebook in ([0-9.]+) seconds")


class Goal(NamedTuple):
    """A measured ratio and the goal it is held to."""

    name: str
    ratio: float
    target: float
    at_least: bool
    """``True``: the goal is ``ratio >= target``; ``False``: ``ratio <= target``."""
    threads: int

    @property
    def met(self) -> bool:
        return self.ratio >= self.target if self.at_least else self.ratio <= self.target

    def line(self) -> str:
        sign = ">=" if self.at_least else "<="
        mark = "PASS" if self.met else "MISS"
        return f"  {self.name:<58} {self.ratio:6.2f}x   goal {sign} {self.target:.2f}x   {mark}"


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------
def alternate(
    candidates: Mapping[str, Callable[[], float]], repeats: int
) -> dict[str, list[float]]:
    """Run each candidate once per repeat, in turn; each call returns the seconds it measured."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            times[name].append(run())
    return times


def paired_ratio(times: Mapping[str, list[float]], numerator: str, denominator: str) -> float:
    """Median over repeats of ``times[numerator][i] / times[denominator][i]``."""
    return statistics.median(
        a / b for a, b in zip(times[numerator], times[denominator], strict=True)
    )


def timed(function: Callable[[], object]) -> float:
    """Seconds one call of ``function`` takes."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def load_average() -> str:
    """The machine's 1-minute load average: above the number of CPUs, timings are inflated."""
    try:
        return f"load average {os.getloadavg()[0]:.1f}"
    except OSError:  # not available on this platform
        return "load average unknown"


def print_table(times: Mapping[str, list[float]], unit: str, scale: float) -> None:
    """Median and best time of every candidate, ``scale`` converting seconds to ``unit``."""
    for name, values in times.items():
        median, best = statistics.median(values) * scale, min(values) * scale
        print(f"  {name:<58} {median:9.3f} {unit} (best {best:.3f})")


# --------------------------------------------------------------------------------------------
# 1. Training loop
# --------------------------------------------------------------------------------------------
class ArticleMNIST(torch.utils.data.Dataset):
    """The source article's dataset class, verbatim: one example per ``__getitem__``."""

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    def __len__(self):
        return len(self.x)


def bench_training_loop(task: train.Task, steps: int, repeats: int, threads: int) -> list[Goal]:
    """optlib's ``fit`` against the source article's loop and the bare compute floor."""
    n_train = steps * 64
    train_x, train_y = task.splits.train_x[:n_train], task.splits.train_y[:n_train]

    def fit_loop() -> float:
        model = task.make_model(0)
        record = train.fit(
            model,
            optim.Adam(model.parameters()),
            task,
            epochs=1,
            batch_size=64,
            seed=0,
            train_subset=n_train,
            eval_every_epoch=False,
            evaluate_test=False,
            progress=False,
        )
        return sum(record.epoch_seconds)  # the training steps only, not the final evaluation

    def article_loop() -> float:
        model = task.make_model(0)
        optimizer = optim.Adam(model.parameters())
        loader = torch.utils.data.DataLoader(
            ArticleMNIST(train_x, train_y), batch_size=64, shuffle=True
        )
        started = time.perf_counter()
        for batch_x, batch_y in loader:
            output = model(batch_x)
            loss = torch.nn.CrossEntropyLoss()(output, batch_y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return time.perf_counter() - started

    def floor_loop() -> float:
        model = task.make_model(0)
        optimizer = optim.Adam(model.parameters())
        order = torch.randperm(n_train, generator=torch.Generator().manual_seed(0))
        batches = [(train_x[rows], train_y[rows]) for rows in order.split(64)]
        started = time.perf_counter()
        for batch_x, batch_y in batches:
            loss = F.cross_entropy(model(batch_x), batch_y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return time.perf_counter() - started

    candidates = {
        "optlib fit": fit_loop,
        "source article: Dataset + DataLoader(shuffle=True)": article_loop,
        "floor: pre-cut batches, forward+backward+step": floor_loop,
    }
    alternate(candidates, 1)  # warm-up
    times = alternate(candidates, repeats)
    print(f"\n1. Training loop: MNIST MLP, batch 64, optlib Adam, {steps} steps, threads={threads}")
    print_table({name: [t / steps for t in ts] for name, ts in times.items()}, "ms/step", 1e3)
    names = list(candidates)
    goals = [
        Goal("fit throughput / source article loop's", paired_ratio(times, names[1], names[0]),
             1.2, True, threads),
        Goal("fit throughput / compute floor's", paired_ratio(times, names[2], names[0]),
             0.9, True, threads),
    ]  # fmt: skip
    for goal in goals:
        print(goal.line())
    return goals


# --------------------------------------------------------------------------------------------
# 2. Optimizer step
# --------------------------------------------------------------------------------------------
def deep_mlp_parameters() -> list[nn.Parameter]:
    """100 parameter tensors: 50 layers ``Linear(64, 64)`` (208,000 numbers)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return list(nn.Sequential(*[nn.Linear(64, 64) for _ in range(50)]).parameters())


def mnist_mlp_parameters() -> list[nn.Parameter]:
    """The MNIST MLP's 4 parameter tensors (101,770 numbers)."""
    return list(make_model("mlp", seed=0).parameters())


def step_timer(optimizer_class, params: Sequence[nn.Parameter], seconds: float, **options):
    """A function timing ``step()`` of a fresh optimizer on copies of ``params``: the mean over
    as many steps as take about ``seconds``."""
    params = [nn.Parameter(p.detach().clone()) for p in params]
    generator = torch.Generator().manual_seed(1)
    for param in params:
        param.grad = torch.randn(param.shape, generator=generator)
    optimizer = optimizer_class(params, lr=1e-3, **options)
    for _ in range(3):  # create the state
        optimizer.step()
    number = max(5, round(seconds / timed(optimizer.step)))

    def run() -> float:
        started = time.perf_counter()
        for _ in range(number):
            optimizer.step()
        return (time.perf_counter() - started) / number

    return run


def bench_optimizer_step(repeats: int, seconds: float, threads: int) -> list[Goal]:
    """optlib's ``step()`` against ``torch.optim``'s default, for Adam and Adagrad."""
    models = {
        "MNIST MLP (4 tensors)": mnist_mlp_parameters(),
        "deep MLP (100 tensors)": deep_mlp_parameters(),
    }
    pairs = {
        "Adam": (optim.Adam, torch.optim.Adam),
        "Adagrad": (optim.Adagrad, torch.optim.Adagrad),
    }
    goals = []
    print(f"\n2. Optimizer step() time, threads={threads}")
    for model_name, params in models.items():
        for name, (ours, theirs) in pairs.items():
            candidates = {
                f"optlib.optim.{name} (default: in-place kernels)": step_timer(
                    ours, params, seconds
                ),
                f"optlib.optim.{name}(foreach=False)": step_timer(
                    ours, params, seconds, foreach=False
                ),
                f"torch.optim.{name} (default: single-tensor)": step_timer(theirs, params, seconds),
                f"torch.optim.{name}(foreach=True)": step_timer(
                    theirs, params, seconds, foreach=True
                ),
            }
            times = alternate(candidates, repeats)
            print(f" {model_name}, {name}:")
            print_table(times, "us/step", 1e6)
            names = list(candidates)
            goal = Goal(
                f"{name} step time / torch.optim's, {model_name}",
                paired_ratio(times, names[0], names[2]),
                1.1,
                False,
                threads,
            )
            print(goal.line())
            goals.append(goal)
    return goals


# --------------------------------------------------------------------------------------------
# 3. Learning-rate sweep
# --------------------------------------------------------------------------------------------
def vmap_training_seconds(
    task: train.Task, lrs: Sequence[float], seeds: Sequence[int], n_train: int
) -> tuple[float, dict[str, torch.Tensor]]:
    """The generic design, timed: ``torch.func.vmap`` over ``functional_call`` with stacked
    parameters, and the pure rule :func:`optlib.rules.adam_update` broadcasting a learning rate
    of shape ``(K, 1, ..., 1)`` over the model axis. One epoch of ``n_train`` examples, batch 64,
    the same minibatches as :func:`optlib.training.sweep.sweep`. Returns the seconds of the training
    steps and the final weights, stacked ``(K, ...)`` with model ``i * len(seeds) + j`` trained
    with ``lrs[i]`` from seed ``seeds[j]`` (``tests/test_bench.py`` checks they are the sweep's).
    (A contender only: :func:`optlib.training.sweep.sweep` is what the book uses.)"""
    from torch.func import functional_call, grad_and_value, vmap

    model = task.make_model(seeds[0])
    dtype = task.splits.train_x.dtype
    pairs = [(lr, seed) for lr in lrs for seed in seeds]
    initial = {seed: dict(task.make_model(seed).named_parameters()) for seed in seeds}
    params = {
        name: torch.stack([initial[seed][name].detach() for _, seed in pairs]).to(dtype)
        for name, _ in model.named_parameters()
    }
    lr_by_model = torch.tensor([lr for lr, _ in pairs], dtype=dtype)
    states = {name: rules.adam_init(p) for name, p in params.items()}
    lr_shaped = {name: lr_by_model.view(-1, *[1] * (p.dim() - 1)) for name, p in params.items()}

    def loss(model_params, x, y):
        return F.cross_entropy(functional_call(model, model_params, (x,)), y)

    gradients = vmap(grad_and_value(loss))
    train_x, train_y = task.splits.train_x[:n_train], task.splits.train_y[:n_train]
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    orders = torch.stack([harness.epoch_order(n_train, g) for g in generators])
    seed_of_model = torch.tensor([seeds.index(seed) for _, seed in pairs])
    started = time.perf_counter()
    for rows in orders.split(64, dim=1):
        rows = rows[seed_of_model]  # (K, B): each model its seed's minibatch
        grads, _ = gradients(params, train_x[rows], train_y[rows])
        for name in params:
            delta, states[name] = rules.adam_update(
                grads[name], states[name], params[name], lr=lr_shaped[name]
            )
            params[name] = params[name] + delta
    return time.perf_counter() - started, params


def matrix_products(
    x: torch.Tensor, weights: Sequence[torch.Tensor], output_grads: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """The matrix products of one sweep step, without anything around them.

    ``x`` is ``(S, B, in)``, one minibatch per seed; ``weights`` are the stacked weight matrices
    ``(S, L, out, in)``, input layer first; ``output_grads[k]`` is the gradient of the loss with
    respect to layer ``k``'s output, ``(S, B, L * out)`` for the first layer (the layout of its
    wide product) and ``(S * L, B, out)`` for the others. Returns, layer by layer, the output
    (without bias), the weight gradient and, above the first layer, the gradient for the layer
    below: every product :func:`optlib.training.sweep.sweep`'s forward and backward pass computes
    (``tests/test_bench.py`` checks them against autograd). Layer inputs above the first are
    the output gradients' shape: the arithmetic, not the values, is what is timed.
    """
    n_seeds, n_lrs = weights[0].shape[:2]
    first = weights[0].reshape(n_seeds, -1, weights[0].shape[-1])  # (S, L * out, in)
    products = []
    for x_s, w_s, grad_s in zip(x, first, output_grads[0], strict=True):
        products += [x_s @ w_s.T, grad_s.T @ x_s]  # one wide product per seed, and its gradient
    inputs = products[0].new_ones(n_seeds * n_lrs, x.shape[1], first.shape[1] // n_lrs)
    for weight, grad in zip(weights[1:], output_grads[1:], strict=True):
        w = weight.reshape(n_seeds * n_lrs, *weight.shape[2:])  # (S * L, out, in)
        products += [inputs @ w.transpose(1, 2), grad.transpose(1, 2) @ inputs, grad @ w]
        inputs = products[-3]
    return products


def sweep_floor_seconds(
    task: train.Task, lrs: Sequence[float], seeds: Sequence[int], steps: int
) -> float:
    """Seconds of the work a sweep of ``len(lrs) x len(seeds)`` models cannot share, for
    ``steps`` steps of batch 64: the matrix products (:func:`matrix_products`) and one step of
    optlib's Adam over all the models' weights, as :func:`optlib.training.sweep.sweep` runs it.
    Left out: gathering minibatches, biases, activations, the loss and autograd's bookkeeping. So
    (sequential fits' time) / (this) bounds what any sweep with these products and this
    optimizer can gain; the products already run at the machine's matrix-multiply speed."""
    n_seeds, n_lrs = len(seeds), len(lrs)
    model = task.make_model(seeds[0])
    params = {
        name: p.detach().expand(n_seeds, n_lrs, *p.shape).clone()
        for name, p in model.named_parameters()
    }
    weights = [p for p in params.values() if p.dim() == 4]
    x = task.splits.train_x[: n_seeds * 64].view(n_seeds, 64, -1)
    output_grads = [torch.randn(n_seeds, 64, n_lrs * weights[0].shape[2])]
    output_grads += [torch.randn(n_seeds * n_lrs, 64, w.shape[2]) for w in weights[1:]]
    grads = {name: 1e-3 * torch.randn_like(p) for name, p in params.items()}
    optimizer = sweep.StackedOptimizer("adam", {}, params, lrs)
    started = time.perf_counter()
    for _ in range(steps):
        matrix_products(x, weights, output_grads)
        optimizer.step(grads)
    return time.perf_counter() - started


def bench_sweep(
    task: train.Task,
    target: float,
    steps: int,
    repeats: int,
    threads: int,
    medians: dict[tuple[str, int], dict[str, float]],
) -> list[Goal]:
    """All (lr, seed) models at once against one ``fit`` each; also checks that they agree.
    Stores the median training seconds of each contender in ``medians[(model, threads)]``."""
    lrs, seeds = (3e-4, 1e-3, 3e-3, 1e-2), (0, 1, 2)
    n_train = steps * 64
    training: dict[str, list[float]] = {"sequential": [], "sweep": [], "vmap": [], "floor": []}
    val_losses: dict[str, list[float]] = {}

    def sequential() -> float:
        started = time.perf_counter()
        records = []
        for seed in seeds:
            initial = task.make_model(seed)
            for lr in lrs:
                model = copy.deepcopy(initial)
                records.append(
                    train.fit(
                        model, optim.Adam(model.parameters(), lr=lr), task, epochs=1, seed=seed,
                        train_subset=n_train, eval_every_epoch=False, evaluate_test=False,
                        progress=False,
                    )
                )  # fmt: skip
        total = time.perf_counter() - started
        training["sequential"].append(sum(sum(r.epoch_seconds) for r in records))
        val_losses["sequential"] = [r.epoch_val_loss[-1] for r in records]
        return total

    def vectorized() -> float:
        started = time.perf_counter()
        result = sweep.sweep(
            task, "adam", lrs, seeds, epochs=1, train_subset=n_train,
            eval_every_epoch=False, evaluate_test=False,
        )  # fmt: skip
        total = time.perf_counter() - started
        # Each record holds its share of the shared wall time: the sum is the whole.
        training["sweep"].append(sum(sum(r.epoch_seconds) for r in result.records))
        val_losses["sweep"] = [result.record(lr, s).epoch_val_loss[-1] for s in seeds for lr in lrs]
        return total

    def with_vmap() -> float:
        training["vmap"].append(vmap_training_seconds(task, lrs, seeds, n_train)[0])
        return training["vmap"][-1]

    def floor() -> float:
        training["floor"].append(sweep_floor_seconds(task, lrs, seeds, steps))
        return training["floor"][-1]

    candidates = {"sequential": sequential, "sweep": vectorized, "vmap": with_vmap, "floor": floor}
    alternate(candidates, 1)  # warm-up
    for seconds in training.values():
        seconds.clear()
    totals = alternate(candidates, repeats)
    differences = zip(val_losses["sequential"], val_losses["sweep"], strict=True)
    agreement = max(abs(a - b) for a, b in differences)
    n_models = len(lrs) * len(seeds)
    print(
        f"\n3. Learning-rate sweep: {task.name}, Adam, {len(lrs)} lrs x {len(seeds)} seeds, "
        f"{steps} steps each, then a train/val evaluation; threads={threads}"
    )
    labels = {
        "sequential": f"{n_models} x fit, one after another",
        "sweep": "optlib.training.sweep.sweep",
        "vmap": "torch.func.vmap + pure rule (contender)",
        "floor": "what no sweep can share (products + update)",
    }
    print_table({f"{labels[k]}: training steps": v for k, v in training.items()}, "s", 1.0)
    del totals["vmap"], totals["floor"]  # they train only: no evaluation to compare
    print_table({f"{labels[k]}: in all": v for k, v in totals.items()}, "s", 1.0)
    vmap_ratio = paired_ratio(training, "sequential", "vmap")
    print(f"  torch.func.vmap + pure rule, speed-up over sequential fits: {vmap_ratio:.2f}x")
    bound = paired_ratio(training, "sequential", "floor")
    print(f"  the most any such sweep could gain (sequential / what it cannot share): {bound:.2f}x")
    print(f"  largest difference in final validation loss (float32): {agreement:.1e}")
    medians[(task.model, threads)] = {k: statistics.median(v) for k, v in training.items()}
    end_to_end = paired_ratio(totals, "sequential", "sweep")
    print(f"  speed-up in all, evaluation and set-up included: {end_to_end:.2f}x")
    goal = Goal(
        f"sweep speed-up over sequential fits (training), {task.model}",
        paired_ratio(training, "sequential", "sweep"),
        target,
        True,
        threads,
    )
    print(goal.line())
    return [goal]


def best_threads_goals(
    medians: Mapping[tuple[str, int], Mapping[str, float]], targets: Mapping[str, float]
) -> list[Goal]:
    """The sweep at its fastest thread count against sequential fits at theirs.

    With two threads on two cores a sequential fit of a small model can be *slower* than with
    one (the second thread mostly waits), which flatters a same-thread-count ratio. A user who
    picks the best setting for each gets this ratio of median times (a ratio of medians, not a
    paired median: the two may come from different thread counts). ``medians`` is what
    :func:`bench_sweep` stores; a model measured at fewer than two thread counts is skipped.
    Their :attr:`Goal.threads` is 0.
    """
    goals = []
    for model, target in targets.items():
        by_threads = {t: times for (name, t), times in medians.items() if name == model}
        if len(by_threads) < 2:
            continue
        sequential = min(by_threads, key=lambda t: by_threads[t]["sequential"])
        swept = min(by_threads, key=lambda t: by_threads[t]["sweep"])
        ratio = by_threads[sequential]["sequential"] / by_threads[swept]["sweep"]
        name = f"sweep ({swept} thr) / sequential fits ({sequential} thr), {model}"
        goals.append(Goal(name, ratio, target, True, 0))
    return goals


# --------------------------------------------------------------------------------------------
# 4. Chapters
# --------------------------------------------------------------------------------------------
def chapter_times_from_log(text: str) -> dict[str, float]:
    """Chapter execution times from a jupyter-book log (myst-nb's "Executed notebook" lines)."""
    return {name: float(seconds) for name, seconds in CHAPTER_LINE.findall(text)}


def chapter_times_from_html(text: str) -> dict[str, float]:
    """Chapter execution times from the built ``execution_times.html`` (myst-nb's table)."""
    times = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", text, flags=re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(
            r"<td[^>]*>(.*?)</td>", row, flags=re.S)]  # fmt: skip
        if len(cells) >= 4:
            try:
                times[Path(cells[0]).name + ".ipynb"] = float(cells[3])
            except ValueError:
                continue
    return times


CHAPTER_BUDGET_SECONDS = 90.0
BOOK_BUDGET_SECONDS = 360.0


def print_chapter_times(times: Mapping[str, float], source: str, total: float | None) -> None:
    """Each chapter's time against its 90 s budget, and the sum against the book's 6 min."""
    print(f"\n4. Chapter execution times ({source})")
    for name, seconds in sorted(times.items()):
        verdict = "over the 90 s budget" if seconds > CHAPTER_BUDGET_SECONDS else ""
        print(f"  {name:<58} {seconds:8.1f} s   {verdict}")
    book = sum(times.values())
    verdict = "over the 6 min budget" if book > BOOK_BUDGET_SECONDS else ""
    print(f"  {'sum of the chapters':<58} {book:8.1f} s   {verdict}")
    if total is not None:
        print(f"  {'whole book build, wall time':<58} {total:8.1f} s")


def time_chapters_with_nbmake(root: Path) -> dict[str, float]:
    """Execute each chapter in a fresh kernel with ``pytest --nbmake``; wall time per chapter."""
    times = {}
    for notebook in sorted((root / "chapters").glob("*.ipynb")):
        command = [sys.executable, "-m", "pytest", "-q", "--nbmake", str(notebook)]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=root, capture_output=True, text=True)
        times[notebook.name] = time.perf_counter() - started
        if result.returncode != 0:
            print(f"  {notebook.name} FAILED:\n{result.stdout[-2000:]}")
    return times


def time_book_build(root: Path) -> tuple[dict[str, float], float]:
    """A full ``jupyter-book build`` into a temporary directory: chapter times and wall time."""
    executable = Path(sys.executable).with_name("jupyter-book")
    with tempfile.TemporaryDirectory() as output:
        command = [str(executable), "build", str(root), "--path-output", output, "--all"]
        environment = {**os.environ, "OPTLIB_PROGRESS": "0"}
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=environment)
        total = time.perf_counter() - started
    if result.returncode != 0:
        print(f"  the book build failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return chapter_times_from_log(result.stdout + result.stderr), total


def report_chapters(root: Path, nbmake: bool, book: bool) -> None:
    if book:
        times, total = time_book_build(root)
        print_chapter_times(times, "measured now: jupyter-book build --all", total)
    if nbmake:
        source = "measured now: pytest --nbmake, each including pytest's and the kernel's start"
        print_chapter_times(time_chapters_with_nbmake(root), source, None)
    if book or nbmake:
        return
    log, page = root / "_build" / "build.log", root / "_build" / "html" / "execution_times.html"
    if log.is_file() and chapter_times_from_log(log.read_text(errors="replace")):
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(log.stat().st_mtime))
        times = chapter_times_from_log(log.read_text(errors="replace"))
        print_chapter_times(times, f"from {log.relative_to(root)}, {stamp}", None)
    elif page.is_file():
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(page.stat().st_mtime))
        times = chapter_times_from_html(page.read_text(errors="replace"))
        print_chapter_times(times, f"from {page.relative_to(root)}, {stamp}", None)
    else:
        print("\n4. Chapter execution times: no build found; run `make book` or pass --chapters")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
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
    sweep_targets = {"logreg": 3.0, "mlp": 1.5}
    tasks: dict[str, train.Task] = {}
    if {"loop", "sweep"} & set(args.only):
        try:
            tasks = {name: train.make_task(name) for name in ("mnist-mlp", "mnist-logreg")}
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
