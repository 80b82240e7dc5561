r"""Chapter 6's helper: train while recording step sizes and a held-out loss.

:func:`train_with_held_out_loss` is the switching experiment's loop (chapter 6, "Can I switch
optimizers mid-training?"). It records, after every step, the median :math:`|\Delta\theta|` over
all weights and the loss on a *fixed* held-out batch. The held-out loss is what the chapter plots
instead of the minibatch loss: it changes only when the weights do, so a jump caused by one
optimizer step is not drowned in the step-to-step noise of the minibatches.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer

from optlib.book.analysis import train_recording_changes

__all__ = ["HeldOutRecord", "train_with_held_out_loss"]


class HeldOutRecord(NamedTuple):
    """Per optimizer step: the median :math:`|\\Delta\\theta|` and the held-out loss after it."""

    median_abs_change: np.ndarray  # (T,)
    held_out_loss: np.ndarray  # (T,), mean cross entropy in nats


def train_with_held_out_loss(
    model: nn.Module,
    optimizer: Optimizer,
    batches: Iterable[tuple[Tensor, Tensor]],
    held_out: tuple[Tensor, Tensor],
) -> HeldOutRecord:
    r"""One step of ``optimizer`` per batch; after each, the step's median
    :math:`|\theta_t - \theta_{t-1}|` and the cross entropy of ``model`` on ``held_out``.

    >>> model = nn.Linear(3, 2)
    >>> batches = [(torch.ones(4, 3), torch.zeros(4, dtype=torch.long))] * 2
    >>> adam = torch.optim.Adam(model.parameters(), lr=0.1)
    >>> record = train_with_held_out_loss(model, adam, batches, batches[0])
    >>> round(float(record.median_abs_change[0]), 6)  # Adam's first step: lr in every coordinate
    0.1
    >>> bool(record.held_out_loss[1] < record.held_out_loss[0])
    True
    """
    x_held, y_held = held_out
    if len(x_held) == 0 or len(x_held) != len(y_held):
        raise ValueError(
            f"Invalid held_out: {len(x_held)} inputs and {len(y_held)} labels "
            "(expected the same positive number)"
        )
    changes, losses = [], []
    for batch in batches:
        changes.append(train_recording_changes(model, optimizer, [batch]).median_abs_change[0])
        with torch.no_grad():
            losses.append(F.cross_entropy(model(x_held), y_held).item())
    if not changes:
        raise ValueError("Invalid batches: expected at least one batch")
    return HeldOutRecord(np.array(changes), np.array(losses))
