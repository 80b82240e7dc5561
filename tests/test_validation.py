"""Invalid hyperparameters are rejected at the boundary with a ValueError naming them."""

from __future__ import annotations

import math

import pytest
import torch

from optlib import optim

INVALID = [
    ("sgd", {"lr": -1.0}, "lr"),
    ("sgd", {"lr": math.nan}, "lr"),
    ("sgd", {"momentum": -0.1}, "momentum"),
    ("sgd", {"weight_decay": -1e-4}, "weight_decay"),
    ("sgd", {"dampening": -0.5}, "dampening"),
    ("sgd", {"nesterov": True}, "nesterov"),
    ("sgd", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "nesterov"),
    ("adagrad", {"lr": -0.01}, "lr"),
    ("adagrad", {"lr": math.nan}, "lr"),
    ("adagrad", {"lr_decay": -1.0}, "lr_decay"),
    ("adagrad", {"weight_decay": -1.0}, "weight_decay"),
    ("adagrad", {"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
    ("adagrad", {"eps": -1e-10}, "eps"),
    ("rmsprop", {"lr": -1.0}, "lr"),
    ("rmsprop", {"alpha": -0.5}, "alpha"),
    ("rmsprop", {"eps": -1.0}, "eps"),
    ("rmsprop", {"momentum": -0.9}, "momentum"),
    ("rmsprop", {"weight_decay": -0.1}, "weight_decay"),
    ("adam", {"lr": -1e-3}, "lr"),
    ("adam", {"lr": math.nan}, "lr"),
    ("adam", {"lr": math.inf}, "lr"),
    ("adam", {"eps": -1e-8}, "eps"),
    ("adam", {"betas": (1.0, 0.999)}, "beta1"),
    ("adam", {"betas": (-0.1, 0.999)}, "beta1"),
    ("adam", {"betas": (0.9, 1.0)}, "beta2"),
    ("adam", {"betas": (0.9, math.nan)}, "beta2"),
    ("adam", {"betas": (0.9,)}, "betas"),
    ("adam", {"weight_decay": -0.01}, "weight_decay"),
    ("adam", {"fused": True}, "fused"),
    ("adam", {"capturable": True}, "capturable"),
    ("adamw", {"weight_decay": -0.01}, "weight_decay"),
    ("adamw", {"betas": (0.9, 1.5)}, "beta2"),
    ("adam", {"lr": "fast"}, "lr"),
]


@pytest.mark.parametrize(("name", "hyper", "culprit"), INVALID)
def test_invalid_hyperparameter_is_named(name, hyper, culprit):
    param = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match=culprit) as error:
        optim.OPTIMIZERS[name]([param], **hyper)
    bad_value = next(iter(hyper.values())) if culprit not in ("beta1", "beta2") else None
    if bad_value is not None and not isinstance(bad_value, bool):
        assert repr(bad_value) in str(error.value) or str(bad_value) in str(error.value)


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_defaults_are_valid_and_zero_is_allowed(name):
    param = torch.nn.Parameter(torch.ones(2))
    optim.OPTIMIZERS[name]([param])
    optim.OPTIMIZERS[name]([param], lr=0.0, weight_decay=0.0)


def test_sparse_gradients_are_refused_with_a_clear_error():
    embedding = torch.nn.Embedding(10, 3, sparse=True)
    optimizer = optim.Adagrad(embedding.parameters())
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        optimizer.step()


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_a_learning_rate_the_dtype_cannot_hold_is_named(name):
    param = torch.nn.Parameter(torch.ones(3))  # float32: at most 3.4e38
    param.grad = torch.ones(3)
    optimizer = optim.OPTIMIZERS[name]([param], lr=1e300)
    with pytest.raises(ValueError, match=r"Invalid lr: 1e\+300 .*torch.float32"):
        optimizer.step()
    assert torch.equal(param, torch.ones(3))  # refused before touching anything
    double = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    double.grad = torch.ones(3, dtype=torch.float64)
    optim.OPTIMIZERS[name]([double], lr=1e300).step()  # float64 holds it
