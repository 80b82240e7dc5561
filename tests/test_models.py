"""Models: the article's architecture, the CNN, Kingma & Ba's MLP with seeded dropout, seeded
construction, device choice, fingerprints."""

from __future__ import annotations

from copy import deepcopy

import pytest
import torch
from torch import nn

from optlib import training
from optlib.optim import make_optimizer
from optlib.training import MLP, LogisticRegression, evaluate, fit, make_model
from optlib.training.models import CNN, SeededDropout, parameter_fingerprint

pytestmark = pytest.mark.usefixtures("one_thread")


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


def test_cnn_shapes_and_seeded_initialisation():
    model = make_model("cnn", seed=3)
    assert isinstance(model, CNN)
    images = torch.rand(4, 1, 28, 28)
    assert model(images).shape == (4, 10)
    torch.testing.assert_close(model(images), model(images.reshape(4, 784)))
    again, other = make_model("cnn", seed=3), make_model("cnn", seed=4)
    for p, q, r in zip(model.parameters(), again.parameters(), other.parameters(), strict=True):
        assert torch.equal(p, q) and not torch.equal(p, r)
    with pytest.raises(ValueError, match="Invalid in_features: 20"):
        make_model("cnn", seed=0, in_features=20)


def test_cnn_is_evaluated_in_chunks_of_its_eval_batch_size():
    model = make_model("cnn", seed=0)
    x, y = torch.rand(1200, 784), torch.randint(10, (1200,))
    sizes = []
    model.register_forward_hook(lambda module, inputs, output: sizes.append(len(inputs[0])))
    chunked = evaluate(model, x, y)
    assert sizes == [500, 500, 200]
    whole = evaluate(model, x, y, batch_size=1200)
    assert chunked.accuracy == whole.accuracy
    assert chunked.loss == pytest.approx(whole.loss, rel=1e-6)


def test_kingma_ba_mlp_with_dropout_starts_from_the_weights_without():
    plain, dropped = make_model("mlp-kb", seed=1), make_model("mlp-kb-dropout", seed=1)
    assert [p.shape for p in plain.parameters()] == [
        (1000, 784), (1000,), (1000, 1000), (1000,), (10, 1000), (10,)
    ]  # fmt: skip
    for p, q in zip(plain.parameters(), dropped.parameters(), strict=True):
        assert torch.equal(p, q)
    x = torch.rand(3, 784)
    dropped.eval()
    torch.testing.assert_close(dropped(x), plain(x))  # evaluation: dropout passes through


def test_seeded_dropout_is_reproducible_and_travels_with_the_state():
    layer = SeededDropout(0.5, seed=7)
    twin = deepcopy(layer)
    x = torch.ones(64, 100)
    first = layer(x)
    assert set(first.unique().tolist()) == {0.0, 2.0}  # kept units scaled by 1 / (1 - p)
    assert 0.35 < (first == 0).float().mean() < 0.65
    torch.testing.assert_close(twin(x), first)  # a copy draws the same masks
    assert not torch.equal(layer(x), first)  # the stream moves on
    restored = SeededDropout(0.5, seed=0)
    restored.load_state_dict(layer.state_dict())
    torch.testing.assert_close(restored(x), layer(x))  # a checkpoint continues the stream
    with pytest.raises(ValueError, match="Invalid dropout probability: 1.0"):
        SeededDropout(1.0, seed=0)


def test_dropout_mlp_resumes_bit_identically(tmp_path):
    from test_suites import tiny_task

    task = tiny_task("mlp", n_features=784, n_classes=10)
    task = task._replace(model="mlp-kb-dropout")
    options = dict(epochs=2, batch_size=32, seed=0, progress=False)

    def run(**extra):
        model = task.make_model(0)
        optimizer = make_optimizer("adam", model.parameters(), lr=1e-3)
        return fit(model, optimizer, task, **options, **extra)

    whole = run()
    checkpoint = tmp_path / "run.pt"
    run(checkpoint=checkpoint, max_steps=4)  # one epoch (4 steps) checkpointed
    resumed = run(checkpoint=checkpoint)
    assert resumed.train_loss == whole.train_loss
    assert resumed.epoch_val_loss == whole.epoch_val_loss
