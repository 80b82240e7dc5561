r"""Chapter 6's sparse-embedding experiment: which rows does each optimizer move?

:func:`train_embedding` trains an embedding table with dense or sparse gradients and counts how
often rows that were *not* in a minibatch moved: what separates ``torch.optim.Adam`` from
``torch.optim.SparseAdam``, and why Adagrad needs no sparse variant.

The FAQ's other experiments live where their concept does: Keras's epsilon-hat Adam in
:mod:`optlib.rules` (:func:`~optlib.rules.adam_update_epsilon_hat`), Wilson et al.'s problem in
:mod:`optlib.problems`, the switching experiment in
:func:`optlib.book.analysis.train_recording_changes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]


# --------------------------------------------------------------------------------------------
# Sparse embeddings: which rows move?
# --------------------------------------------------------------------------------------------
class EmbeddingRun(NamedTuple):
    """What :func:`train_embedding` saw."""

    weights: Tensor  # (n_rows, dim): the table after training
    absent_rows_moved: int  # (step, row) pairs in which a row not in the minibatch changed
    looked_up_rows: int  # (step, row) pairs in which the row was in the minibatch


def train_embedding(
    optimizer_factory: OptimizerFactory,
    *,
    sparse: bool,
    n_rows: int = 50,
    dim: int = 4,
    batch_size: int = 8,
    steps: int = 20,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> EmbeddingRun:
    r"""Train an ``nn.Embedding(n_rows, dim, sparse=sparse)`` and watch which rows move.

    Every step looks up ``batch_size`` random row indices and descends
    :math:`\tfrac12 \sum_{i \in \text{batch}} \lVert e_i - c_i \rVert^2` towards fixed random
    targets :math:`c_i`, so only looked-up rows have a non-zero gradient. With ``sparse=True`` the
    gradient is a sparse tensor holding those rows only. The initial table, the targets and the
    indices depend on ``seed`` alone, so a dense and a sparse run see the same data.

    Sparse invariant checks are switched on explicitly (PyTorch warns when they are left at
    their implicit default).
    """
    for name, value in (("n_rows", n_rows), ("dim", dim), ("batch_size", batch_size)):
        if int(value) != value or value < 1:
            raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= 1)")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"Invalid steps: {steps!r} (expected an integer >= 1)")
    generator = torch.Generator().manual_seed(seed)
    table = nn.Embedding(n_rows, dim, sparse=sparse).to(dtype)
    with torch.no_grad():
        table.weight.copy_(torch.randn(n_rows, dim, generator=generator, dtype=dtype))
    targets = torch.randn(n_rows, dim, generator=generator, dtype=dtype)
    optimizer = optimizer_factory(table.parameters())
    absent_rows_moved = looked_up_rows = 0
    with torch.sparse.check_sparse_tensor_invariants(enable=True):
        for _ in range(steps):
            rows = torch.randint(0, n_rows, (batch_size,), generator=generator)
            before = table.weight.detach().clone()
            loss = 0.5 * (table(rows) - targets[rows]).square().sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            moved = (table.weight.detach() != before).any(dim=1)
            in_batch = torch.zeros(n_rows, dtype=torch.bool)
            in_batch[rows] = True
            absent_rows_moved += int((moved & ~in_batch).sum())
            looked_up_rows += int(in_batch.sum())
    return EmbeddingRun(table.weight.detach().clone(), absent_rows_moved, looked_up_rows)
