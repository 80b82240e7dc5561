"""optlib.optim as a drop-in for torch.optim beyond the arithmetic: the step count's type, state
dicts that load across the two libraries both ways, Adagrad on sparse gradients, and
Adagrad.share_memory(). torch.optim is the oracle throughout."""

from __future__ import annotations

import copy
import io
import multiprocessing

import pytest
import torch

from optlib import optim

TORCH_CLASSES = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
}
CONFIGS = [  # (optimizer, hyperparameters): every kind of state each optimizer keeps
    ("adam", {"lr": 0.05}),
    ("adam", {"lr": 0.05, "amsgrad": True}),
    ("adamw", {"lr": 0.05}),
    ("adagrad", {"lr": 0.05, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("sgd", {"lr": 0.05, "momentum": 0.9}),
]
CONFIG_IDS = [f"{name}-{'-'.join(map(str, hyper.values()))}" for name, hyper in CONFIGS]


def make_params(seed: int, dtype=torch.float64) -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(seed)
    shapes = [(), (5,), (3, 4)]
    return [
        torch.nn.Parameter(torch.randn(shape, generator=generator, dtype=dtype)) for shape in shapes
    ]


def clone(params):
    return [torch.nn.Parameter(p.detach().clone()) for p in params]


def train(params, optimizer, steps: int, seed: int) -> None:
    """``steps`` steps on random gradients; every third step the first parameter gets none."""
    generator = torch.Generator().manual_seed(seed)
    for step in range(steps):
        for index, param in enumerate(params):
            grad = torch.randn(param.shape, generator=generator, dtype=param.dtype)
            param.grad = None if (index == 0 and step % 3 == 0) else grad
        optimizer.step()


def saved_and_loaded(state_dict: dict) -> dict:
    """A state dict through torch.save and torch.load(weights_only=True), as a checkpoint."""
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


# --------------------------------------------------------------------------------------------
# state["step"] is a tensor, exactly as torch.optim keeps it
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("default_dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["adam", "adamw", "adagrad", "rmsprop"])
def test_step_is_the_tensor_torch_optim_keeps(name, default_dtype):
    """A 0-d CPU tensor, float32 (float64 when that is the default dtype): torch code calling
    ``state["step"].item()`` works, and the step survives a weights-only checkpoint."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(default_dtype)
    try:
        ours_params, theirs_params = make_params(0), make_params(0)
        ours = optim.OPTIMIZERS[name](ours_params)
        theirs = TORCH_CLASSES[name](theirs_params)
        train(ours_params, ours, 4, seed=1)
        train(theirs_params, theirs, 4, seed=1)
    finally:
        torch.set_default_dtype(previous)
    for mine, other in zip(ours_params, theirs_params, strict=True):
        step, expected = ours.state[mine]["step"], theirs.state[other]["step"]
        assert torch.is_tensor(step) and step.shape == () and step.device.type == "cpu"
        assert step.dtype == expected.dtype == default_dtype
        assert step.item() == expected.item() in (2.0, 4.0)  # parameter 0 missed two gradients
        assert not step.requires_grad
    loaded = saved_and_loaded(ours.state_dict())
    assert loaded["state"][1]["step"].item() == 4.0


# --------------------------------------------------------------------------------------------
# State dicts load across the libraries, both ways, and training continues identically
# --------------------------------------------------------------------------------------------
def assert_same_params(ours, theirs, tolerance: float) -> None:
    for a, b in zip(ours, theirs, strict=True):
        scale = max(1.0, b.detach().abs().max().item())
        assert (a - b).abs().max().item() <= tolerance * scale


@pytest.mark.parametrize("foreach", [None, False])
@pytest.mark.parametrize(("name", "hyper"), CONFIGS, ids=CONFIG_IDS)
def test_a_torch_checkpoint_continues_in_optlib_and_back(name, hyper, foreach):
    """torch trains 6 steps and saves; optlib loads and trains 6 more, alongside torch; optlib
    saves and a fresh torch optimizer loads and trains 6 more, alongside optlib. Parameters and
    state agree throughout (float64, 1e-12)."""
    torch_params = make_params(3)
    torch_opt = TORCH_CLASSES[name](torch_params, **hyper)
    train(torch_params, torch_opt, 6, seed=10)

    ours_params = clone(torch_params)
    ours_opt = optim.OPTIMIZERS[name](ours_params, **hyper, foreach=foreach)
    ours_opt.load_state_dict(saved_and_loaded(torch_opt.state_dict()))
    train(torch_params, torch_opt, 6, seed=11)
    train(ours_params, ours_opt, 6, seed=11)
    assert_same_params(ours_params, torch_params, 1e-12)

    back_params = clone(ours_params)
    back_opt = TORCH_CLASSES[name](back_params, **hyper)
    back_opt.load_state_dict(saved_and_loaded(ours_opt.state_dict()))
    for mine, other in zip(ours_params, back_params, strict=True):
        mine_state, other_state = ours_opt.state[mine], back_opt.state[other]
        assert mine_state.keys() == other_state.keys()
        if "step" in mine_state:
            assert other_state["step"].dtype == torch.float32
            assert other_state["step"].item() == mine_state["step"].item()
    train(back_params, back_opt, 6, seed=12)
    train(ours_params, ours_opt, 6, seed=12)
    assert_same_params(ours_params, back_params, 1e-12)


@pytest.mark.parametrize("name", ["adam", "adagrad"])
def test_a_checkpoint_with_integer_steps_loads_like_in_torch(name):
    """optlib before 2.0 stored ``step`` as an int; torch.optim converts such steps to tensors
    on loading, and so does optlib."""
    params = make_params(4)
    opt = optim.OPTIMIZERS[name](params, lr=0.05)
    train(params, opt, 5, seed=1)
    old_style = copy.deepcopy(opt.state_dict())
    for state in old_style["state"].values():
        state["step"] = int(state["step"])

    ours_params, theirs_params = clone(params), clone(params)
    ours = optim.OPTIMIZERS[name](ours_params, lr=0.05)
    theirs = TORCH_CLASSES[name](theirs_params, lr=0.05)
    ours.load_state_dict(copy.deepcopy(old_style))
    theirs.load_state_dict(copy.deepcopy(old_style))
    for mine, other in zip(ours_params, theirs_params, strict=True):
        assert ours.state[mine]["step"].dtype == theirs.state[other]["step"].dtype
    train(ours_params, ours, 5, seed=2)
    train(theirs_params, theirs, 5, seed=2)
    assert_same_params(ours_params, theirs_params, 1e-12)


# --------------------------------------------------------------------------------------------
# Adagrad on sparse gradients
# --------------------------------------------------------------------------------------------
class EmbeddingModel(torch.nn.Module):
    """A sparse embedding (its gradient is a sparse COO tensor) and a dense linear read-out."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embedding = torch.nn.Embedding(40, 6, sparse=True, dtype=torch.float64)
        self.linear = torch.nn.Linear(6, 1, dtype=torch.float64)

    def forward(self, indices):
        return self.linear(self.embedding(indices)).squeeze(-1)


def sparse_batches(steps: int, seed: int):
    """Batches of 12 word indices drawn from a skewed distribution, so that some rows are seen
    often, some rarely, rows 35-39 never, and indices repeat within a batch (what coalesce()
    must sum)."""
    generator = torch.Generator().manual_seed(seed)
    weights = 1.0 / torch.arange(1, 36, dtype=torch.float64)
    for _ in range(steps):
        indices = torch.multinomial(weights, 12, replacement=True, generator=generator)
        targets = torch.randn(12, generator=generator, dtype=torch.float64)
        yield indices, targets


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item() / max(1.0, b.abs().max().item())


SPARSE_GRID = [  # torch's defaults, then each option changed, then all of them at once
    dict(lr=0.1),
    dict(lr=0.1, lr_decay=0.01),
    dict(lr=0.1, eps=1e-3),
    dict(lr=0.1, initial_accumulator_value=0.1),
    dict(lr=0.5, lr_decay=0.05, eps=1e-4, initial_accumulator_value=0.3, maximize=True),
]


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")  # raised inside torch.optim
@pytest.mark.parametrize("foreach", [None, False])
@pytest.mark.parametrize(
    "hyper", SPARSE_GRID, ids=lambda h: "-".join(f"{k}={v}" for k, v in h.items())
)
def test_adagrad_on_a_sparse_embedding_matches_torch_over_150_steps(hyper, foreach):
    ours_model, theirs_model = EmbeddingModel(0), EmbeddingModel(0)
    ours = optim.Adagrad(ours_model.parameters(), **hyper, foreach=foreach)
    theirs = torch.optim.Adagrad(theirs_model.parameters(), **hyper)
    untouched = set(range(40))
    for indices, targets in sparse_batches(150, seed=1):
        untouched -= set(indices.tolist())
        for model, optimizer in ((ours_model, ours), (theirs_model, theirs)):
            optimizer.zero_grad()
            ((model(indices) - targets) ** 2).mean().backward()
            assert model.embedding.weight.grad.is_sparse
            optimizer.step()
        for mine, other in zip(ours_model.parameters(), theirs_model.parameters(), strict=True):
            mine_state, other_state = ours.state[mine], theirs.state[other]
            assert relative_difference(mine, other) <= 1e-12
            assert relative_difference(mine_state["sum"], other_state["sum"]) <= 1e-12
            assert mine_state["step"].item() == other_state["step"].item()
    assert untouched == {35, 36, 37, 38, 39}  # rows never seen must not move
    rows = sorted(untouched)
    assert torch.equal(ours_model.embedding.weight[rows], EmbeddingModel(0).embedding.weight[rows])


def test_sparse_gradient_with_weight_decay_is_refused_like_torch():
    models = EmbeddingModel(0), EmbeddingModel(0)
    optimizers = (
        optim.Adagrad(models[0].parameters(), weight_decay=0.1),
        torch.optim.Adagrad(models[1].parameters(), weight_decay=0.1),
    )
    before = models[0].embedding.weight.detach().clone()
    messages = []
    for model, optimizer in zip(models, optimizers, strict=True):
        model(torch.tensor([1, 2, 2])).sum().backward()
        with pytest.raises(RuntimeError, match="weight_decay") as error:
            optimizer.step()
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert torch.equal(models[0].embedding.weight, before)


# --------------------------------------------------------------------------------------------
# Adagrad.share_memory()
# --------------------------------------------------------------------------------------------
def _hogwild_worker(model, optimizer, indices) -> None:
    optimizer.zero_grad()
    model(indices).sum().backward()
    optimizer.step()


@pytest.mark.parametrize("foreach", [None, False])
def test_share_memory_shares_the_accumulators_with_other_processes(foreach):
    """As torch.optim.Adagrad's: after share_memory() the accumulators live in shared memory,
    keep living there while training, and a step taken in another process (Hogwild) is seen."""
    model = EmbeddingModel(0)
    model.embedding = torch.nn.Embedding(40, 6, dtype=torch.float64)  # dense: both paths
    optimizer = optim.Adagrad(model.parameters(), lr=0.1, foreach=foreach)
    reference = torch.optim.Adagrad(EmbeddingModel(0).parameters(), lr=0.1)
    reference.share_memory()
    model.share_memory()
    optimizer.share_memory()
    sums = [optimizer.state[param]["sum"] for param in model.parameters()]
    assert all(s.is_shared() for s in sums)
    assert [s.is_shared() for s in sums] == [
        reference.state[p]["sum"].is_shared() for p in reference.param_groups[0]["params"]
    ]

    indices = torch.tensor([3, 5, 5])
    _hogwild_worker(model, optimizer, indices)  # a step here keeps the shared tensors
    kept = [optimizer.state[param]["sum"] for param in model.parameters()]
    assert all(a is b and a.is_shared() for a, b in zip(kept, sums, strict=True))
    after_one = [s.clone() for s in sums]

    child = multiprocessing.get_context("fork").Process(
        target=_hogwild_worker, args=(model, optimizer, indices)
    )
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert not torch.equal(sums[0], after_one[0]), "the child's step did not reach the parent"
    assert optimizer.state[model.embedding.weight]["step"].item() == 1  # steps are per process
