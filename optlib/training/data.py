"""The train / validation / test splits every task of the book is trained on.

:func:`train_val_split` holds out a deterministic random validation set; :func:`mnist_splits`
gives MNIST as train, validation and the official test set, as a :class:`DataSplits` (the
synthetic sparse-feature task of :mod:`optlib.training.sparse` has the same layout). The MNIST
files themselves (finding, downloading, verifying) are :mod:`optlib.training.mnist`'s job.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import torch
from torch import Tensor

from optlib.training.mnist import load_mnist_uint8, to_float_pixels

__all__ = ["DataSplits", "Split", "mnist_splits", "train_val_split"]


class Split(NamedTuple):
    """A training set and a held-out validation set."""

    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor


class DataSplits(NamedTuple):
    """Train, validation and test sets of one task (same layout for MNIST and the sparse task)."""

    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    test_x: Tensor
    test_y: Tensor


def check_int(name: str, value: object, *, minimum: int) -> int:
    """``value`` if it is an integer (not a bool) >= ``minimum``; else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= {minimum})")
    return value


def train_val_split(images: Tensor, labels: Tensor, val_size: int = 10_000, seed: int = 0) -> Split:
    """Hold out ``val_size`` random examples as a validation set, deterministically.

    A uniformly random permutation from a private ``torch.Generator`` seeded with ``seed`` picks
    the validation examples; the global RNG is neither used nor advanced. Both parts keep the
    original order of the examples (shuffling is the data loader's job). The split is *not*
    stratified: with 10,000 MNIST validation examples each class's share deviates from the full
    set's by about 0.3 percentage points, which is immaterial here.

    Raises:
        ValueError: mismatched lengths, ``val_size`` outside ``[0, N)``, or a non-integer seed.
    """
    n_examples = images.shape[0]
    if labels.shape[0] != n_examples:
        raise ValueError(
            f"images and labels differ in length: {n_examples} images vs {labels.shape[0]} labels"
        )
    check_int("val_size", val_size, minimum=0)
    if val_size >= n_examples:
        raise ValueError(
            f"Invalid val_size: {val_size} (must be smaller than the {n_examples} examples)"
        )
    check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(seed)
    permutation = torch.randperm(n_examples, generator=generator)
    is_val = torch.zeros(n_examples, dtype=torch.bool)
    is_val[permutation[:val_size]] = True
    is_val_x, is_val_y = is_val.to(images.device), is_val.to(labels.device)
    return Split(
        train_x=images[~is_val_x],
        train_y=labels[~is_val_y],
        val_x=images[is_val_x],
        val_y=labels[is_val_y],
    )


def mnist_splits(
    val_size: int = 10_000,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
) -> DataSplits:
    """MNIST as train (60,000 - ``val_size``), validation (``val_size``) and the official test set.

    See :func:`optlib.training.mnist.load_mnist` for where files come from and
    :func:`train_val_split` for the split.
    """
    # Split the cached uint8 data, then convert each part: one float copy of each pixel, not two.
    train_u8 = load_mnist_uint8("train", data_dir, download)
    test_u8 = load_mnist_uint8("test", data_dir, download)
    split = train_val_split(*train_u8, val_size, seed)
    return DataSplits(
        train_x=to_float_pixels(split.train_x),
        train_y=split.train_y.to(torch.int64),
        val_x=to_float_pixels(split.val_x),
        val_y=split.val_y.to(torch.int64),
        test_x=to_float_pixels(test_u8[0]),
        test_y=test_u8[1].to(torch.int64),
    )
