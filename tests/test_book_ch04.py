"""Chapter 4: paired differences (:func:`optlib.training.report.paired_difference`), the
chapter's figure styles, and the facts about the source article's program that the chapter
states in prose (they hold by construction, so they are tested here rather than shown as
findings)."""

from __future__ import annotations

import doctest

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex
from scipy import stats
from torch import nn

from optlib import figures, training
from optlib.book import ch04, experiments
from optlib.training import DataSplits, report
from optlib.training.report import paired_difference


def test_docstring_examples_run():
    # paired_difference's example lives in optlib.training.report, its one home
    assert doctest.testmod(report, raise_on_error=True).attempted > 0


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_paired_interval_is_scipys_paired_t_interval(confidence):
    rng = np.random.default_rng(3)
    a = rng.normal(0.95, 0.01, size=5)
    b = a - rng.normal(0.002, 0.003, size=5)
    result = paired_difference(a, b, confidence=confidence)
    expected = stats.ttest_rel(a, b).confidence_interval(confidence_level=confidence)
    assert result.low == pytest.approx(expected.low)
    assert result.high == pytest.approx(expected.high)
    assert result.mean == pytest.approx(np.mean(a - b))
    assert result.n == 5 and result.confidence == confidence


def test_interval_excludes_zero_exactly_when_the_paired_t_test_rejects():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.normal(size=4)
        b = a - rng.normal(0.5, 1.0, size=4)
        result = paired_difference(a, b)
        rejects = stats.ttest_rel(a, b).pvalue < 0.05
        assert rejects == (result.low > 0 or result.high < 0)


def test_detectable_effect_has_the_stated_power():
    """Simulated paired experiments whose true difference is the detectable effect are detected
    about 80 % of the time (the formula is an approximation: it fixes s at its true value)."""
    n, sigma = 5, 1.0
    detectable = (stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.8, n - 1)) * sigma / np.sqrt(n)
    rng = np.random.default_rng(1)
    differences = rng.normal(detectable, sigma, size=(20_000, n))
    detected = stats.ttest_1samp(differences, 0.0, axis=1).pvalue < 0.05
    assert 0.7 < detected.mean() < 0.85
    # ... and paired_difference reports that effect for data whose sample SD is sigma.
    d = np.array([-1.0, 0.0, 1.0, 0.5, -0.5])
    d = d / d.std(ddof=1)
    result = paired_difference(d, np.zeros(n))
    assert result.detectable == pytest.approx(detectable)


def test_paired_difference_fewer_seeds_means_a_wider_interval():
    a, b = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), np.array([0.5, 2.2, 2.4, 4.1, 4.4, 6.3])
    wide, narrow = paired_difference(a[:3], b[:3]), paired_difference(a, b)
    assert wide.high - wide.low > narrow.high - narrow.low


@pytest.mark.parametrize(
    ("a", "b", "options", "match"),
    [
        ([1.0, 2.0], [1.0], {}, "Invalid pairs"),
        ([1.0], [1.0], {}, "need at least 2"),
        ([1.0, 2.0], [1.0, 3.0], {"confidence": 1.0}, "Invalid confidence"),
        ([1.0, 2.0], [1.0, 3.0], {"power": 0.0}, "Invalid power"),
    ],
)
def test_paired_difference_validates(a, b, options, match):
    with pytest.raises(ValueError, match=match):
        paired_difference(a, b, **options)


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
