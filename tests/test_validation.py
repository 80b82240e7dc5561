"""Invalid hyperparameters are rejected at the boundary with an error naming them: a ValueError
for a bad value, a TypeError for something that is not a number (or not a flag)."""

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


TORCH_CLASSES = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
}
NUMERIC = {
    "sgd": ["lr", "momentum", "dampening", "weight_decay"],
    "adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"],
    "rmsprop": ["lr", "alpha", "eps", "weight_decay", "momentum"],
    "adam": ["lr", "eps", "weight_decay"],
    "adamw": ["lr", "eps", "weight_decay"],
}
NOT_NUMBERS = ["0.1", None, [0.1], "fast"]
NON_NUMERIC_CASES = [
    pytest.param(name, keyword, value, id=f"{name}-{keyword}-{value!r}")
    for name, keywords in NUMERIC.items()
    for keyword in keywords
    for value in NOT_NUMBERS
]


def test_every_numeric_hyperparameter_is_covered():
    import inspect

    for name, optimizer_class in optim.OPTIMIZERS.items():
        signature = inspect.signature(optimizer_class.__init__).parameters.values()
        numeric = {p.name for p in signature if isinstance(p.default, int | float)}
        numeric -= {p.name for p in signature if isinstance(p.default, bool)}
        assert numeric == set(NUMERIC[name]), name


@pytest.mark.parametrize(("name", "keyword", "value"), NON_NUMERIC_CASES)
def test_a_hyperparameter_that_is_not_a_number_is_refused_at_construction(name, keyword, value):
    """Where torch.optim checks a keyword, it refuses these too (a TypeError from comparing them
    with 0.0); optlib checks every keyword, and names it. lr="0.1" must not be parsed: a
    scheduler would later fail on it."""
    param = torch.nn.Parameter(torch.ones(2))
    try:
        TORCH_CLASSES[name]([param], **{keyword: -1.0})
    except ValueError:  # torch checks this keyword: then it refuses non-numbers too
        with pytest.raises((TypeError, ValueError)):
            TORCH_CLASSES[name]([param], **{keyword: value})
    with pytest.raises(TypeError, match=rf"Invalid {keyword}: expected a real number, got "):
        optim.OPTIMIZERS[name]([param], **{keyword: value})


@pytest.mark.parametrize("name", ["adam", "adamw"])
@pytest.mark.parametrize(
    ("betas", "culprit"),
    [(("a", 0.9), "beta1"), ((0.9, None), "beta2"), ((0.9, "0.999"), "beta2"), ("ab", "betas")],
)
def test_betas_that_are_not_numbers_are_refused(name, betas, culprit):
    param = torch.nn.Parameter(torch.ones(2))
    with pytest.raises((TypeError, ValueError)):
        TORCH_CLASSES[name]([param], betas=betas)
    with pytest.raises(TypeError, match=culprit):
        optim.OPTIMIZERS[name]([param], betas=betas)


FLAGS = [
    ("sgd", "nesterov"),
    ("sgd", "maximize"),
    ("adam", "amsgrad"),
    ("adam", "maximize"),
    ("adamw", "amsgrad"),
    ("adagrad", "maximize"),
    ("rmsprop", "centered"),
    ("rmsprop", "maximize"),
]


@pytest.mark.parametrize(("name", "flag"), FLAGS)
@pytest.mark.parametrize("value", ["no", 1, None])
def test_a_flag_that_is_not_a_bool_is_refused(name, flag, value):
    """torch.optim takes amsgrad="no" as true; optlib refuses it, naming the flag."""
    param = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(TypeError, match=rf"Invalid {flag}: expected True or False, got "):
        optim.OPTIMIZERS[name]([param], momentum=0.9, **{flag: value}) if name == "sgd" else (
            optim.OPTIMIZERS[name]([param], **{flag: value})
        )


def test_numbers_of_every_real_kind_are_accepted():
    import numpy as np

    param = torch.nn.Parameter(torch.ones(2))
    for lr in (1, 0.5, np.float32(0.5), np.float64(0.5), torch.tensor(0.5)):
        optimizer = optim.Adam([param], lr=lr, betas=(np.float64(0.9), 0.999), eps=0)
        param.grad = torch.ones(2)
        optimizer.step()


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
def test_sparse_gradients_are_refused_with_torchs_message(name):
    """torch.optim.Adam/AdamW/RMSprop refuse sparse gradients; so does optlib, with the same
    message (Adagrad takes them: tests/test_optim_dropin.py). torch.optim.SGD takes them but
    optlib's SGD does not, and says so."""
    embedding = torch.nn.Embedding(10, 3, sparse=True)
    before = embedding.weight.detach().clone()
    optimizer = optim.OPTIMIZERS[name](embedding.parameters())
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="does not support sparse gradients") as ours:
        optimizer.step()
    assert torch.equal(embedding.weight, before)
    if name != "sgd":
        with pytest.raises(RuntimeError) as theirs:
            TORCH_CLASSES[name](embedding.parameters()).step()
        assert str(ours.value) == str(theirs.value)


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
