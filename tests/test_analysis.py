"""optlib.analysis: the measurements of chapter 3, checked against torch.optim and by hand."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from optlib import figures, problems, rules
from optlib import optim as optlib_optim
from optlib.book import analysis, costs


def quadratic_gradient(theta: float) -> float:
    """Gradient of f(theta) = (theta - 3)^2 / 2 + theta^3 / 10: curvature changes every step."""
    return (theta - 3.0) + 0.3 * theta**2


# --------------------------------------------------------------------------------------------
# Hand traces
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("amsgrad_free_lr", [0.1, 0.01])
def test_adam_trace_matches_torch_and_optlib(amsgrad_free_lr):
    rows = analysis.trace_adam(quadratic_gradient, 1.0, steps=5, lr=amsgrad_free_lr)
    traced = [row.theta + row.step for row in rows]
    torch_thetas = analysis.trajectory(
        lambda p: torch.optim.Adam(p, lr=amsgrad_free_lr), quadratic_gradient, 1.0, steps=5
    )
    optlib_thetas = analysis.trajectory(
        lambda p: optlib_optim.Adam(p, lr=amsgrad_free_lr), quadratic_gradient, 1.0, steps=5
    )
    np.testing.assert_allclose(traced, torch_thetas, rtol=0, atol=1e-12)
    np.testing.assert_allclose(traced, optlib_thetas, rtol=0, atol=1e-12)


def test_adam_trace_rows_are_consistent():
    rows = analysis.trace_adam(quadratic_gradient, 1.0, steps=4, lr=0.05, betas=(0.8, 0.99))
    for previous, row in zip(rows, rows[1:], strict=False):
        assert row.theta == pytest.approx(previous.theta + previous.step, abs=1e-15)
        assert row.m == pytest.approx(0.8 * previous.m + 0.2 * row.g, abs=1e-15)
        assert row.v == pytest.approx(0.99 * previous.v + 0.01 * row.g**2, abs=1e-15)
    for row in rows:
        assert row.m_hat == pytest.approx(row.m / (1 - 0.8**row.t))
        assert row.v_hat == pytest.approx(row.v / (1 - 0.99**row.t))
        assert row.step == pytest.approx(-0.05 * row.m_hat / (math.sqrt(row.v_hat) + 1e-8))


def test_adagrad_trace_matches_torch_with_every_option():
    options = dict(lr=0.2, lr_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)
    rows = analysis.trace_adagrad(quadratic_gradient, -1.0, steps=5, **options)
    traced = [row.theta + row.step for row in rows]
    torch_thetas = analysis.trajectory(
        lambda p: torch.optim.Adagrad(p, **options), quadratic_gradient, -1.0, steps=5
    )
    np.testing.assert_allclose(traced, torch_thetas, rtol=0, atol=1e-12)
    assert rows[0].G == pytest.approx(0.5 + quadratic_gradient(-1.0) ** 2)
    assert [row.lr_t for row in rows] == pytest.approx([0.2 / (1 + 0.1 * k) for k in range(5)])


def test_traces_reject_a_bad_step_count():
    with pytest.raises(ValueError, match="steps"):
        analysis.trace_adam(quadratic_gradient, 0.0, steps=0)
    with pytest.raises(ValueError, match="steps"):
        analysis.trace_adagrad(quadratic_gradient, 0.0, steps=-1)


def test_table_formats_named_tuples_and_plain_rows():
    rows = analysis.trace_adagrad(lambda x: x, 1.0, steps=2, lr=0.1)
    shown = figures.table(rows, headers={"G": "G<t>"}, digits=3)
    lines = str(shown).splitlines()
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert cells[0] == ["t", "theta", "g", "G<t>", "lr_t", "step"]
    assert lines[1].startswith("|:") and lines[1].count(":|") == 5  # numbers right-aligned
    assert cells[3][3] == "1.81"
    assert len(lines) == 4
    page = shown._repr_html_()
    assert page.count("<tr>") == 3 and "G&lt;t&gt;" in page  # cells are escaped
    assert re.search(r'<td style="text-align: right;">\s*1.81</td>', page)
    plain = figures.table([("a", 1.5), ("b", "x")], headers=["name", "value"])
    assert plain.rows == (("a", "1.5"), ("b", "x"))


def test_table_validates_headers_and_rows():
    rows = analysis.trace_adagrad(lambda x: x, 1.0, steps=2, lr=0.1)
    with pytest.raises(ValueError, match="headers"):
        figures.table(rows, headers={"nope": "x"})
    with pytest.raises(ValueError, match="headers"):
        figures.table([(1, 2)])
    with pytest.raises(ValueError, match="cells"):
        figures.table([(1, 2), (3,)], headers=["a", "b"])
    with pytest.raises(ValueError, match="rows"):
        figures.table([])


# --------------------------------------------------------------------------------------------
# Effective learning rates
# --------------------------------------------------------------------------------------------
def _stepped(optimizer_class, **hyperparameters):
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    optimizer = optimizer_class(model.parameters(), **hyperparameters)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(8, 4)).square().mean().backward()
        optimizer.step()
    return model, optimizer


@pytest.mark.parametrize("library", [torch.optim, optlib_optim])
def test_effective_lrs_reproduce_the_adagrad_step(library):
    model, optimizer = _stepped(library.Adagrad, lr=0.3, lr_decay=0.05)
    before = [p.detach().clone() for p in model.parameters()]
    model.zero_grad()
    model(torch.randn(8, 4)).square().mean().backward()
    grads = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    optimizer.step()
    rates = analysis.effective_lrs(optimizer)  # after the step: G_t includes this gradient
    change = torch.cat(
        [(p - b).reshape(-1) for p, b in zip(model.parameters(), before, strict=True)]
    )
    torch.testing.assert_close(change, -rates * grads, rtol=1e-5, atol=1e-8)


def test_effective_lrs_match_adam_formula_and_mark_unused_coordinates():
    model, optimizer = _stepped(torch.optim.Adam, lr=0.01, betas=(0.9, 0.99))
    with torch.no_grad():
        optimizer.state[model.bias]["exp_avg_sq"][0] = 0.0  # a coordinate never updated
    rates = analysis.effective_lrs(optimizer)
    state = optimizer.state[model.weight]
    expected = 0.01 / ((state["exp_avg_sq"] / (1 - 0.99**3)).sqrt() + 1e-8)
    torch.testing.assert_close(rates[: model.weight.numel()], expected.reshape(-1))
    assert math.isnan(rates[model.weight.numel()])
    assert torch.isfinite(rates).sum() == rates.numel() - 1


def test_effective_lrs_use_the_amsgrad_maximum():
    model, optimizer = _stepped(torch.optim.Adam, lr=0.01, amsgrad=True)
    state = optimizer.state[model.weight]
    with torch.no_grad():
        state["exp_avg_sq"].mul_(0.5)  # now strictly below the running maximum
    rates = analysis.effective_lrs(optimizer)[: model.weight.numel()]
    expected = analysis.adam_effective_lr(state["max_exp_avg_sq"], 3, lr=0.01)
    torch.testing.assert_close(rates, expected.reshape(-1))


def test_effective_lrs_reject_other_optimizers_and_missing_state():
    model, optimizer = _stepped(torch.optim.SGD, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="exp_avg_sq"):
        analysis.effective_lrs(optimizer)
    fresh = torch.optim.Adam(nn.Linear(2, 2).parameters())
    with pytest.raises(ValueError, match="step"):
        analysis.effective_lrs(fresh)


def test_effective_lr_functions_on_floats():
    assert analysis.adagrad_effective_lr(9.0, 3, lr=0.6, lr_decay=0.5, eps=0.0) == pytest.approx(
        0.1
    )
    assert analysis.adam_effective_lr(0.0016, 2, lr=0.1, beta2=0.6, eps=0.0) == pytest.approx(
        0.1 / math.sqrt(0.0016 / 0.64)
    )


# --------------------------------------------------------------------------------------------
# Recording a training run and replaying its gradients
# --------------------------------------------------------------------------------------------
def test_minibatches_cover_each_epoch_once_and_are_seeded():
    x, y = torch.arange(10.0), torch.arange(10)
    batches = list(analysis.minibatches(x, y, batch_size=3, steps=8, seed=1))
    assert [len(xb) for xb, _ in batches] == [3, 3, 3, 1, 3, 3, 3, 1]
    first_epoch = torch.cat([xb for xb, _ in batches[:4]])
    assert sorted(first_epoch.tolist()) == list(range(10))
    for xb, yb in batches:
        assert torch.equal(xb.long(), yb)
    again = list(analysis.minibatches(x, y, batch_size=3, steps=8, seed=1))
    assert all(torch.equal(a, b) for (a, _), (b, _) in zip(batches, again, strict=True))
    other = torch.cat([xb for xb, _ in analysis.minibatches(x, y, batch_size=10, steps=1, seed=2)])
    assert not torch.equal(other, first_epoch)
    with pytest.raises(ValueError, match="batch_size"):
        next(analysis.minibatches(x, y, batch_size=0, steps=1))


def _toy_problem(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=generator)
    y = (x[:, 0] > 0).long()
    torch.manual_seed(seed)
    return x, y, nn.Linear(5, 2)


def test_train_and_record_records_what_the_optimizer_saw():
    x, y, model = _toy_problem()
    track = analysis.flat_index_sample(model, 4, seed=0)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.1)
    record = analysis.train_and_record(
        model,
        optimizer,
        analysis.minibatches(x, y, batch_size=16, steps=12),
        record_at=[1, 5, 12],
        track=track,
    )
    assert record.steps.tolist() == [1, 5, 12]
    assert record.effective_lr.shape == (3, 3)
    assert record.grads.shape == (12, 4)
    assert record.losses.shape == (12,)
    # Adagrad: every coordinate's rate only falls, so the median does too (no new coordinates)
    assert np.all(np.diff(record.effective_lr[:, 1]) < 0)
    assert np.all(record.effective_lr[:, 0] <= record.effective_lr[:, 2])
    # The recorded gradients replay to the accumulator the optimizer holds
    flat_sum = torch.cat([optimizer.state[p]["sum"].reshape(-1) for p in model.parameters()])
    np.testing.assert_allclose((record.grads**2).sum(axis=0), flat_sum[track], rtol=1e-5)


def test_train_and_record_validates_its_inputs():
    x, y, model = _toy_problem()
    optimizer = torch.optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="quantiles"):
        analysis.train_and_record(model, optimizer, [(x, y)], quantiles=[1.5])
    with pytest.raises(ValueError, match="batches"):
        analysis.train_and_record(model, optimizer, [])
    with pytest.raises(ValueError, match="n"):
        analysis.flat_index_sample(model, 100)


def test_flat_index_sample_is_seeded_sorted_and_distinct():
    model = nn.Linear(10, 10)
    a = analysis.flat_index_sample(model, 30, seed=3)
    assert torch.equal(a, analysis.flat_index_sample(model, 30, seed=3))
    assert torch.equal(a, a.sort().values)
    assert len(set(a.tolist())) == 30
    assert int(a.max()) < 110


def test_replay_matches_the_optlib_optimizer_on_the_same_stream():
    grads = np.random.default_rng(0).standard_normal((20, 3))
    param = np.array([0.5, -1.0, 2.0])
    deltas = problems.replay(
        rules.adam_update, rules.adam_init(param), grads, param, lr=0.1, weight_decay=0.1
    )
    tensor = torch.tensor(param, requires_grad=True)
    optimizer = optlib_optim.Adam([tensor], lr=0.1, weight_decay=0.1)
    for grad in grads:
        tensor.grad = torch.tensor(grad)
        optimizer.step()
    np.testing.assert_allclose(param + deltas.sum(axis=0), tensor.detach().numpy(), atol=1e-12)


def test_replay_states_exposes_every_state_and_validates_shapes():
    grads = np.ones((3, 2))
    states = [
        s
        for _, s in problems.replay_states(
            rules.adagrad_update, rules.adagrad_init(np.zeros(2)), grads, np.zeros(2)
        )
    ]
    assert [s.step for s in states] == [1, 2, 3]
    np.testing.assert_array_equal(states[-1].sum_sq, [3.0, 3.0])
    with pytest.raises(ValueError, match="param"):
        problems.replay(rules.adagrad_update, rules.adagrad_init(np.zeros(3)), grads, np.zeros(3))
    with pytest.raises(ValueError, match="grads"):
        problems.replay(rules.adagrad_update, None, np.zeros((0, 2)), np.zeros(2))


def test_adam_without_bias_correction_is_the_uncorrected_formula():
    grads = np.array([[2.0], [1.0]])
    deltas = problems.replay(
        rules.adam_update_without_bias_correction,
        rules.adam_init(np.zeros(1)),
        grads,
        np.zeros(1),
        lr=1.0,
        eps=0.0,
    )
    # step 1: m = 0.2, v = 0.004; step 2: m = 0.28, v = 0.004996 + 0.001
    assert deltas[0, 0] == pytest.approx(-0.2 / math.sqrt(0.004))
    assert deltas[1, 0] == pytest.approx(-0.28 / math.sqrt(0.999 * 0.004 + 0.001))
    corrected = problems.replay(
        rules.adam_update, rules.adam_init(np.zeros(1)), grads, np.zeros(1), lr=1.0, eps=0.0
    )
    ratio = deltas[:, 0] / corrected[:, 0]
    expected = [(1 - 0.9**t) / math.sqrt(1 - 0.999**t) for t in (1, 2)]
    np.testing.assert_allclose(ratio, expected, rtol=1e-12)


def test_adagrad_conventions():
    grads = np.random.default_rng(1).standard_normal((10, 4))
    zeros = np.zeros(4)
    pytorch = rules.ADAGRAD_CONVENTIONS[0]
    assert pytorch.name == "PyTorch" and not pytorch.eps_inside_root
    ours = problems.replay(
        rules.adagrad_convention_update,
        rules.adagrad_init(zeros, pytorch.initial_accumulator_value),
        grads,
        zeros,
        lr=0.1,
        eps=pytorch.eps,
        eps_inside_root=False,
    )
    reference = problems.replay(
        rules.adagrad_update, rules.adagrad_init(zeros), grads, zeros, lr=0.1
    )
    np.testing.assert_array_equal(ours, reference)
    inside = problems.replay(
        rules.adagrad_convention_update,
        rules.adagrad_init(zeros, 0.1),
        grads,
        zeros,
        lr=0.1,
        eps=1e-7,
        eps_inside_root=True,
    )
    sums = 0.1 + np.cumsum(grads**2, axis=0)
    np.testing.assert_allclose(inside, -0.1 * grads / np.sqrt(sums + 1e-7), rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "tensors", "ratio"),
    [
        (lambda p: torch.optim.SGD(p, lr=0.1), 0, 0.0),
        (lambda p: torch.optim.Adagrad(p), 1, 1.0),
        (lambda p: torch.optim.Adam(p), 2, 2.0),
        (lambda p: torch.optim.Adam(p, amsgrad=True), 3, 3.0),
        (lambda p: optlib_optim.Adam(p, amsgrad=True), 3, 3.0),
    ],
)
def test_state_size_counts_tensors_per_parameter(make, tensors, ratio):
    model = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 2))
    model(torch.randn(3, 6)).sum().backward()
    optimizer = make(model.parameters())
    optimizer.step()
    size = costs.state_size(optimizer)
    n_params = sum(p.numel() for p in model.parameters())
    assert size.param_bytes == 4 * n_params
    assert size.per_coordinate_tensors == tensors * 4
    assert size.per_coordinate_bytes == tensors * 4 * n_params
    # torch.optim keeps one 0-d float32 step tensor per parameter; optlib keeps an int
    assert size.other_bytes in (0, 4 * 4)
    assert size.ratio == pytest.approx(ratio, abs=16 / size.param_bytes + 1e-12)


def test_time_per_step_runs_the_optimizer():
    model = nn.Linear(3, 1)
    model(torch.randn(2, 3)).sum().backward()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.weight.detach().clone()
    seconds = costs.time_per_step(optimizer, steps=3, repeats=2)
    assert 0 < seconds < 1
    # 1 warm-up + 2 * 3 timed steps, each subtracting lr * grad
    torch.testing.assert_close(model.weight.detach(), before - 0.7 * model.weight.grad)
    with pytest.raises(ValueError, match="repeats"):
        costs.time_per_step(optimizer, repeats=0)
