"""TensorList: the rules run on lists of tensors and give exactly the per-tensor numbers."""

from __future__ import annotations

import operator

import numpy as np
import pytest
import torch

from optlib import optim, rules
from optlib.tensorlist import TensorList


def tensors(dtype: torch.dtype, seed: int = 0, positive: bool = False) -> list[torch.Tensor]:
    """A 0-d scalar, a vector, a matrix and a non-contiguous (transposed) matrix."""
    generator = torch.Generator().manual_seed(seed)
    shapes = [(), (5,), (3, 4)]
    result = [torch.randn(shape, generator=generator, dtype=dtype) for shape in shapes]
    result.append(torch.randn(4, 6, generator=generator, dtype=dtype).t())
    return [t.abs() + 0.1 for t in result] if positive else result


def assert_same(got: TensorList, expected: list[torch.Tensor]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert torch.equal(a, b), (a, b)  # bitwise, not approximately


BINARY = [operator.add, operator.sub, operator.mul, operator.truediv]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.__name__)
def test_operators_match_torch_bitwise(op, dtype):
    a, b = tensors(dtype, 0, positive=True), tensors(dtype, 1, positive=True)
    assert_same(op(TensorList(a), TensorList(b)), [op(x, y) for x, y in zip(a, b, strict=True)])
    assert_same(op(TensorList(a), 0.3), [op(x, 0.3) for x in a])  # number on the right
    assert_same(op(0.3, TensorList(a)), [op(0.3, x) for x in a])  # reflected


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("exponent", [0.5, 2, 1.5, -1.0])
def test_power_and_negation_match_torch_bitwise(dtype, exponent):
    a = tensors(dtype, positive=True)
    assert_same(TensorList(a) ** exponent, [x**exponent for x in a])
    assert_same(-TensorList(a), [-x for x in a])


def test_numpy_numbers_work_as_operands():
    a = tensors(torch.float64)
    assert_same(np.float64(0.3) * TensorList(a), [0.3 * x for x in a])
    assert_same(1 - np.float32(0.5) * TensorList(a), [1 - 0.5 * x for x in a])


def test_maximum_is_elementwise():
    a, b = tensors(torch.float64, 0), tensors(torch.float64, 1)
    assert_same(
        TensorList(a).maximum(TensorList(b)),
        [torch.maximum(x, y) for x, y in zip(a, b, strict=True)],
    )


def test_branching_on_values_and_mismatched_lengths_are_refused():
    a = TensorList(tensors(torch.float64))
    with pytest.raises(TypeError, match="ambiguous"):
        bool(a)
    with pytest.raises(TypeError, match="maximum"):
        max(a, a)  # what rules.elementwise_max falls back to for unknown types
    with pytest.raises(ValueError, match="lengths 4 and 3"):
        a + TensorList(list(a)[:3])
    with pytest.raises(TypeError):
        a + "text"


RULE_CASES = [
    ("sgd", rules.sgd_init, rules.sgd_update, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("adagrad", rules.adagrad_init, rules.adagrad_update, {"lr": 0.1, "lr_decay": 0.01}),
    (
        "rmsprop",
        lambda p: rules.rmsprop_init(p, momentum=0.5, centered=True),
        rules.rmsprop_update,
        {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1},
    ),
    ("adam", rules.adam_init, rules.adam_update, {"lr": 0.1, "weight_decay": 0.1}),
    (
        "amsgrad",  # rules.elementwise_max knows TensorLists
        lambda p: rules.adam_init(p, amsgrad=True),
        rules.adam_update,
        {"lr": 0.1, "amsgrad": True},
    ),
    ("adamw", rules.adam_init, rules.adamw_update, {"lr": 0.1, "maximize": True}),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("name", "init", "update", "hyper"), RULE_CASES, ids=[case[0] for case in RULE_CASES]
)
def test_every_rule_gives_per_tensor_numbers_on_a_tensorlist(name, init, update, hyper, dtype):
    params = tensors(dtype, 0)
    states = [init(p) for p in params]
    stacked = type(states[0])(
        *(
            TensorList(v) if isinstance(v[0], torch.Tensor) else v[0]
            for v in zip(*states, strict=True)
        )
    )
    for step in range(5):
        grads = tensors(dtype, 10 + step)
        per_tensor = [
            update(g, s, p, **hyper) for g, s, p in zip(grads, states, params, strict=True)
        ]
        delta, stacked = update(TensorList(grads), stacked, TensorList(params), **hyper)
        assert_same(delta, [d for d, _ in per_tensor])
        states = [s for _, s in per_tensor]
        for field, value in zip(stacked._fields, stacked, strict=True):
            if isinstance(value, TensorList):
                assert_same(value, [getattr(s, field) for s in states])
        params = [p + d for p, (d, _) in zip(params, per_tensor, strict=True)]


RULE_ONLY = ["sgd", "rmsprop"]  # optimizers whose grouped step runs the rule on TensorLists


@pytest.mark.parametrize("name", RULE_ONLY)
def test_grouped_step_equals_the_per_tensor_loop_bitwise(name, run_mixed_groups):
    """Without an in-place kernel, ``step()`` on TensorLists (``foreach=True``) and one tensor at
    a time give identical parameters, with parameter groups, mixed dtypes and parameters that
    miss some gradients. (Adam's and Adagrad's kernels: ``tests/test_kernels.py``.)"""
    assert optim.OPTIMIZERS[name].kernel is None
    optimizer_class = optim.OPTIMIZERS[name]
    grouped, _ = run_mixed_groups(optimizer_class, foreach=True, momentum=0.9)
    single, _ = run_mixed_groups(optimizer_class, foreach=False, momentum=0.9)
    for ours, reference in zip(grouped, single, strict=True):
        assert torch.equal(ours, reference)


def test_only_foreach_false_selects_the_per_tensor_loop():
    param = torch.nn.Parameter(torch.ones(3))
    for foreach, expected in ((None, True), (True, True), (False, False)):
        optimizer = optim.Adam([param], foreach=foreach)
        assert optimizer.steps_tensors_together(optimizer.param_groups[0]) is expected
