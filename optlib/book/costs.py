"""What an optimizer costs: the memory its state holds and the time one step takes.

:func:`state_size` is the book's one measure of optimizer memory (chapter 3's per-parameter
ratio, chapter 5's ZeRO shards, the FAQ); :func:`time_per_step` times ``optimizer.step()``.
"""

from __future__ import annotations

import statistics
import time
from typing import NamedTuple

from torch import Tensor
from torch.optim import Optimizer


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= 1)")


class StateSize(NamedTuple):
    """The memory an optimizer's ``state`` holds, split by kind of tensor."""

    param_bytes: int  # bytes of all the parameters the optimizer updates
    per_coordinate_tensors: int  # state tensors shaped like their parameter
    per_coordinate_bytes: int  # their bytes
    other_bytes: int  # every other state tensor (e.g. the step counter)

    @property
    def state_bytes(self) -> int:
        """Bytes of every state tensor (step counters stored as Python ints count 0)."""
        return self.per_coordinate_bytes + self.other_bytes

    @property
    def ratio(self) -> float:
        """State bytes per parameter byte (all state tensors)."""
        return (self.per_coordinate_bytes + self.other_bytes) / self.param_bytes


def state_size(optimizer: Optimizer) -> StateSize:
    """Measure the tensors in ``optimizer.state`` against the parameters it optimizes.

    Call it after at least one ``step()`` (most optimizers create their state lazily). Tensors
    shaped like their parameter count as per-coordinate state; the rest (each tensor's step
    count, a float32 scalar in ``torch.optim`` and ``optlib.optim``) as other state. Plain Python
    numbers count as zero bytes; an optimizer without state (plain SGD) has ratio 0.
    """
    params = [param for group in optimizer.param_groups for param in group["params"]]
    param_bytes = sum(param.numel() * param.element_size() for param in params)
    if param_bytes == 0:
        raise ValueError("Invalid optimizer: its parameters hold no elements")
    per_coordinate_tensors = per_coordinate_bytes = other_bytes = 0
    for param in params:
        for value in optimizer.state.get(param, {}).values():
            if not isinstance(value, Tensor):
                continue
            size = value.numel() * value.element_size()
            if value.shape == param.shape and value.dim() > 0:
                per_coordinate_tensors += 1
                per_coordinate_bytes += size
            else:
                other_bytes += size
    return StateSize(param_bytes, per_coordinate_tensors, per_coordinate_bytes, other_bytes)


def time_per_step(optimizer: Optimizer, *, steps: int = 50, repeats: int = 5) -> float:
    """Median wall-clock seconds of one ``optimizer.step()``, gradients left as they are.

    Runs ``repeats`` timed blocks of ``steps`` steps (after one warm-up step) and returns the
    median block time divided by ``steps``. The parameters change: time a copy of the model.
    """
    _check_positive_int("steps", steps)
    _check_positive_int("repeats", repeats)
    optimizer.step()
    blocks = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            optimizer.step()
        blocks.append((time.perf_counter() - start) / steps)
    return statistics.median(blocks)
