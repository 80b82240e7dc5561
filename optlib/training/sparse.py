"""A synthetic sparse-feature classification task: Adagrad's home ground.

:func:`make_sparse_classification` draws bag-of-words-like data whose feature frequencies follow
a Zipf law and whose *rare* features carry most of the label signal: the regime in which
per-coordinate step sizes (Adagrad, Adam) beat plain SGD. :func:`sparse_splits` returns it in
the same layout as :func:`optlib.training.data.mnist_splits`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from optlib.training.data import DataSplits, check_int

__all__ = ["SparseDataset", "make_sparse_classification", "sparse_splits", "zipf_feature_frequency"]


# --------------------------------------------------------------------------------------------
# Synthetic sparse-feature classification
# --------------------------------------------------------------------------------------------


class SparseDataset(NamedTuple):
    """Samples of :func:`make_sparse_classification` and the law that generated them."""

    x: Tensor  # (n_samples, n_features) float32 in {0, 1}, mostly zeros
    y: Tensor  # (n_samples,) int64 class labels
    feature_frequency: Tensor  # (n_features,) float32: p_j, probability that feature j is present
    teacher_weight: Tensor  # (n_features, n_classes) float32: the W that generated the labels


def zipf_feature_frequency(
    n_features: int, zipf_exponent: float = 1.0, mean_active: float = 20.0
) -> Tensor:
    r"""Zipf-law feature frequencies :math:`p_j = \min\left(1, c\,(j+1)^{-s}\right)`.

    The constant :math:`c` is chosen (by bisection) so that :math:`\sum_j p_j` equals
    ``mean_active``, the expected number of features present in one sample. The most common
    features may be clipped to :math:`p_j = 1` (present in every sample, like "the" in English).

    Returns:
        A float32 tensor of shape ``(n_features,)``, non-increasing in ``j``.
    """
    check_int("n_features", n_features, minimum=1)
    if not (math.isfinite(zipf_exponent) and zipf_exponent >= 0):
        raise ValueError(f"Invalid zipf_exponent: {zipf_exponent!r} (expected a number >= 0)")
    if not (0 < mean_active < n_features):
        raise ValueError(
            f"Invalid mean_active: {mean_active!r} (expected 0 < mean_active < n_features "
            f"= {n_features})"
        )
    shape = np.arange(1, n_features + 1, dtype=np.float64) ** -float(zipf_exponent)
    low, high = 0.0, float(n_features) / shape[-1]  # sum is 0 at c=low, n_features at c=high

    for _ in range(200):
        middle = 0.5 * (low + high)
        if np.minimum(1.0, middle * shape).sum() < mean_active:
            low = middle
        else:
            high = middle
    return torch.from_numpy(np.minimum(1.0, 0.5 * (low + high) * shape)).to(torch.float32)


def _bernoulli_rows(
    frequency: Tensor, n_samples: int, generator: torch.Generator, chunk_rows: int = 4096
) -> Tensor:
    """``x[i, j] = 1`` with probability ``frequency[j]``, independently; drawn in fixed chunks so
    the peak memory stays near the size of ``x`` itself."""
    x = torch.empty(n_samples, frequency.shape[0], dtype=torch.float32)
    for start in range(0, n_samples, chunk_rows):
        stop = min(start + chunk_rows, n_samples)
        uniform = torch.rand(stop - start, frequency.shape[0], generator=generator)
        x[start:stop] = (uniform < frequency).to(torch.float32)
    return x


def make_sparse_classification(
    n_samples: int,
    n_features: int = 2000,
    n_classes: int = 2,
    zipf_exponent: float = 1.0,
    seed: int = 0,
    *,
    mean_active: float = 20.0,
    weight_power: float = 0.5,
    label_noise: float = 0.0,
) -> SparseDataset:
    r"""Bag-of-words-like classification data whose signal lives in rare features.

    The generator, step by step (all randomness from one ``torch.Generator`` seeded with
    ``seed``; the teacher is drawn first, so it depends on ``seed`` but not on ``n_samples``):

    1. **Feature frequencies** follow Zipf's law (see :func:`zipf_feature_frequency`):

       .. math:: p_j = \min\left(1,\; c\,(j+1)^{-s}\right), \qquad \sum_j p_j = m,

       with :math:`s` = ``zipf_exponent`` and :math:`m` = ``mean_active``, the expected number
       of active features per sample. Feature 0 is the most common, feature ``n_features - 1`` the
       rarest (with the defaults it appears in about 0.13% of the samples).
    2. **Teacher.** A linear teacher :math:`W \in \mathbb{R}^{d \times K}` has entries

       .. math:: W_{jk} = p_j^{-\gamma}\, z_{jk}, \qquad z_{jk} \sim \mathcal{N}(0, 1),

       with :math:`\gamma` = ``weight_power``: rare features get *larger* weights. Feature
       :math:`j` adds variance :math:`p_j (1 - p_j) W_{jk}^2 \approx p_j^{1-2\gamma} z_{jk}^2` to
       a logit, so with the default :math:`\gamma = 1/2` every feature carries about the same
       share of the signal and, since most features are rare, most of the signal is in rare
       features. (:math:`\gamma = 0` gives equal weights: then common features dominate.)
    3. **Samples.** Each sample switches feature :math:`j` on independently with probability
       :math:`p_j`: :math:`x_{ij} \sim \mathrm{Bernoulli}(p_j)`, so :math:`x \in \{0, 1\}^d`.
    4. **Labels** come from the teacher's centred logits,
       :math:`y_i = \arg\max_k \,[(x_i - p)^\top W]_k`; centring makes the classes roughly
       balanced. With probability ``label_noise`` a label is then replaced by a uniformly random
       class (which may equal the original one).

    A model that only learns the common features scores far below one that also learns the rare
    ones: to do well it must learn weights of features it sees in a few dozen samples. That is
    the setting in which Adagrad and Adam, whose per-coordinate step sizes grow for rarely
    updated coordinates, beat plain SGD (Kingma & Ba's bag-of-words IMDB experiment).
    Noise-free labels (the default) are linearly separable.

    Args:
        n_samples: number of samples.
        n_features: dimension :math:`d`.
        n_classes: number of classes :math:`K \ge 2`.
        zipf_exponent: :math:`s \ge 0` (``0`` makes all features equally frequent).
        seed: seed of the private generator; same arguments give the same tensors.
        mean_active: :math:`m`, expected number of active features per sample.
        weight_power: :math:`\gamma \ge 0`, how much larger rare features' teacher weights are.
        label_noise: probability in ``[0, 1]`` of replacing a label by a random class.

    Returns:
        A :class:`SparseDataset` ``(x, y, feature_frequency, teacher_weight)``.
    """
    check_int("n_samples", n_samples, minimum=1)
    check_int("n_classes", n_classes, minimum=2)
    check_int("seed", seed, minimum=0)
    if not (math.isfinite(weight_power) and weight_power >= 0):
        raise ValueError(f"Invalid weight_power: {weight_power!r} (expected a number >= 0)")
    if not (0.0 <= label_noise <= 1.0):
        raise ValueError(f"Invalid label_noise: {label_noise!r} (expected a probability in [0, 1])")
    frequency = zipf_feature_frequency(n_features, zipf_exponent, mean_active)

    generator = torch.Generator().manual_seed(seed)
    teacher_weight = frequency.pow(-weight_power)[:, None] * torch.randn(
        n_features, n_classes, generator=generator
    )
    x = _bernoulli_rows(frequency, n_samples, generator)
    y = ((x - frequency) @ teacher_weight).argmax(dim=1)
    if label_noise > 0:
        replace = torch.rand(n_samples, generator=generator) < label_noise
        random_class = torch.randint(n_classes, (n_samples,), generator=generator)
        y = torch.where(replace, random_class, y)
    return SparseDataset(x, y.to(torch.int64), frequency, teacher_weight)


def sparse_splits(
    n_train: int = 20_000,
    n_val: int = 5_000,
    n_test: int = 5_000,
    *,
    n_features: int = 2000,
    n_classes: int = 2,
    zipf_exponent: float = 1.0,
    mean_active: float = 20.0,
    weight_power: float = 0.5,
    label_noise: float = 0.0,
    seed: int = 0,
) -> DataSplits:
    """Train/validation/test sets of :func:`make_sparse_classification` (one teacher for all).

    Draws ``n_train + n_val + n_test`` i.i.d. samples in one call and cuts them in that order, so
    the three sets share the teacher and feature law. Same layout as :func:`mnist_splits`.
    The frequencies and teacher are available from :func:`make_sparse_classification` with the same
    arguments (``n_samples=1`` is enough).
    """
    check_int("n_train", n_train, minimum=1)
    check_int("n_val", n_val, minimum=0)
    check_int("n_test", n_test, minimum=0)
    data = make_sparse_classification(
        n_train + n_val + n_test,
        n_features,
        n_classes,
        zipf_exponent,
        seed,
        mean_active=mean_active,
        weight_power=weight_power,
        label_noise=label_noise,
    )
    cut_val, cut_test = n_train, n_train + n_val
    return DataSplits(
        train_x=data.x[:cut_val],
        train_y=data.y[:cut_val],
        val_x=data.x[cut_val:cut_test],
        val_y=data.y[cut_val:cut_test],
        test_x=data.x[cut_test:],
        test_y=data.y[cut_test:],
    )
