"""optlib.optim equals torch.optim, step by step, for every optimizer and every option.

The oracle is PyTorch itself (as in micrograd's tests): both optimizers start from the same
parameters, receive the same gradients (including steps where some parameters get none), and must
agree on the parameters *and* the state after every step.
"""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from optlib import optim

TORCH_CLASSES = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
}

IN_PLACE = {"adam", "adamw", "adagrad"}  # by default these run optlib.kernels, else the pure rule

# Shapes: a 0-d scalar, a vector, a matrix, and a non-contiguous (transposed) matrix.
SHAPES = ("scalar", "vector", "matrix", "transposed")


def make_params(dtype: torch.dtype, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tensors = {
        "scalar": torch.randn((), generator=generator, dtype=dtype),
        "vector": torch.randn(5, generator=generator, dtype=dtype),
        "matrix": torch.randn(3, 4, generator=generator, dtype=dtype),
        "transposed": torch.randn(4, 6, generator=generator, dtype=dtype).t(),
    }
    assert not tensors["transposed"].is_contiguous()
    return [torch.nn.Parameter(tensors[name]) for name in SHAPES]


def gradient_stream(params, steps: int, seed: int, skip_every: int | None):
    """Per step, one gradient per parameter, or None where that parameter gets no gradient."""
    generator = torch.Generator().manual_seed(seed + 1)
    for step in range(steps):
        grads = []
        for index, param in enumerate(params):
            grad = torch.randn(param.shape, generator=generator, dtype=param.dtype)
            if param.dim() == 2 and not param.is_contiguous():
                grad = grad.t().contiguous().t()  # keep the gradient's layout non-contiguous too
            skipped = skip_every is not None and (step + index) % skip_every == 0
            grads.append(None if skipped else grad)
        yield grads


def run_both(name: str, hyper: dict, *, dtype=torch.float64, steps=100, seed=0, skip_every=3):
    """Run optlib and torch side by side; return the largest parameter and state differences."""
    ours_params = make_params(dtype, seed)
    theirs_params = [torch.nn.Parameter(p.detach().clone()) for p in ours_params]
    for ours, theirs in zip(ours_params, theirs_params, strict=True):
        theirs.data = theirs.data.as_strided(ours.shape, ours.stride())  # same layout
        theirs.data.copy_(ours.data)
    ours_opt = optim.OPTIMIZERS[name](ours_params, **hyper)
    theirs_opt = TORCH_CLASSES[name](theirs_params, **hyper)
    worst_param, worst_state = 0.0, 0.0
    for grads in gradient_stream(ours_params, steps, seed, skip_every):
        for ours, theirs, grad in zip(ours_params, theirs_params, grads, strict=True):
            ours.grad = None if grad is None else grad.clone()
            theirs.grad = None if grad is None else grad.clone()
        ours_opt.step()
        theirs_opt.step()
        for ours, theirs in zip(ours_params, theirs_params, strict=True):
            scale = max(1.0, theirs.detach().abs().max().item())
            worst_param = max(worst_param, (ours - theirs).abs().max().item() / scale)
            worst_state = max(
                worst_state, state_difference(ours_opt.state[ours], theirs_opt.state[theirs])
            )
    return worst_param, worst_state


def state_difference(ours: dict, theirs: dict) -> float:
    """Largest relative difference between the tensors both states hold; the states must hold
    the same keys, and the same step tensor (dtype, device, value)."""
    worst = 0.0
    assert ours.keys() == theirs.keys()
    for key, value in ours.items():
        other = theirs[key]
        if key == "step":
            assert torch.is_tensor(value) and value.shape == other.shape == ()
            assert (value.dtype, value.device) == (other.dtype, other.device)
            assert value.item() == other.item(), f"step count differs: {value} vs {other}"
            continue
        scale = max(1.0, other.abs().max().item())
        worst = max(worst, (value - other).abs().max().item() / scale)
    return worst


GRID = {
    "sgd": dict(
        lr=[1e-3, 0.1],
        momentum=[0.0, 0.9],
        dampening=[0.0, 0.5],
        weight_decay=[0.0, 0.01],
        nesterov=[False, True],
        maximize=[False, True],
    ),
    "adagrad": dict(
        lr=[1e-2, 0.5],
        lr_decay=[0.0, 0.01],
        weight_decay=[0.0, 0.1],
        initial_accumulator_value=[0.0, 0.1],
        eps=[1e-10, 1e-3],
        maximize=[False, True],
    ),
    "rmsprop": dict(
        lr=[1e-2],
        alpha=[0.99, 0.5],
        eps=[1e-8, 1e-3],
        weight_decay=[0.0, 0.1],
        momentum=[0.0, 0.9],
        centered=[False, True],
        maximize=[False, True],
    ),
    "adam": dict(
        lr=[1e-3, 0.1],
        betas=[(0.9, 0.999), (0.0, 0.5)],
        eps=[1e-8, 1e-3],
        weight_decay=[0.0, 0.1],
        amsgrad=[False, True],
        maximize=[False, True],
        decoupled_weight_decay=[False, True],
    ),
    "adamw": dict(
        lr=[1e-3, 0.1],
        betas=[(0.9, 0.999), (0.5, 0.9)],
        weight_decay=[0.0, 1e-2, 0.5],
        amsgrad=[False, True],
        maximize=[False, True],
    ),
}


def grid_cases():
    for name, options in GRID.items():
        keys = list(options)
        for values in itertools.product(*(options[key] for key in keys)):
            hyper = dict(zip(keys, values, strict=True))
            if (
                name == "sgd"
                and hyper["nesterov"]
                and (hyper["momentum"] == 0 or hyper["dampening"] != 0)
            ):
                continue  # invalid combination: rejected, tested separately
            case_id = f"{name}-" + "-".join(map(str, values))
            yield pytest.param(name, hyper, id=case_id)
            if name in IN_PLACE:  # also the pure rule, tensor by tensor
                yield pytest.param(name, {**hyper, "foreach": False}, id=f"{case_id}-rule")


GRID_CASES = list(grid_cases())


def test_grid_covers_every_optimizer_and_option():
    assert {case.values[0] for case in GRID_CASES} == set(optim.OPTIMIZERS)
    assert len(GRID_CASES) > 250


@pytest.mark.parametrize(("name", "hyper"), GRID_CASES)
def test_float64_matches_torch_to_1e12_over_100_steps(name, hyper):
    worst_param, worst_state = run_both(name, hyper, dtype=torch.float64, steps=100)
    assert worst_param <= 1e-12
    assert worst_state <= 1e-12


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
@pytest.mark.parametrize("skip_every", [None, 2])
def test_float32_matches_torch(name, skip_every):
    hyper = {"momentum": 0.9} if name == "sgd" else {}
    worst_param, worst_state = run_both(name, hyper, dtype=torch.float32, skip_every=skip_every)
    # float32 rounds differently when the same formula is evaluated in a different order (AdamW:
    # torch multiplies by 1 - lr*wd, optlib adds -lr*wd*theta); 100 steps stay within ~30 ulps.
    assert worst_param <= 1e-5
    assert worst_state <= 1e-5


def _beta() -> st.SearchStrategy[float]:
    return st.floats(0.0, 0.999)


HYPOTHESIS_SPACES = {
    "sgd": st.fixed_dictionaries(
        dict(
            lr=st.floats(1e-4, 0.5),
            momentum=st.floats(0.0, 0.99),
            dampening=st.floats(0.0, 0.9),
            weight_decay=st.floats(0.0, 0.1),
            nesterov=st.booleans(),
            maximize=st.booleans(),
        )
    )
    .map(lambda h: {**h, "dampening": 0.0} if h["nesterov"] else h)
    .filter(lambda h: not h["nesterov"] or h["momentum"] > 0),
    "adagrad": st.fixed_dictionaries(
        dict(
            lr=st.floats(1e-4, 1.0),
            lr_decay=st.floats(0.0, 0.1),
            weight_decay=st.floats(0.0, 0.1),
            initial_accumulator_value=st.floats(0.0, 1.0),
            eps=st.floats(1e-10, 1e-2),
            maximize=st.booleans(),
        )
    ),
    # Centered RMSprop takes sqrt(v - g_bar^2); with alpha -> 0 that difference is pure rounding
    # noise (~1e-17), which the square root amplifies to ~1e-9: the two libraries then agree only
    # to rounding of rounding. alpha >= 0.1 keeps the variance well away from zero.
    "rmsprop": st.fixed_dictionaries(
        dict(
            lr=st.floats(1e-4, 0.1),
            alpha=st.floats(0.1, 0.999),
            eps=st.floats(1e-8, 1e-2),
            weight_decay=st.floats(0.0, 0.1),
            momentum=st.floats(0.0, 0.99),
            centered=st.booleans(),
            maximize=st.booleans(),
        )
    ),
    "adam": st.fixed_dictionaries(
        dict(
            lr=st.floats(1e-4, 0.5),
            betas=st.tuples(_beta(), _beta()),
            eps=st.floats(1e-8, 1e-2),
            weight_decay=st.floats(0.0, 0.1),
            amsgrad=st.booleans(),
            maximize=st.booleans(),
            decoupled_weight_decay=st.booleans(),
        )
    ),
    "adamw": st.fixed_dictionaries(
        dict(
            lr=st.floats(1e-4, 0.5),
            betas=st.tuples(_beta(), _beta()),
            eps=st.floats(1e-8, 1e-2),
            weight_decay=st.floats(0.0, 1.0),
            amsgrad=st.booleans(),
            maximize=st.booleans(),
        )
    ),
}


@pytest.mark.parametrize("name", sorted(HYPOTHESIS_SPACES))
@settings(max_examples=25, deadline=None, derandomize=True)
@given(data=st.data())
def test_hypothesis_search_matches_torch(name, data):
    hyper = data.draw(HYPOTHESIS_SPACES[name], label="hyperparameters")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    skip_every = data.draw(st.sampled_from([None, 2, 3, 5]), label="skip_every")
    worst_param, worst_state = run_both(name, hyper, steps=40, seed=seed, skip_every=skip_every)
    assert worst_param <= 1e-12
    assert worst_state <= 1e-12


# ------------------------------------------------------------------------------------------------
# Hand-worked first two steps
# ------------------------------------------------------------------------------------------------
def two_steps(optimizer_class, **hyper) -> list[float]:
    theta = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
    optimizer = optimizer_class([theta], **hyper)
    trajectory = []
    for grad in (0.5, -0.25):
        theta.grad = torch.tensor(grad, dtype=torch.float64)
        optimizer.step()
        trajectory.append(theta.item())
    return trajectory


def test_adam_first_two_steps_by_hand():
    # lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8; theta_0 = 1; g_1 = 0.5, g_2 = -0.25.
    # Step 1: m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025; m_hat = 0.05 / 0.1 = 0.5,
    #   v_hat = 0.00025 / 0.001 = 0.25, step = -0.1 * 0.5 / (0.5 + 1e-8) = -0.09999999800000004
    # Step 2: m = 0.9 * 0.05 - 0.1 * 0.25 = 0.02, v = 0.999 * 0.00025 + 0.001 * 0.0625 = 0.00031225
    #   m_hat = 0.02 / 0.19 = 0.10526315789473684
    #   v_hat = 0.00031225 / 0.001999 = 0.1562031015507775
    #   sqrt(v_hat) = 0.39522538070166685, step = -0.1 * m_hat / (sqrt(v_hat) + 1e-8)
    #   = -0.02663370329215362
    expected_1 = 1.0 - 0.09999999800000004
    expected_2 = expected_1 - 0.02663370329215362
    got = two_steps(optim.Adam, lr=0.1)
    assert got == pytest.approx([expected_1, expected_2], abs=1e-15)


def test_adagrad_first_two_steps_by_hand():
    # lr = 0.1, eps = 1e-10; theta_0 = 1; g_1 = 0.5, g_2 = -0.25.
    # Step 1: G = 0.25, step = -0.1 * 0.5 / (0.5 + 1e-10) = -0.09999999998
    # Step 2: G = 0.3125, sqrt(G) = 0.5590169943749475, step = 0.1 * 0.25 / 0.5590169944749475
    #   = 0.044721359541995... (the step shrinks although |g| halved and the sign flipped)
    expected_1 = 1.0 - 0.09999999998
    expected_2 = expected_1 + 0.025 / (0.3125**0.5 + 1e-10)
    got = two_steps(optim.Adagrad, lr=0.1)
    assert got == pytest.approx([expected_1, expected_2], abs=1e-15)
    assert got[1] - got[0] == pytest.approx(0.0447213595, abs=1e-10)


# ------------------------------------------------------------------------------------------------
# State dicts, param groups, schedulers
# ------------------------------------------------------------------------------------------------
def train_steps(params, optimizer, steps, seed):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        for param in params:
            param.grad = torch.randn(param.shape, generator=generator, dtype=param.dtype)
        optimizer.step()
    return generator


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_state_dict_round_trip_is_bitwise(name):
    hyper = {"momentum": 0.9} if name in ("sgd", "rmsprop") else {}
    if name == "adam":
        hyper = {"amsgrad": True}
    reference = make_params(torch.float32, 3)
    resumed = [torch.nn.Parameter(p.detach().clone()) for p in reference]
    reference_opt = optim.OPTIMIZERS[name](reference, **hyper)
    train_steps(reference, reference_opt, 20, seed=7)

    first_half = optim.OPTIMIZERS[name](resumed, **hyper)
    generator = torch.Generator().manual_seed(7)
    for _ in range(10):
        for param in resumed:
            param.grad = torch.randn(param.shape, generator=generator, dtype=param.dtype)
        first_half.step()
    saved = copy.deepcopy(first_half.state_dict())
    fresh = optim.OPTIMIZERS[name](resumed, **hyper)
    fresh.load_state_dict(saved)
    for _ in range(10):
        for param in resumed:
            param.grad = torch.randn(param.shape, generator=generator, dtype=param.dtype)
        fresh.step()
    for ours, theirs in zip(resumed, reference, strict=True):
        assert torch.equal(ours, theirs)


def test_param_groups_use_their_own_hyperparameters():
    fast, slow = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    optimizer = optim.Adagrad([{"params": [fast], "lr": 1.0}, {"params": [slow]}], lr=0.1)
    fast.grad, slow.grad = torch.ones(3), torch.ones(3)
    optimizer.step()
    assert torch.allclose(1 - fast.detach(), torch.full((3,), 1.0))
    assert torch.allclose(1 - slow.detach(), torch.full((3,), 0.1))


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_lr_schedulers_drive_optlib_like_torch(name):
    def run(optimizer_class):
        params = make_params(torch.float64, 11)
        optimizer = optimizer_class(params, lr=0.1)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=0.1, total_steps=30, cycle_momentum=False
        )
        generator = torch.Generator().manual_seed(0)
        lrs = []
        for _ in range(30):
            for param in params:
                param.grad = torch.randn(param.shape, generator=generator, dtype=param.dtype)
            optimizer.step()
            scheduler.step()
            lrs.append(optimizer.param_groups[0]["lr"])
        return params, lrs

    ours, ours_lrs = run(optim.OPTIMIZERS[name])
    theirs, theirs_lrs = run(TORCH_CLASSES[name])
    assert ours_lrs == theirs_lrs
    for a, b in zip(ours, theirs, strict=True):
        assert (a - b).abs().max().item() <= 1e-12


def test_closure_is_evaluated_and_returned():
    theta = torch.nn.Parameter(torch.tensor([2.0]))
    optimizer = optim.SGD([theta], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (theta**2).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    assert loss.item() == 4.0
    assert theta.item() == pytest.approx(2.0 - 0.25 * 4.0)


def test_make_optimizer_names_the_choices_on_a_typo():
    with pytest.raises(ValueError, match="adagrad"):
        optim.make_optimizer("adagard", [torch.nn.Parameter(torch.ones(1))])
    assert isinstance(optim.make_optimizer("Adam", [torch.nn.Parameter(torch.ones(1))]), optim.Adam)


def test_defaults_match_torch():
    import inspect

    for name, ours in optim.OPTIMIZERS.items():
        theirs = inspect.signature(TORCH_CLASSES[name].__init__).parameters
        mine = inspect.signature(ours.__init__).parameters
        assert list(mine) == list(theirs), name
        for key, parameter in theirs.items():
            assert mine[key].default == parameter.default, (name, key)
        assert optim.DEFAULT_LR[name] == theirs["lr"].default
