"""The two models the book trains, built reproducibly from a seed.

* :class:`MLP` is the source article's network, ``Linear(784, 128) -> ReLU -> Linear(128, 10)``.
* :class:`LogisticRegression` is multinomial logistic regression, a single ``Linear(784, 10)``
  layer; with cross entropy its loss is convex, which is the setting of the Adam paper's
  logistic-regression experiment (Kingma & Ba, 2015, section 6.1).

Both return *logits*; the softmax lives inside the cross-entropy loss.

:func:`make_model` builds either one from a seed without touching the global random number
generator, so every optimizer in a comparison can start from bit-identical weights::

    >>> a = make_model("mlp", seed=0)
    >>> b = make_model("mlp", seed=0)
    >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

MNIST_FEATURES = 28 * 28
MNIST_CLASSES = 10


class MLP(nn.Module):
    r"""The source article's network: ReLU hidden layers (by default one, of 128 units).

    .. math:: f(x) = W_2\,\max(0,\; W_1 x + b_1) + b_2,
              \qquad W_1 \in \mathbb{R}^{128\times 784},\; W_2 \in \mathbb{R}^{10\times 128}

    With the default sizes it has :math:`784\cdot128 + 128 + 128\cdot10 + 10 = 101\,770`
    parameters. ``hidden`` may list several widths (``fc1``, ``fc2``, ... in order). Inputs of
    shape ``(N, 784)`` or ``(N, 1, 28, 28)`` both work.
    """

    def __init__(
        self,
        in_features: int = MNIST_FEATURES,
        n_classes: int = MNIST_CLASSES,
        hidden: int | Sequence[int] = 128,
    ) -> None:
        super().__init__()
        widths = [in_features, *([hidden] if isinstance(hidden, int) else hidden), n_classes]
        self.layers = [nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)]
        for number, layer in enumerate(self.layers, start=1):
            self.add_module(f"fc{number}", layer)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(x, 1)
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


class LogisticRegression(nn.Module):
    r"""Multinomial logistic regression: class scores are an affine function of the input.

    .. math:: f(x) = W x + b, \qquad p(y = k \mid x) = \operatorname{softmax}(f(x))_k

    Together with cross entropy (and an optional L2 penalty) the objective is convex in
    :math:`(W, b)`.
    """

    def __init__(self, in_features: int = MNIST_FEATURES, n_classes: int = MNIST_CLASSES) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(torch.flatten(x, 1))


ModelFactory = Callable[..., nn.Module]
"""Builds a model from ``(in_features, n_classes)``."""

MODELS: dict[str, ModelFactory] = {
    "mlp": MLP,
    "logreg": LogisticRegression,
}
"""Model names accepted by :func:`make_model`."""


def make_model(
    name: str,
    *,
    seed: int,
    in_features: int = MNIST_FEATURES,
    n_classes: int = MNIST_CLASSES,
    **options: Any,
) -> nn.Module:
    """Build model ``name`` with PyTorch's default initialisation, drawn from ``seed``.

    ``options`` go to the model's class (e.g. ``hidden=(64, 32)`` for the MLP).

    The initial weights depend only on ``(name, seed, in_features, n_classes)``. The draw
    happens inside :func:`torch.random.fork_rng`, so the caller's global random state is the same
    afterwards as before. The model is created on the CPU (so the weights do not depend on the
    device either); move it with ``.to(device())``.

    >>> make_model("logreg", seed=1).linear.weight.shape
    torch.Size([10, 784])
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model name: {name!r}; expected one of {sorted(MODELS)}")
    if in_features < 1:
        raise ValueError(f"Invalid in_features: {in_features}")
    if n_classes < 2:
        raise ValueError(f"Invalid n_classes: {n_classes} (need at least 2)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODELS[name](in_features, n_classes, **options)


def device() -> torch.device:
    """The device to train on: the first CUDA GPU when one is available, otherwise the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def parameter_fingerprint(model: nn.Module) -> str:
    """A short SHA-256 hex digest of every parameter's name, shape, dtype and bytes.

    Two models have the same fingerprint exactly when their parameters are bit-identical, which
    is how a run record proves that two optimizers started from the same weights.
    """
    digest = hashlib.sha256()
    for name, parameter in model.named_parameters():
        values = parameter.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(values.shape)}:{values.dtype};".encode())
        digest.update(values.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]
