"""Tests of optlib.training.data's train/validation split and of the sparse-feature generator
(optlib.training.sparse). The MNIST files and mnist_splits are tested in tests/test_mnist.py."""

from __future__ import annotations

import math

import pytest
import torch

from optlib import training
from optlib.training import data

# --------------------------------------------------------------------------------------------
# Train / validation split
# --------------------------------------------------------------------------------------------


def test_train_val_split_is_deterministic_disjoint_and_complete() -> None:
    ids = torch.arange(1000)
    images, labels = ids[:, None].repeat(1, 3).float(), ids % 10
    split = data.train_val_split(images, labels, val_size=200, seed=3)
    again = data.train_val_split(images, labels, val_size=200, seed=3)
    other = data.train_val_split(images, labels, val_size=200, seed=4)

    assert all(torch.equal(a, b) for a, b in zip(split, again, strict=True))
    assert not torch.equal(split.val_y, other.val_y) or not torch.equal(split.val_x, other.val_x)
    train_ids, val_ids = split.train_x[:, 0].long(), split.val_x[:, 0].long()
    assert len(val_ids) == 200 and len(train_ids) == 800
    assert set(train_ids.tolist()).isdisjoint(val_ids.tolist())
    assert sorted(train_ids.tolist() + val_ids.tolist()) == list(range(1000))
    assert torch.equal(split.train_y, train_ids % 10) and torch.equal(split.val_y, val_ids % 10)


def test_train_val_split_does_not_touch_the_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    data.train_val_split(torch.zeros(50, 2), torch.zeros(50), val_size=10)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    ("images", "labels", "val_size", "match"),
    [
        (torch.zeros(10, 2), torch.zeros(9), 2, "differ in length"),
        (torch.zeros(10, 2), torch.zeros(10), 10, "val_size"),
        (torch.zeros(10, 2), torch.zeros(10), -1, "val_size"),
        (torch.zeros(10, 2), torch.zeros(10), 2.5, "val_size"),
    ],
)
def test_train_val_split_validates_arguments(images, labels, val_size, match) -> None:
    with pytest.raises(ValueError, match=match):
        data.train_val_split(images, labels, val_size=val_size)


# --------------------------------------------------------------------------------------------
# Synthetic sparse features
# --------------------------------------------------------------------------------------------


def test_zipf_frequencies_follow_the_power_law_and_sum_to_mean_active() -> None:
    frequency = training.zipf_feature_frequency(3000, zipf_exponent=1.2, mean_active=15.0).double()
    assert math.isclose(frequency.sum().item(), 15.0, rel_tol=1e-5)
    assert bool((frequency[1:] <= frequency[:-1]).all())
    unclipped = torch.nonzero(frequency < 1).squeeze(1)
    assert len(unclipped) > 2900
    # p_j (j+1)^s is the same constant c for every unclipped feature.
    constant = frequency[unclipped] * (unclipped.double() + 1) ** 1.2
    torch.testing.assert_close(constant, constant.mean().expand_as(constant), rtol=1e-6, atol=0)


def test_sparse_dataset_is_deterministic_and_well_formed() -> None:
    first = training.make_sparse_classification(3000, n_features=400, n_classes=3, seed=7)
    again = training.make_sparse_classification(3000, n_features=400, n_classes=3, seed=7)
    other = training.make_sparse_classification(3000, n_features=400, n_classes=3, seed=8)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first.x, other.x)
    assert first.x.shape == (3000, 400) and first.x.dtype == torch.float32
    assert first.y.shape == (3000,) and first.y.dtype == torch.int64
    assert set(first.x.unique().tolist()) == {0.0, 1.0}
    assert set(first.y.unique().tolist()) == {0, 1, 2}
    # The teacher depends on the seed only, not on the number of samples.
    assert torch.equal(
        training.make_sparse_classification(10, n_features=400, n_classes=3, seed=7).teacher_weight,
        first.teacher_weight,
    )


def test_sparse_features_appear_with_their_zipf_frequencies() -> None:
    n_samples = 20_000
    dataset = training.make_sparse_classification(
        n_samples, n_features=500, mean_active=10.0, seed=1
    )
    empirical = dataset.x.mean(dim=0).double()
    p = dataset.feature_frequency.double()
    z_scores = (empirical - p) / (p * (1 - p) / n_samples).clamp_min(1e-12).sqrt()
    assert z_scores.abs().max() < 5.5  # 500 features: |z| > 5.5 has probability ~2e-5
    assert abs(dataset.x.sum(dim=1).mean().item() - 10.0) < 0.15  # sd of the mean ~0.02
    # Empirical frequencies of feature ranks 10 vs 100 differ by the law's factor 10^s, s=1.
    ratio = empirical[9:11].sum() / empirical[99:101].sum()
    assert 7 < ratio.item() < 14


def _held_out_accuracy(x: torch.Tensor, y: torch.Tensor, n_train: int) -> float:
    """Accuracy on rows n_train: of a linear student fitted on the first n_train rows.

    The student (binary labels) weights feature j by the difference of its class-conditional
    frequencies divided by its overall frequency: a closed-form, naive-Bayes-like fit.
    """
    x_train, y_train = x[:n_train], y[:n_train]
    frequency = x_train.mean(dim=0)
    difference = x_train[y_train == 1].mean(dim=0) - x_train[y_train == 0].mean(dim=0)
    weight = difference / frequency.clamp_min(1e-6)
    predicted = ((x[n_train:] - frequency) @ weight > 0).long()
    return (predicted == y[n_train:]).double().mean().item()


@pytest.mark.parametrize("seed", [0, 1])
def test_rare_features_carry_the_signal(seed: int) -> None:
    dataset = training.make_sparse_classification(8000, n_features=400, mean_active=10.0, seed=seed)
    common, rare = slice(0, 40), slice(40, 400)  # the 10% most frequent features vs the rest
    # The teacher weights rare features more.
    weight_size = dataset.teacher_weight.abs().mean(dim=1)
    assert weight_size[rare].mean() > 2 * weight_size[common].mean()
    # A student that sees only rare features beats one that sees only common ones by far.
    accuracy_common = _held_out_accuracy(dataset.x[:, common], dataset.y, 6000)
    accuracy_rare = _held_out_accuracy(dataset.x[:, rare], dataset.y, 6000)
    assert accuracy_rare > 0.75
    assert accuracy_rare > accuracy_common + 0.15
    # Control: with equal teacher weights (weight_power=0) rare features lose most of that edge.
    flat = training.make_sparse_classification(
        8000, n_features=400, mean_active=10.0, seed=seed, weight_power=0.0
    )
    flat_common = _held_out_accuracy(flat.x[:, common], flat.y, 6000)
    flat_rare = _held_out_accuracy(flat.x[:, rare], flat.y, 6000)
    assert accuracy_rare - accuracy_common > flat_rare - flat_common + 0.15


def test_label_noise_flips_the_expected_fraction() -> None:
    clean = training.make_sparse_classification(20_000, n_features=300, n_classes=4, seed=5)
    noisy = training.make_sparse_classification(
        20_000, n_features=300, n_classes=4, seed=5, label_noise=0.2
    )
    assert torch.equal(clean.x, noisy.x)
    changed = (clean.y != noisy.y).double().mean().item()
    assert abs(changed - 0.2 * 3 / 4) < 0.015  # a random class equals the old one 1/4 of the time


def test_sparse_splits_share_one_teacher_in_the_mnist_layout() -> None:
    splits = training.sparse_splits(300, 100, 50, n_features=200, seed=4)
    full = training.make_sparse_classification(450, n_features=200, seed=4)
    assert isinstance(splits, training.DataSplits)
    assert [len(t) for t in splits] == [300, 300, 100, 100, 50, 50]
    assert torch.equal(torch.cat([splits.train_x, splits.val_x, splits.test_x]), full.x)
    assert torch.equal(torch.cat([splits.train_y, splits.val_y, splits.test_y]), full.y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 10, "n_classes": 1}, "n_classes"),
        ({"n_samples": 10, "n_features": 10, "mean_active": 10.0}, "mean_active"),
        ({"n_samples": 10, "zipf_exponent": -1.0}, "zipf_exponent"),
        ({"n_samples": 10, "weight_power": -0.5}, "weight_power"),
        ({"n_samples": 10, "label_noise": 1.5}, "label_noise"),
    ],
)
def test_sparse_generator_validates_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        training.make_sparse_classification(**kwargs)
