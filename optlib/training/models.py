"""The models the book trains, built reproducibly from a seed.

* :class:`MLP` is the source article's network, ``Linear(784, 128) -> ReLU -> Linear(128, 10)``;
  ``"mlp-kb"`` is Kingma & Ba's (2015, section 6.2) 784-1000-1000-10 ReLU network and
  ``"mlp-kb-dropout"`` the same with dropout (:class:`SeededDropout`) after each hidden layer.
* :class:`LogisticRegression` is multinomial logistic regression, a single ``Linear(784, 10)``
  layer; with cross entropy its loss is convex, which is the setting of the Adam paper's
  logistic-regression experiment (Kingma & Ba, 2015, section 6.1).
* :class:`CNN` is a small convolutional network for 28 x 28 images.

All return *logits*; the softmax lives inside the cross-entropy loss.

:func:`make_model` builds any of them from a seed without touching the global random number
generator, so every optimizer in a comparison can start from bit-identical weights::

    >>> a = make_model("mlp", seed=0)
    >>> b = make_model("mlp", seed=0)
    >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MNIST_FEATURES = 28 * 28
MNIST_CLASSES = 10


class SeededDropout(nn.Module):
    r"""Dropout (:class:`torch.nn.Dropout`'s formula) whose masks come from the module's own
    random stream, stored with the weights.

    In training mode each unit is kept with probability :math:`1 - p` and scaled by
    :math:`1/(1-p)`; in evaluation mode the input passes unchanged. ``nn.Dropout`` draws its masks
    from torch's global generator, so two optimizers started from the same seed would see
    different masks, and a run resumed from a checkpoint other masks than an uninterrupted one.
    Here the generator's state is a buffer, ``rng_state``: ``state_dict()`` (hence every
    checkpoint) and ``copy.deepcopy`` carry it, so runs of one seed drop the same units at the
    same steps, and a resumed run continues the same stream.
    """

    def __init__(self, p: float, seed: int) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Invalid dropout probability: {p} (expected 0 <= p < 1)")
        self.p = p
        self.register_buffer("rng_state", torch.Generator().manual_seed(seed).get_state())

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        generator = torch.Generator()
        generator.set_state(self.rng_state.cpu())
        keep = torch.rand(x.shape, generator=generator) >= self.p
        self.rng_state.copy_(generator.get_state())
        return x * keep.to(x.device, x.dtype) / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MLP(nn.Module):
    r"""The source article's network: ReLU hidden layers (by default one, of 128 units).

    .. math:: f(x) = W_2\,\max(0,\; W_1 x + b_1) + b_2,
              \qquad W_1 \in \mathbb{R}^{128\times 784},\; W_2 \in \mathbb{R}^{10\times 128}

    With the default sizes it has :math:`784\cdot128 + 128 + 128\cdot10 + 10 = 101\,770`
    parameters. ``hidden`` may list several widths (``fc1``, ``fc2``, ... in order). Inputs of
    shape ``(N, 784)`` or ``(N, 1, 28, 28)`` both work.

    ``dropout`` > 0 adds a :class:`SeededDropout` after every hidden ReLU. Its random stream is
    seeded by one draw from torch's generator *after* the layers are built, so the weights are
    those of the same network without dropout.
    """

    def __init__(
        self,
        in_features: int = MNIST_FEATURES,
        n_classes: int = MNIST_CLASSES,
        hidden: int | Sequence[int] = 128,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        widths = [in_features, *([hidden] if isinstance(hidden, int) else hidden), n_classes]
        self.layers = [nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)]
        for number, layer in enumerate(self.layers, start=1):
            self.add_module(f"fc{number}", layer)
        self.dropout = None
        if dropout:
            self.dropout = SeededDropout(dropout, seed=int(torch.randint(2**62, ())))

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(x, 1)
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
            if self.dropout is not None:
                x = self.dropout(x)
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


class CNN(nn.Module):
    r"""A small convolutional network for 28 x 28 grey images (about 9,000 weights)::

        conv 3x3, 1 -> 8 channels, padding 1 -> ReLU -> max-pool 2x2     (8 x 14 x 14)
        conv 3x3, 8 -> 16 channels, padding 1 -> ReLU -> max-pool 2x2    (16 x 7 x 7)
        flatten -> Linear(784, n_classes)

    Inputs of shape ``(N, 784)`` or ``(N, 1, 28, 28)`` both work.
    """

    eval_batch_size = 500
    """Images per forward pass in :func:`optlib.training.evaluate`: on one CPU thread, 10,000
    images at once took 9.4 s and 20 chunks of 500 took 2.6 s (measured on the validation split;
    the activations of 10,000 images no longer fit in the caches)."""

    def __init__(self, in_features: int = MNIST_FEATURES, n_classes: int = MNIST_CLASSES) -> None:
        super().__init__()
        if in_features != MNIST_FEATURES:
            raise ValueError(
                f"Invalid in_features: {in_features}; the CNN takes 28 x 28 = 784-pixel images"
            )
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.fc = nn.Linear(16 * 7 * 7, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = x.reshape(-1, 1, 28, 28)
        x = F.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = F.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


def _kingma_ba_mlp(in_features: int, n_classes: int, dropout: float = 0.0) -> MLP:
    """Kingma & Ba's (2015, section 6.2) network: two hidden layers of 1000 ReLUs."""
    return MLP(in_features, n_classes, hidden=(1000, 1000), dropout=dropout)


KINGMA_BA_DROPOUT = 0.5
"""Dropout probability of ``"mlp-kb-dropout"`` (the paper does not state it; 0.5 is the usual
value for hidden layers, Srivastava et al., 2014)."""

ModelFactory = Callable[..., nn.Module]
"""Builds a model from ``(in_features, n_classes)``."""

MODELS: dict[str, ModelFactory] = {
    "mlp": MLP,
    "logreg": LogisticRegression,
    "mlp-kb": _kingma_ba_mlp,
    "mlp-kb-dropout": partial(_kingma_ba_mlp, dropout=KINGMA_BA_DROPOUT),
    "cnn": CNN,
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
