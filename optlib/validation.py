"""Validation at the boundary of :mod:`optlib.optim`: what its optimizers refuse, and how.

As in ``torch/optim/adam.py``, each constructor checks every hyperparameter before it builds
anything, with a message naming the keyword (``Invalid lr: -1.0 (expected a finite number >=
0)``). optlib is stricter than torch.optim about types: ``lr="0.1"``, ``eps=None`` or
``amsgrad="yes"`` raise a ``TypeError`` naming the keyword, rather than being parsed or taken
as true. :func:`check_default_only` refuses the implementation switches (``fused``,
``capturable``, ``differentiable``) that only torch.optim implements.

At each ``step()``, :func:`checked_lr` re-checks the learning rate (a scheduler may have set
it) and :func:`params_with_grad` refuses, before touching anything, gradients the rules do not
handle. ``tests/test_validation.py`` covers every keyword of every optimizer.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import torch


def as_float(name: str, value: Any) -> float:
    """``value`` as a float; a ``TypeError`` naming ``name`` unless it is a real number (or a
    one-element real tensor, which torch.optim also takes). Strings are refused, not parsed."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex() or value.dtype == torch.bool:
            raise ValueError(
                f"Invalid {name}: a tensor {name} must hold one real number, got {value}"
            )
        return float(value.item())
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"Invalid {name}: expected a real number, got {value!r} ({type(value).__name__})"
        )
    return float(value)


def check_non_negative(name: str, value: Any) -> None:
    """Raise naming ``name`` unless ``value`` is a finite real number >= 0."""
    number = as_float(name, value)
    if not (math.isfinite(number) and number >= 0.0):
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number >= 0)")


def check_unit_interval(name: str, value: Any) -> None:
    """Raise naming ``name`` unless ``0 <= value < 1``."""
    number = as_float(name, value)
    if not 0.0 <= number < 1.0:  # also rejects NaN
        raise ValueError(f"Invalid {name}: {value!r} (expected 0 <= {name} < 1)")


def check_betas(betas: Any) -> None:
    """Raise unless ``betas`` is a pair with each beta in [0, 1)."""
    if not isinstance(betas, tuple | list):
        raise TypeError(f"Invalid betas: {betas!r} (expected a pair (beta1, beta2))")
    if len(betas) != 2:
        raise ValueError(f"Invalid betas: {betas!r} (expected a pair (beta1, beta2))")
    for index, beta in enumerate(betas):
        check_unit_interval(f"betas[{index}] (beta{index + 1})", beta)


def check_flag(name: str, value: Any, *, none_allowed: bool = False) -> None:
    """Raise a ``TypeError`` naming ``name`` unless ``value`` is ``True`` or ``False``
    (``amsgrad="no"`` would otherwise switch AMSGrad on)."""
    if not (isinstance(value, bool) or (none_allowed and value is None)):
        allowed = "True, False or None" if none_allowed else "True or False"
        raise TypeError(f"Invalid {name}: expected {allowed}, got {value!r}")


def check_default_only(name: str, value: Any, default: Any) -> None:
    """Reject implementation switches that only ``torch.optim`` provides."""
    if value not in (default, None, False):
        raise ValueError(
            f"Invalid {name}: {value!r}. optlib implements only plain tensor operations; "
            f"use torch.optim for {name}={value!r}."
        )


def checked_lr(group: dict[str, Any], params: list[torch.Tensor]) -> float:
    """The group's learning rate as a float (a scheduler may have set it), refused if the
    parameters' dtype cannot hold it (e.g. 1e300 for float32: every weight would turn inf)."""
    lr = as_float("lr", group["lr"])
    for dtype in {param.dtype for param in params}:
        if abs(lr) > torch.finfo(dtype).max:
            raise ValueError(
                f"Invalid lr: {lr!r} is larger than the largest {dtype} "
                f"({torch.finfo(dtype).max:.3g}), the parameters' dtype"
            )
    return lr


def params_with_grad(optimizer_name: str, group: dict[str, Any], *, sparse: bool = False):
    """The group's parameters that have a gradient; refuses, before touching anything, what
    the rules do not handle, with torch.optim's message where it has one."""
    params = [param for param in group["params"] if param.grad is not None]
    for param in params:
        if param.grad.is_sparse and not sparse:
            advice = ", please consider SparseAdam instead" if optimizer_name == "Adam" else ""
            raise RuntimeError(f"{optimizer_name} does not support sparse gradients{advice}")
        if torch.is_complex(param):
            raise RuntimeError(f"{optimizer_name} in optlib does not support complex parameters")
    return params
