"""Between torch.optim's state dicts and the typed states of :mod:`optlib.rules`.

A rule of :mod:`optlib.rules` takes and returns a small NamedTuple (``AdamState(step, exp_avg,
exp_avg_sq, max_exp_avg_sq)``); a ``torch.optim.Optimizer`` keeps, per parameter, a dict in
torch's layout (``{"step": tensor(3.), "exp_avg": ..., "exp_avg_sq": ...}``). The optimizers of
:mod:`optlib.optim` keep torch's layout, so state dicts load across the two libraries both ways,
and convert at each step:

- :func:`stored_state` turns a rule's initial state into torch's dict (the step a 0-d tensor,
  absent buffers left out, a field renamed where torch's key differs: Adagrad's ``sum``);
- :func:`rule_state` is its inverse, for one tensor; :func:`rule_states` gathers a list of
  tensors into one NamedTuple of lists, as :mod:`optlib.kernels` takes them;
- :func:`write_back` stores a rule's new state in place, keeping the tensors' identity;
- :func:`rule_hyperparameters` reads a param group's values of a rule's keywords;
- :class:`StepAsTensor`, the optimizers' base class, turns step counts stored as numbers into
  tensors on ``load_state_dict``, as ``torch.optim.Adam`` does.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch.optim import Optimizer

from optlib.validation import checked_lr


def step_tensor(count: float = 0.0) -> torch.Tensor:
    """A step count as torch.optim stores it (``capturable=False``, ``fused=None``): a 0-d CPU
    tensor, float64 if that is the default dtype, else float32 (exact up to 2**24 steps)."""
    dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    return torch.tensor(float(count), dtype=dtype, device="cpu")


def stored_state(rule_state: NamedTuple, rename: dict[str, str] | None = None) -> dict[str, Any]:
    """A rule's (initial) state in torch.optim's layout: the step a tensor, absent buffers left
    out, ``rename`` mapping a field to torch's key where they differ (Adagrad's ``sum``)."""
    rename = rename or {}
    stored = {}
    for field, value in rule_state._asdict().items():
        if value is not None:
            stored[rename.get(field, field)] = step_tensor(value) if field == "step" else value
    return stored


def rule_state(state_type: type, stored: dict, rename: dict[str, str] | None = None):
    """The inverse of :func:`stored_state`: the rule's NamedTuple, the step count an int."""
    rename = rename or {}
    fields = {field: stored.get(rename.get(field, field)) for field in state_type._fields}
    if "step" in fields:
        fields["step"] = int(fields["step"])
    return state_type(**fields)


def rule_states(state_type: type, states: list[dict], rename: dict[str, str] | None = None):
    """The rule's NamedTuple for a list of tensors, as :mod:`optlib.kernels` takes it: each field
    a list with one entry per tensor (the stored tensors themselves, and the step counts)."""
    per_tensor = [rule_state(state_type, stored, rename) for stored in states]
    return state_type(
        *(None if values[0] is None else list(values) for values in zip(*per_tensor, strict=True))
    )


def write_back(stored: dict, new_state: NamedTuple, rename: dict[str, str] | None = None) -> None:
    """Store a rule's new state in torch.optim's layout, in place: the state tensors keep their
    identity (what torch.optim does, and what ``Adagrad.share_memory`` relies on)."""
    rename = rename or {}
    for field, value in new_state._asdict().items():
        key = rename.get(field, field)
        if value is None or stored.get(key) is value:
            continue
        if field == "step":
            stored[key].fill_(value)
        elif key in stored:
            stored[key].copy_(value)
        else:  # SGD's momentum buffer appears at the first step
            stored[key] = value


def rule_hyperparameters(
    group: dict[str, Any], params: list[torch.Tensor], names: tuple[str, ...]
) -> dict[str, Any]:
    """The group's values of the rule's keywords ``names``, the learning rate checked."""
    return {name: group[name] for name in names} | {"lr": checked_lr(group, params)}


class StepAsTensor(Optimizer):
    """Converts step counts stored as numbers (state dicts of optlib before 2.0, or hand-made)
    into tensors on ``load_state_dict``, as ``torch.optim.Adam.__setstate__`` does."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for param_state in self.state.values():
            if "step" in param_state and not torch.is_tensor(param_state["step"]):
                param_state["step"] = step_tensor(param_state["step"])
