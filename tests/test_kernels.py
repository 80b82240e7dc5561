"""optlib.kernels computes what optlib.rules computes, in place, equation by equation."""

from __future__ import annotations

import itertools

import pytest
import torch

from optlib import kernels, optim, rules

TOLERANCE = 1e-13
"""float64, relative to each tensor's largest entry: the kernels and the rules round differently
(e.g. lerp), and a difference of rounding is all that is allowed."""


def tensors(seed: int, positive: bool = False) -> list[torch.Tensor]:
    """float64: a 0-d scalar, a vector, a matrix and a non-contiguous (transposed) matrix."""
    generator = torch.Generator().manual_seed(seed)
    shapes = [(), (5,), (3, 4)]
    result = [torch.randn(shape, generator=generator, dtype=torch.float64) for shape in shapes]
    result.append(torch.randn(4, 6, generator=generator, dtype=torch.float64).t())
    return [t.abs() + 0.1 for t in result] if positive else result


def clones(values: list[torch.Tensor]) -> list[torch.Tensor]:
    return [v.clone() for v in values]


def assert_close(got: list[torch.Tensor], expected: list[torch.Tensor]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        scale = b.abs().max().item()
        assert (a - b).abs().max().item() <= TOLERANCE * scale, (a, b)


# --------------------------------------------------------------------------------------------
# One kernel per equation: the in-place result equals the pure rule's
# --------------------------------------------------------------------------------------------
def test_adam_first_moment_():
    exp_avgs, grads = tensors(0), tensors(1)
    expected = [rules.adam_first_moment(m, g, 0.9) for m, g in zip(exp_avgs, grads, strict=True)]
    kernels.adam_first_moment_(exp_avgs, grads, 0.9)
    assert_close(exp_avgs, expected)


def test_adam_second_moment_():
    exp_avg_sqs, grads = tensors(0, positive=True), tensors(1)
    expected = [
        rules.adam_second_moment(v, g, 0.999) for v, g in zip(exp_avg_sqs, grads, strict=True)
    ]
    kernels.adam_second_moment_(exp_avg_sqs, grads, 0.999)
    assert_close(exp_avg_sqs, expected)


def test_amsgrad_max_():
    maxima, current = tensors(0, positive=True), tensors(1, positive=True)
    expected = [rules.amsgrad_max(a, b) for a, b in zip(maxima, current, strict=True)]
    kernels.amsgrad_max_(maxima, current)
    assert_close(maxima, expected)


def test_adam_step_with_each_tensor_at_its_own_step():
    steps = [1, 2, 1000, 7]  # tensors that missed gradients lag behind the others
    params, exp_avgs, exp_avg_sqs = tensors(0), tensors(1), tensors(2, positive=True)
    expected = [
        p + rules.adam_step(m, v, t, 0.01, 0.9, 0.999, 1e-8)
        for p, m, v, t in zip(params, exp_avgs, exp_avg_sqs, steps, strict=True)
    ]
    kernels.adam_step_(params, exp_avgs, exp_avg_sqs, steps, 0.01, 0.9, 0.999, 1e-8)
    assert_close(params, expected)


def test_adagrad_accumulate_():
    sums, grads = tensors(0, positive=True), tensors(1)
    expected = [rules.adagrad_accumulate(s, g) for s, g in zip(sums, grads, strict=True)]
    kernels.adagrad_accumulate_(sums, grads)
    assert_close(sums, expected)


def test_adagrad_step_with_each_tensor_at_its_own_rate():
    lr_ts = [0.05, 0.01, 0.5, 0.02]
    params, grads, sums = tensors(0), tensors(1), tensors(2, positive=True)
    expected = [
        p + rules.adagrad_step(g, s, lr_t, 1e-10)
        for p, g, s, lr_t in zip(params, grads, sums, lr_ts, strict=True)
    ]
    kernels.adagrad_step_(params, grads, sums, lr_ts, 1e-10)
    assert_close(params, expected)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_gradient_pieces_and_decoupled_decay_(weight_decay):
    grads, params = tensors(0), tensors(1)
    for maximize in (False, True):
        got = kernels.l2_gradient(kernels.ascent_gradient(grads, maximize), params, weight_decay)
        expected = [
            rules.l2_gradient(rules.ascent_gradient(g, maximize), p, weight_decay)
            for g, p in zip(grads, params, strict=True)
        ]
        assert_close(got, expected)
    expected = [p + rules.decoupled_decay(p, 0.01, weight_decay) for p in params]
    kernels.decoupled_decay_(params, 0.01, weight_decay)
    assert_close(params, expected)


# --------------------------------------------------------------------------------------------
# Whole updates, every option, several steps
# --------------------------------------------------------------------------------------------
ADAM_OPTIONS = [
    dict(
        zip(("weight_decay", "amsgrad", "maximize", "decoupled_weight_decay"), values, strict=True)
    )
    for values in itertools.product([0.0, 0.1], [False, True], [False, True], [False, True])
]
ADAGRAD_OPTIONS = [
    dict(zip(("lr_decay", "weight_decay", "maximize"), values, strict=True))
    for values in itertools.product([0.0, 0.01], [0.0, 0.1], [False, True])
]
UPDATES = [
    ("adam", lambda p, o: rules.adam_init(p, o["amsgrad"]), rules.adam_update,
     kernels.adam_update_, options) for options in ADAM_OPTIONS
] + [
    ("adagrad", lambda p, o: rules.adagrad_init(p, 0.1), rules.adagrad_update,
     kernels.adagrad_update_, options) for options in ADAGRAD_OPTIONS
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "init", "update", "update_", "options"),
    UPDATES,
    ids=[f"{case[0]}-" + "-".join(map(str, case[4].values())) for case in UPDATES],
)
def test_update_in_place_equals_the_pure_rule_over_steps(name, init, update, update_, options):
    start_steps = [0, 3, 0, 10]  # each tensor counts its own steps (some missed gradients)
    params = tensors(0)
    pure_params = clones(params)
    pure_states = [
        init(p, options)._replace(step=start) for p, start in zip(params, start_steps, strict=True)
    ]
    state = type(pure_states[0])(
        *(
            [s[i].clone() for s in pure_states] if isinstance(field, torch.Tensor) else None
            for i, field in enumerate(pure_states[0])
        )
    )._replace(step=list(start_steps))

    def buffer_ids(state):
        return [id(t) for f, v in state._asdict().items() if f != "step" and v for t in v]

    buffers = buffer_ids(state)
    for step in range(1, 8):
        grads = tensors(10 + step)
        untouched = clones(grads)
        results = [
            update(g, s, p, lr=0.05, **options)
            for g, s, p in zip(grads, pure_states, pure_params, strict=True)
        ]
        pure_params = [p + delta for p, (delta, _) in zip(pure_params, results, strict=True)]
        pure_states = [s for _, s in results]

        state = update_(grads, state, params, lr=0.05, **options)

        assert state.step == [start + step for start in start_steps]
        assert_close(params, pure_params)
        for i, field in enumerate(state._fields):
            if field != "step" and state[i] is not None:
                assert_close(state[i], [s[i] for s in pure_states])
        assert all(torch.equal(g, u) for g, u in zip(grads, untouched, strict=True))
    # In place: the state still holds the buffers it started with.
    assert buffer_ids(state) == buffers


# --------------------------------------------------------------------------------------------
# The optimizers run the kernels by default
# --------------------------------------------------------------------------------------------
KERNEL_OF = {"adam": "adam_update_", "adamw": "adam_update_", "adagrad": "adagrad_update_"}


@pytest.mark.parametrize("name", ["adam", "adamw", "adagrad"])
def test_default_step_runs_the_kernel_and_agrees_with_the_per_tensor_rule(
    name, monkeypatch, run_mixed_groups
):
    """Parameter groups, mixed dtypes, parameters that miss some gradients: the in-place step
    (one kernel call per group) and the pure per-tensor rule agree to rounding."""
    calls = []
    kernel = getattr(kernels, KERNEL_OF[name])
    monkeypatch.setattr(
        kernels, KERNEL_OF[name], lambda *a, **k: calls.append(1) or kernel(*a, **k)
    )
    optimizer_class = optim.OPTIMIZERS[name]

    grouped, grouped_optimizer = run_mixed_groups(optimizer_class, weight_decay=0.01)
    assert calls, "the default step did not run the in-place kernel"
    calls.clear()
    single, single_optimizer = run_mixed_groups(optimizer_class, foreach=False, weight_decay=0.01)
    assert not calls
    for a, b in zip(grouped, single, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-14 if a.dtype == torch.float64 else 1e-6, atol=0)
    for a, b in zip(grouped, single, strict=True):
        got, expected = grouped_optimizer.state[a], single_optimizer.state[b]
        assert got.keys() == expected.keys() and torch.equal(got["step"], expected["step"])
