"""Models: the article's architecture, seeded construction, device choice, fingerprints."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from optlib import training
from optlib.training import MLP, LogisticRegression, make_model
from optlib.training.models import parameter_fingerprint


def test_mlp_is_the_articles_784_128_10_relu_network():
    model = make_model("mlp", seed=0)
    assert isinstance(model, MLP)
    assert (model.fc1.in_features, model.fc1.out_features) == (784, 128)
    assert (model.fc2.in_features, model.fc2.out_features) == (128, 10)
    assert sum(p.numel() for p in model.parameters()) == 784 * 128 + 128 + 128 * 10 + 10

    x = torch.rand(5, 784)
    hidden = torch.clamp(x @ model.fc1.weight.T + model.fc1.bias, min=0.0)
    expected = hidden @ model.fc2.weight.T + model.fc2.bias
    torch.testing.assert_close(model(x), expected)


def test_logistic_regression_is_one_affine_map():
    model = make_model("logreg", seed=0)
    assert isinstance(model, LogisticRegression)
    assert sum(p.numel() for p in model.parameters()) == 784 * 10 + 10
    x = torch.rand(5, 784)
    torch.testing.assert_close(model(x), x @ model.linear.weight.T + model.linear.bias)


@pytest.mark.parametrize("name", ["mlp", "logreg"])
def test_image_shaped_inputs_are_flattened(name):
    model = make_model(name, seed=0)
    images = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(model(images), model(images.reshape(3, 784)))


@pytest.mark.parametrize("name", ["mlp", "logreg"])
def test_same_seed_gives_identical_weights_and_other_seed_differs(name):
    first, again, other = (make_model(name, seed=s) for s in (7, 7, 8))
    for p, q, r in zip(first.parameters(), again.parameters(), other.parameters(), strict=True):
        assert torch.equal(p, q)
        assert not torch.equal(p, r)


def test_weights_follow_torch_default_initialisation_for_that_seed():
    torch.manual_seed(3)
    reference = nn.Linear(784, 10)
    model = make_model("logreg", seed=3)
    assert torch.equal(model.linear.weight, reference.weight)
    assert torch.equal(model.linear.bias, reference.bias)


def test_global_random_state_is_left_untouched():
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    make_model("mlp", seed=0)
    assert torch.equal(torch.rand(4), expected)


def test_sizes_are_configurable():
    model = make_model("mlp", seed=0, in_features=20, n_classes=3)
    assert model(torch.rand(2, 20)).shape == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "resnet"}, "Unknown model name: 'resnet'"),
        ({"name": "mlp", "in_features": 0}, "Invalid in_features: 0"),
        ({"name": "mlp", "n_classes": 1}, "Invalid n_classes: 1"),
    ],
)
def test_invalid_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_model(**kwargs, seed=0)


def test_unknown_model_error_lists_the_valid_names():
    with pytest.raises(ValueError, match="logreg.*mlp"):
        make_model("resnet", seed=0)


def test_device_prefers_cuda_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training.device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training.device() == torch.device("cpu")


def test_fingerprint_detects_a_one_ulp_change():
    model = make_model("logreg", seed=0)
    copy = make_model("logreg", seed=0)
    assert parameter_fingerprint(model) == parameter_fingerprint(copy)
    with torch.no_grad():
        weight = copy.linear.weight
        weight[0, 0] = torch.nextafter(weight[0, 0], torch.tensor(1.0))
    assert parameter_fingerprint(model) != parameter_fingerprint(copy)
