"""Chapter 4's helpers: the article's shared step, the α/√t schedule, the Kingma & Ba optimizers,
tuning with factories, and the figures and tables."""

from __future__ import annotations

import doctest
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from optlib import figures, rules, training
from optlib.book import experiments
from optlib.book.experiments import (
    KINGMA_BA_OPTIMIZERS,
    kingma_ba_factory,
    one_step_change,
    with_inverse_sqrt_decay,
)
from optlib.optim import SGD, Adagrad, Adam
from optlib.training import DataSplits, SummaryRow

pytestmark = pytest.mark.usefixtures("one_thread")


def blobs(n: int, generator: torch.Generator, n_features: int = 12, n_classes: int = 3):
    """Gaussian inputs labelled by a fixed linear teacher plus noise (learnable, not separable)."""
    teacher = torch.randn(n_features, n_classes, generator=torch.Generator().manual_seed(7))
    x = torch.randn(n, n_features, generator=generator)
    y = (x @ teacher + 0.5 * torch.randn(n, n_classes, generator=generator)).argmax(dim=1)
    return x, y


@pytest.fixture(scope="module")
def task() -> training.Task:
    generator = torch.Generator().manual_seed(0)
    splits = DataSplits(*blobs(256, generator), *blobs(128, generator), *blobs(128, generator))
    return training.Task("blobs", splits, "mlp", in_features=12, n_classes=3)


def test_docstring_examples_run():
    failures, tried = doctest.testmod(experiments)
    assert tried >= 3 and failures == 0


# --------------------------------------------------------------------------------------------
# one_step_change
# --------------------------------------------------------------------------------------------
def small_model_and_loss():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    x = torch.randn(16, 5)
    y = torch.randint(3, (16,))

    def loss_of(net: nn.Module) -> torch.Tensor:
        return nn.functional.cross_entropy(net(x), y)

    return model, loss_of


def test_one_step_with_one_optimizer_is_an_ordinary_step():
    model, loss_of = small_model_and_loss()
    change = one_step_change(model, [lambda p: torch.optim.SGD(p, lr=0.1)], loss_of)
    loss_of(model).backward()
    gradient = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(change, -0.1 * gradient)


def test_one_step_leaves_the_model_untouched():
    model, loss_of = small_model_and_loss()
    before = [p.detach().clone() for p in model.parameters()]
    one_step_change(model, [lambda p: torch.optim.Adam(p, lr=0.5)], loss_of)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("adam_first", [True, False])
def test_two_optimizers_on_one_model_add_their_first_steps(adam_first):
    model, loss_of = small_model_and_loss()
    adam = lambda p: Adam(p, lr=1e-3)  # noqa: E731
    adagrad = lambda p: Adagrad(p, lr=1e-3)  # noqa: E731
    pair = [adam, adagrad] if adam_first else [adagrad, adam]
    both = one_step_change(model, pair, loss_of)
    separate = one_step_change(model, [adam], loss_of) + one_step_change(model, [adagrad], loss_of)
    torch.testing.assert_close(both, separate, rtol=0, atol=1e-7)
    # each first step is lr * sign(g): together they move a parameter by up to 2 * lr
    assert both.abs().max().item() == pytest.approx(2e-3, rel=1e-3)


def test_one_step_needs_an_optimizer():
    model, loss_of = small_model_and_loss()
    with pytest.raises(ValueError, match="factories"):
        one_step_change(model, [], loss_of)


# --------------------------------------------------------------------------------------------
# alpha / sqrt(t)
# --------------------------------------------------------------------------------------------
def test_inverse_sqrt_factor():
    assert [rules.inverse_sqrt_decay(k) for k in (0, 3, 99)] == [1.0, 0.5, 0.1]
    with pytest.raises(ValueError, match="steps_taken"):
        rules.inverse_sqrt_decay(-1)


def test_decayed_sgd_takes_steps_alpha_over_sqrt_t():
    """On f(w) = w (gradient 1), step t of SGD moves w by exactly -alpha / sqrt(t)."""
    w = torch.zeros(1, requires_grad=True)
    optimizer = with_inverse_sqrt_decay(lambda p: SGD(p, lr=0.3))([w])
    positions = [0.0]
    for _ in range(6):
        optimizer.zero_grad()
        w.sum().backward()
        optimizer.step()
        positions.append(w.item())
    steps = -np.diff(positions)
    np.testing.assert_allclose(steps, [0.3 / math.sqrt(t) for t in range(1, 7)], rtol=1e-6)


def test_decay_follows_the_steps_of_the_training_harness(task):
    model = task.make_model(0)
    optimizer = with_inverse_sqrt_decay(training.optimizer_factory("adam", lr=0.02))(
        model.parameters()
    )
    record = training.fit(model, optimizer, task, epochs=2, batch_size=32, seed=0, progress=False)
    assert record.lr == 0.02  # recorded before the first step: the base step size
    assert record.steps == 16
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.02 / math.sqrt(record.steps + 1))


@pytest.mark.parametrize("label", ["adam-decayed", "nesterov-decayed"])
def test_a_decayed_run_resumes_from_a_checkpoint_where_it_stopped(task, tmp_path, label):
    """The schedule's position is saved with the optimizer, so a resumed run continues
    alpha/sqrt(t) from the step it reached instead of starting over at alpha."""
    factory = kingma_ba_factory(label, 0.05)
    options = {"batch_size": 32, "seed": 3, "progress": False}
    model = task.make_model(3)
    uninterrupted = training.fit(model, factory(model.parameters()), task, epochs=3, **options)

    checkpoint = tmp_path / "run.pt"
    first = task.make_model(3)
    training.fit(first, factory(first.parameters()), task, epochs=1, checkpoint=checkpoint,
              **options)  # fmt: skip
    resumed_model = task.make_model(3)
    resumed_optimizer = factory(resumed_model.parameters())
    resumed = training.fit(
        resumed_model, resumed_optimizer, task, epochs=3, checkpoint=checkpoint, **options
    )
    assert resumed.train_loss == uninterrupted.train_loss
    assert resumed_optimizer.param_groups[0]["lr"] == pytest.approx(
        0.05 / math.sqrt(uninterrupted.steps + 1)
    )
    for p, q in zip(model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(p, q)


# --------------------------------------------------------------------------------------------
# Kingma & Ba optimizers
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("label", list(KINGMA_BA_OPTIMIZERS))
def test_kingma_ba_factory_builds_what_the_table_says(label):
    spec = KINGMA_BA_OPTIMIZERS[label]
    w = torch.ones(3, requires_grad=True)
    optimizer = kingma_ba_factory(label, 0.5)([w])
    assert type(optimizer).__name__.lower() == spec.name
    for key, value in spec.hyperparameters.items():
        assert optimizer.defaults[key] == value
    for _ in range(3):
        w.grad = torch.ones(3)
        optimizer.step()
    expected = 0.5 / math.sqrt(4) if spec.decay else 0.5
    assert optimizer.param_groups[0]["lr"] == pytest.approx(expected)


def test_kingma_ba_nesterov_is_nesterov_momentum():
    optimizer = kingma_ba_factory("nesterov-decayed", 0.1)([torch.zeros(1, requires_grad=True)])
    assert isinstance(optimizer, SGD)
    assert optimizer.defaults["nesterov"] is True
    assert optimizer.defaults["momentum"] == experiments.KINGMA_BA_MOMENTUM


@pytest.mark.parametrize(
    ("label", "lr", "match"), [("adam", 0.1, "label"), ("adam-decayed", 0.0, "lr")]
)
def test_kingma_ba_factory_validates(label, lr, match):
    with pytest.raises(ValueError, match=match):
        kingma_ba_factory(label, lr)


# --------------------------------------------------------------------------------------------
# training.tune_lr
# --------------------------------------------------------------------------------------------
def test_tune_lr_with_a_plain_factory_agrees_with_tune_lr(task):
    lrs, seeds = (0.003, 0.03, 0.3), (0, 1)
    reference = training.tune_lr("adam", task, lrs, seeds, epochs=1, batch_size=32, progress=False)
    result = training.tune_lr(
        lambda lr: training.optimizer_factory("adam", lr=lr),
        task,
        lrs,
        seeds,
        epochs=1,
        batch_size=32,
        label="adam",
    )
    assert result == reference


def test_tune_lr_with_scores_a_divergent_lr_as_infinite(task):
    result = training.tune_lr(
        lambda lr: training.optimizer_factory("sgd", lr=lr),
        task,
        (0.1, 1e10),
        (0,),
        epochs=1,
        batch_size=32,
        label="sgd",
    )
    assert math.isinf(result.mean_val_loss[1])
    assert result.best_lr == 0.1
    assert math.isnan(result.std_val_loss[0])  # one seed: no spread


def test_tune_lr_with_schedule_changes_the_scores(task):
    def tune(label: str) -> training.TuningResult:
        return training.tune_lr(
            lambda lr: kingma_ba_factory(label, lr), task, (0.05, 0.5), (0,), epochs=1, label=label
        )

    constant, decayed = tune("adagrad-constant"), tune("adagrad-decayed")
    assert constant.val_losses != decayed.val_losses


@pytest.mark.parametrize(
    ("lrs", "seeds", "match"),
    [
        ((), (0,), "lrs"),
        ((0.1, 0.1), (0,), "duplicates"),
        ((-1.0,), (0,), "lrs"),
        ((0.1,), (), "seeds"),
    ],
)
def test_tune_lr_with_validates(task, lrs, seeds, match):
    with pytest.raises(ValueError, match=match):
        training.tune_lr(
            lambda lr: training.optimizer_factory("sgd", lr=lr),
            task,
            lrs,
            seeds,
            epochs=1,
            label="sgd",
        )


def test_tune_lr_with_raises_when_everything_diverges(task):
    with pytest.raises(ValueError, match="Every learning rate diverged"):
        training.tune_lr(
            lambda lr: training.optimizer_factory("sgd", lr=lr),
            task,
            (1e10, 1e12),
            (0,),
            epochs=1,
            label="sgd",
        )


# --------------------------------------------------------------------------------------------
# Figures and tables
# --------------------------------------------------------------------------------------------
def test_plot_lr_sensitivity_marks_each_best_lr(task):
    results = [
        training.tune_lr(
            lambda lr, label=label: kingma_ba_factory(label, lr),
            task,
            (0.01, 0.1, 1.0),
            (0, 1),
            epochs=1,
            batch_size=64,
            label=label,
        )
        for label in ("adam-decayed", "adagrad-constant")
    ]
    fig, ax = plt.subplots()
    figures.plot_lr_sensitivity(ax, results)
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert [star.get_xdata()[0] for star in stars] == [r.best_lr for r in results]
    assert [star.get_color() for star in stars] == [
        figures.color("adam"),
        figures.color("adagrad"),
    ]
    assert ax.get_xscale() == "log" and "after 1 epoch " in ax.get_ylabel()
    plt.close(fig)


def test_plot_loss_curves_draws_one_line_per_label(task):
    runs = training.compare(
        {label: kingma_ba_factory(label, 0.1) for label in ("adam-decayed", "adagrad-decayed")},
        task,
        seeds=(0, 1),
        epochs=1,
        batch_size=16,
        progress=False,
    )
    fig, ax = plt.subplots()
    figures.plot_loss_curves(ax, runs, window=2)
    lines = ax.get_lines()
    assert [line.get_linestyle() for line in lines] == ["-", "--"]
    assert len(lines[0].get_xdata()) == 8  # 16 steps in windows of 2
    assert "2 seeds" in lines[0].get_label()
    plt.close(fig)


def test_summary_markdown_has_a_row_per_optimizer():
    rows = [
        SummaryRow("adam", (0.001,), 3, 0.97, 0.004, 1.5, 0.2),
        SummaryRow("adagrad-decayed", (0.1, 0.3), 1, math.nan, math.nan, 0.5, math.nan),
    ]
    lines = str(figures.summary_table(rows)).splitlines()
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert len(lines) == 4
    assert cells[2] == ["Adam", "0.001", "3", "97.00 ± 0.40", "1.50 ± 0.20"]
    assert cells[3] == ["Adagrad, α/√t", "0.1, 0.3", "1", "n/a", "0.50"]


def test_plot_paired_accuracy_joins_the_runs_of_each_seed(task):
    runs = training.compare(
        {"adam": ("adam", {"lr": 0.01}), "adagrad": ("adagrad", {"lr": 0.1})},
        task,
        seeds=(0, 1, 2),
        epochs=1,
        batch_size=64,
        progress=False,
    )
    fig, ax = plt.subplots()
    figures.plot_paired_accuracy(ax, runs)
    pairs = [line for line in ax.get_lines() if line.get_color() == "0.75"]
    assert len(pairs) == 3
    for seed, line in enumerate(pairs):
        expected = [100 * r.test_accuracy for r in runs if r.seed == seed]
        np.testing.assert_allclose(line.get_ydata(), expected)
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["Adam", "Adagrad"]
    plt.close(fig)
    with pytest.raises(ValueError, match="test accuracy"):
        figures.plot_paired_accuracy(ax, [])
