"""Chapter 4: the chapter's figure styles, and the facts about the source article's program that
the chapter states in prose (they hold by construction, so they are tested here rather than
shown as findings). Paired differences are tested with their module, in tests/test_report.py."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex
from torch import nn

from optlib import figures, training
from optlib.book import ch04, experiments
from optlib.training import DataSplits
from optlib.training.report import paired_difference


@pytest.mark.parametrize(
    "group",
    [
        ("adam", "adagrad"),
        ("adam-decayed", "nesterov-decayed", "adagrad-constant", "adagrad-decayed"),
    ],
)
def test_lines_of_one_figure_differ_in_colour_marker_and_dash(group):
    for field in ("color", "marker", "dash"):
        values = [str(getattr(figures.style(label), field)) for label in group]
        assert len(set(values)) == len(values), field


@pytest.fixture(scope="module")
def tiny_runs():
    generator = torch.Generator().manual_seed(0)

    def blobs(n):
        x = torch.randn(n, 6, generator=generator)
        return x, (x[:, 0] > 0).long()

    splits = DataSplits(*blobs(128), *blobs(64), *blobs(64))
    task = training.Task("blobs", splits, "logreg", in_features=6, n_classes=2)
    return training.compare(
        {
            label: experiments.kingma_ba_factory(label, 0.1)
            for label in ("adam-decayed", "adagrad-decayed")
        },
        task,
        seeds=(0, 1),
        epochs=1,
        batch_size=16,
        progress=False,
    )


def test_loss_curves_draw_each_label_in_its_style(tiny_runs):
    fig, ax = plt.subplots()
    ch04.plot_loss_curves(ax, tiny_runs, window=2)
    ch04.legend_below(ax)
    lines = ax.get_lines()
    assert [to_hex(line.get_color()) for line in lines] == [
        figures.color("adam-decayed").lower(),
        figures.color("adagrad-decayed").lower(),
    ]
    assert [line.get_marker() for line in lines] == [
        figures.style("adam-decayed").marker,
        figures.style("adagrad-decayed").marker,
    ]
    assert len(lines[0].get_xdata()) == 4  # 8 steps in windows of 2
    assert ax.get_legend() is not None and ax.get_yscale() == "log"
    plt.close(fig)


def test_paired_difference_plot_shows_every_seed():
    values = [0.1, -0.2, 0.05]
    fig, ax = plt.subplots()
    ch04.plot_paired_differences(ax, values, paired_difference(values, [0, 0, 0]), unit="pts")
    offsets = ax.collections[0].get_offsets()
    assert np.allclose(np.asarray(offsets)[:, 1], values)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Facts about the source article's program that the chapter states in prose
# --------------------------------------------------------------------------------------------
def test_torch_default_learning_rates_differ_by_ten():
    """Bug 4: the article gives Adagrad Adam's default, a tenth of Adagrad's own."""
    params = [torch.zeros(1, requires_grad=True)]
    assert torch.optim.Adam(params).defaults["lr"] == 1e-3
    assert torch.optim.Adagrad(params).defaults["lr"] == 1e-2


def test_cross_entropy_reads_unnormalised_rows_as_scaled_soft_labels():
    """Bug 1: random 'labels' are accepted as class probabilities without a check; rows that sum
    to k give k times the cross entropy with the normalised rows."""
    generator = torch.Generator().manual_seed(0)
    logits, targets = (
        torch.randn(64, 10, generator=generator),
        torch.rand(64, 10, generator=generator),
    )
    scale = targets.sum(dim=1, keepdim=True)
    unnormalised = nn.functional.cross_entropy(logits, targets, reduction="none")
    normalised = nn.functional.cross_entropy(logits, targets / scale, reduction="none")
    torch.testing.assert_close(unnormalised, scale.squeeze(1) * normalised)


def test_the_articles_shared_first_step_moves_each_weight_by_twice_the_learning_rate():
    """Bug 3: Adam and Adagrad stepping one model each move every weight with a non-zero
    gradient by lr in the direction of -sign(g) on the first step, so together by 2 lr."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(16, 20), torch.randint(0, 3, (16,))

    def loss_of(net):
        return nn.functional.cross_entropy(net(x), y)

    lr = 1e-3
    factories = [
        lambda p: torch.optim.Adam(p, lr=lr),
        lambda p: torch.optim.Adagrad(p, lr=lr),
    ]
    change = experiments.one_step_change(model, factories, loss_of)
    moved = change.abs() > 0
    assert moved.float().mean() > 0.5
    torch.testing.assert_close(change[moved].abs(), torch.full_like(change[moved], 2 * lr))
