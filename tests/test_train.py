"""The training harness: fair comparisons, determinism, divergence, checkpoints, tuning, records."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from optlib import figures, training
from optlib.optim import Adagrad, Adam
from optlib.training import (
    DataSplits,
    DivergenceError,
    RunRecord,
    Task,
    TuningResult,
    compare,
    fit,
    format_tuning,
    load_runs,
    optimizer_factory,
    save_runs,
    summarize,
    train,
    training_loss_curve,
    tune_lr,
)
from optlib.training.models import parameter_fingerprint
from optlib.training.results import window_means

TIMING_FIELDS = {"epoch_seconds", "eval_seconds"}


def blobs(n: int, generator: torch.Generator, n_features: int = 20, n_classes: int = 3):
    """Gaussian inputs labelled by a fixed linear teacher (learnable, not trivially separable)."""
    teacher = torch.randn(n_features, n_classes, generator=torch.Generator().manual_seed(99))
    x = torch.randn(n, n_features, generator=generator)
    y = (x @ teacher + 0.5 * torch.randn(n, n_classes, generator=generator)).argmax(dim=1)
    return x, y


def tiny_task(model: str = "mlp", l2: float = 0.0, n_train: int = 200) -> Task:
    generator = torch.Generator().manual_seed(0)
    splits = DataSplits(*blobs(n_train, generator), *blobs(100, generator), *blobs(100, generator))
    return Task("tiny", splits, model, in_features=20, n_classes=3, l2=l2)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def task() -> Task:
    return tiny_task()


def without_timings(record: RunRecord) -> dict:
    return {k: v for k, v in record.to_dict().items() if k not in TIMING_FIELDS}


def first_batch_indices(n_train: int, batch_size: int, seed: int) -> torch.Tensor:
    """What fit's shuffling generator draws first, computed independently."""
    return torch.randperm(n_train, generator=torch.Generator().manual_seed(seed))[:batch_size]


class InputRecorder(nn.Module):
    """Wraps a model and remembers every training-mode input batch."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.batches: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.batches.append(x.clone())
        return self.model(x)


# --------------------------------------------------------------------------------------------
# fit: what is recorded
# --------------------------------------------------------------------------------------------
def test_record_has_one_loss_per_step_and_one_evaluation_per_epoch(task):
    model = task.make_model(0)
    record = fit(model, Adam(model.parameters()), task, epochs=3, batch_size=32, seed=0)
    steps_per_epoch = math.ceil(200 / 32)
    assert record.steps_per_epoch == steps_per_epoch
    assert record.steps == len(record.train_loss) == 3 * steps_per_epoch
    assert record.eval_steps == [steps_per_epoch, 2 * steps_per_epoch, 3 * steps_per_epoch]
    for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss"):
        assert len(getattr(record, f"epoch_{name}")) == 3
    assert len(record.epoch_seconds) == len(record.eval_seconds) == 3
    assert all(seconds > 0 for seconds in record.epoch_seconds + record.eval_seconds)
    assert record.test_accuracy == record.epoch_test_accuracy[-1]
    assert (record.optimizer, record.algorithm, record.lr) == ("adam", "adam", 1e-3)
    assert record.hyperparameters["betas"] == [0.9, 0.999]
    assert "lr" not in record.hyperparameters
    # Adam learns something on this problem in 3 epochs
    assert record.epoch_train_loss[-1] < record.train_loss[0]


def test_epoch_metrics_match_an_independent_evaluation(task):
    model = task.make_model(0)
    record = fit(model, Adam(model.parameters()), task, epochs=1, batch_size=50, seed=0)
    with torch.no_grad():
        logits = model(task.splits.val_x)
    expected_loss = F.cross_entropy(logits, task.splits.val_y).item()
    expected_accuracy = (logits.argmax(1) == task.splits.val_y).float().mean().item()
    assert record.epoch_val_loss[0] == pytest.approx(expected_loss, rel=1e-6)
    assert record.epoch_val_accuracy[0] == pytest.approx(expected_accuracy)


def test_first_loss_is_measured_before_any_update(task):
    seed, batch_size = 3, 16
    indices = first_batch_indices(200, batch_size, seed)
    initial = task.make_model(seed)
    with torch.no_grad():
        expected = F.cross_entropy(
            initial(task.splits.train_x[indices]), task.splits.train_y[indices]
        ).item()
    for lr in (1e-3, 10.0):
        model = task.make_model(seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        try:
            record = fit(model, optimizer, task, epochs=1, batch_size=batch_size, seed=seed)
        except DivergenceError as error:  # lr=10 blows up; its record still starts right
            record = error.record
        assert record.train_loss[0] == pytest.approx(expected, rel=1e-6)


def test_l2_penalty_is_part_of_the_minibatch_objective():
    plain, penalised = tiny_task("logreg"), tiny_task("logreg", l2=0.1)
    records = []
    for task in (plain, penalised):
        model = task.make_model(0)
        records.append(fit(model, Adam(model.parameters()), task, epochs=1, seed=0, max_steps=1))
    weight = plain.make_model(0).linear.weight
    penalty = 0.5 * 0.1 * weight.square().sum().item()
    assert records[1].train_loss[0] == pytest.approx(records[0].train_loss[0] + penalty, rel=1e-6)


def test_same_seed_gives_an_identical_record(task):
    records = []
    for _ in range(2):
        model = task.make_model(5)
        records.append(fit(model, Adagrad(model.parameters()), task, epochs=2, seed=5))
    assert without_timings(records[0]) == without_timings(records[1])


def test_seed_changes_the_batch_order(task):
    fingerprints = set()
    for seed in (0, 1):
        model = task.make_model(0)
        record = fit(model, Adam(model.parameters()), task, epochs=1, seed=seed)
        fingerprints.add(record.batch_order_fingerprint)
    assert len(fingerprints) == 2


def test_max_steps_stops_mid_epoch_and_still_evaluates(task):
    model = task.make_model(0)
    record = fit(
        model, Adam(model.parameters()), task, epochs=5, batch_size=32, seed=0, max_steps=10
    )
    assert record.steps == len(record.train_loss) == 10
    assert record.epochs == 2 and record.eval_steps == [7, 10]
    assert record.test_accuracy is not None


def test_max_steps_at_an_epoch_boundary_does_not_start_another_epoch(task):
    model = task.make_model(0)
    record = fit(
        model, Adam(model.parameters()), task, epochs=5, batch_size=50, seed=0, max_steps=8
    )
    assert (record.epochs, record.steps, record.eval_steps) == (2, 8, [4, 8])


def test_eval_every_epoch_false_evaluates_once_at_the_end(task):
    model = task.make_model(0)
    record = fit(
        model,
        Adam(model.parameters()),
        task,
        epochs=3,
        batch_size=50,
        seed=0,
        eval_every_epoch=False,
    )
    assert record.eval_steps == [12]
    assert len(record.epoch_seconds) == 3


def test_train_subset_uses_only_the_first_examples(task):
    model = InputRecorder(task.make_model(0))
    record = fit(
        model, Adam(model.parameters()), task, epochs=2, batch_size=8, seed=0, train_subset=40
    )
    assert record.n_train == 40 and record.steps == 10
    seen = torch.cat(model.batches)
    assert seen.shape[0] == 80
    allowed = {tuple(row.tolist()) for row in task.splits.train_x[:40]}
    assert {tuple(row.tolist()) for row in seen} == allowed


def test_evaluate_test_false_never_touches_the_test_split(task):
    model = task.make_model(0)
    record = fit(model, Adam(model.parameters()), task, epochs=1, seed=0, evaluate_test=False)
    assert record.test_accuracy is None and record.epoch_test_loss == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "Invalid epochs: 0"),
        ({"batch_size": 0}, "Invalid batch_size: 0"),
        ({"max_steps": 0}, "Invalid max_steps: 0"),
        ({"train_subset": 201}, "Invalid train_subset: 201"),
    ],
)
def test_invalid_fit_arguments_are_named(task, kwargs, message):
    model = task.make_model(0)
    arguments = {"epochs": 1, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        fit(model, Adam(model.parameters()), task, **arguments)


# --------------------------------------------------------------------------------------------
# Divergence
# --------------------------------------------------------------------------------------------
def test_nan_input_stops_at_the_exact_step_and_names_optimizer_and_lr(task):
    batch_size, seed, poisoned = 16, 0, 123
    train_x = task.splits.train_x.clone()
    train_x[poisoned] = float("nan")
    poisoned_task = task._replace(splits=task.splits._replace(train_x=train_x))
    order = torch.randperm(200, generator=torch.Generator().manual_seed(seed))
    expected_step = int((order == poisoned).nonzero()) // batch_size

    model = poisoned_task.make_model(0)
    optimizer = Adagrad(model.parameters(), lr=0.05)
    with pytest.raises(DivergenceError) as caught:
        fit(
            model,
            optimizer,
            poisoned_task,
            epochs=1,
            batch_size=batch_size,
            seed=seed,
            optimizer_name="my-adagrad",
        )
    error = caught.value
    assert isinstance(error, FloatingPointError)
    assert (error.optimizer, error.step, error.lr) == ("my-adagrad", expected_step, 0.05)
    assert math.isnan(error.loss)
    message = str(error)
    assert "my-adagrad" in message and f"step {expected_step}" in message and "lr=0.05" in message
    assert len(error.record.train_loss) == expected_step  # the steps before the NaN


def test_huge_learning_rate_raises_divergence_error(task):
    model = task.make_model(0)
    with pytest.raises(DivergenceError, match=r"sgd diverged at step \d+ with lr=1e\+10"):
        fit(model, torch.optim.SGD(model.parameters(), lr=1e10), task, epochs=3, seed=0)


# --------------------------------------------------------------------------------------------
# Checkpoint and resume
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer_class", [Adam, Adagrad])
def test_resuming_from_a_checkpoint_is_bit_identical(task, tmp_path, optimizer_class):
    options = {"batch_size": 32, "seed": 4, "progress": False}
    model = task.make_model(4)
    optimizer = optimizer_class(model.parameters(), lr=0.01)
    uninterrupted = fit(model, optimizer, task, epochs=3, **options)

    checkpoint = tmp_path / "run.pt"
    first_model = task.make_model(4)
    fit(
        first_model,
        optimizer_class(first_model.parameters(), lr=0.01),
        task,
        epochs=2,
        checkpoint=checkpoint,
        **options,
    )

    # a fresh process would rebuild model and optimizer from scratch; other weights on purpose
    resumed_model = task.make_model(1234)
    resumed_optimizer = optimizer_class(resumed_model.parameters(), lr=0.01)
    resumed = fit(
        resumed_model, resumed_optimizer, task, epochs=3, checkpoint=checkpoint, **options
    )

    assert without_timings(resumed) == without_timings(uninterrupted)
    for p, q in zip(model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(p, q)
    for state, resumed_state in zip(
        optimizer.state.values(), resumed_optimizer.state.values(), strict=True
    ):
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(resumed_state[key]))


def test_resume_refuses_a_checkpoint_of_another_run(task, tmp_path):
    checkpoint = tmp_path / "run.pt"
    model = task.make_model(0)
    fit(model, Adam(model.parameters()), task, epochs=1, seed=0, checkpoint=checkpoint)
    model = task.make_model(0)
    with pytest.raises(ValueError, match="another run: seed=0 in the checkpoint, 1 now"):
        fit(model, Adam(model.parameters()), task, epochs=2, seed=1, checkpoint=checkpoint)


# --------------------------------------------------------------------------------------------
# compare: identical starting point and batches for every optimizer
# --------------------------------------------------------------------------------------------
def test_compare_gives_every_optimizer_the_same_weights_and_batches(task):
    optimizers = {
        "adam": ("adam", {}),
        "adagrad": ("adagrad", {"lr": 0.05}),
        "sgd": lambda params: torch.optim.SGD(params, lr=0.1),
    }
    records = compare(optimizers, task, [0, 1], epochs=2, batch_size=32, progress=False)
    assert [(r.optimizer, r.seed) for r in records] == [
        (name, seed) for seed in (0, 1) for name in optimizers
    ]
    for seed in (0, 1):
        runs = [r for r in records if r.seed == seed]
        expected_init = parameter_fingerprint(task.make_model(seed))
        assert {r.init_fingerprint for r in runs} == {expected_init}
        assert len({r.batch_order_fingerprint for r in runs}) == 1
        assert len({r.train_loss[0] for r in runs}) == 1  # same weights, same first batch
        assert len({r.train_loss[-1] for r in runs}) == 3  # ... but different update rules
    assert records[0].init_fingerprint != records[3].init_fingerprint
    assert records[0].batch_order_fingerprint != records[3].batch_order_fingerprint
    assert [r.lr for r in records[:3]] == [1e-3, 0.05, 0.1]


def test_same_batches_are_really_fed_to_each_optimizer(task):
    seen = []
    for optimizer_class in (Adam, Adagrad):
        model = InputRecorder(task.make_model(0))
        fit(model, optimizer_class(model.parameters()), task, epochs=2, batch_size=32, seed=9)
        seen.append(model.batches)
    assert len(seen[0]) == len(seen[1]) == 14
    assert all(torch.equal(a, b) for a, b in zip(*seen, strict=True))


def test_compare_rejects_bad_arguments(task):
    with pytest.raises(ValueError, match="Invalid seeds: 3"):
        compare({"adam": ("adam", {})}, task, 3, epochs=1)
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'.*adagrad"):
        compare({"x": ("adamm", {})}, task, [0], epochs=1)
    with pytest.raises(ValueError, match="Invalid optimizer spec"):
        compare({"x": "adam"}, task, [0], epochs=1)


def test_optimizer_factory_passes_hyperparameters(task):
    optimizer = optimizer_factory("AdaGrad", lr=0.3, eps=1e-6)(task.make_model(0).parameters())
    assert isinstance(optimizer, Adagrad)
    assert (optimizer.defaults["lr"], optimizer.defaults["eps"]) == (0.3, 1e-6)


# --------------------------------------------------------------------------------------------
# tune_lr
# --------------------------------------------------------------------------------------------
def test_tune_lr_picks_a_sensible_lr_and_counts_divergence_as_inf(task, monkeypatch):
    evaluated = []
    original = training.evaluate
    monkeypatch.setattr(train, "evaluate", lambda m, x, y: evaluated.append(x) or original(m, x, y))

    lrs = [1e-5, 0.3, 1e10]
    result = tune_lr("sgd", task, lrs, [0, 1], epochs=2, batch_size=32, progress=False)
    assert result.lrs == tuple(lrs) and result.seeds == (0, 1)
    assert result.best_lr == 0.3  # 1e-5 barely moves in 14 steps; 1e10 diverges
    assert result.val_losses[2] == (math.inf, math.inf)
    assert result.mean_val_loss[2] == math.inf
    assert result.mean_val_loss[1] < result.mean_val_loss[0] < math.inf
    assert not result.best_on_edge
    assert all(math.isfinite(v) for v in result.val_losses[1])
    # validation only: the test split is never evaluated while tuning
    assert evaluated and not any(x is task.splits.test_x for x in evaluated)
    stored = json.loads(json.dumps(result.to_dict()))  # as a results file keeps it
    assert TuningResult.from_dict(stored).to_dict() == result.to_dict()  # inf and nan survive


def test_tune_lr_raises_when_every_lr_diverges(task):
    with pytest.raises(ValueError, match="Every learning rate diverged for sgd"):
        tune_lr("sgd", task, [1e10, 1e12], [0], epochs=1, progress=False)


def test_tune_lr_validates_the_grid(task):
    with pytest.raises(ValueError, match="Invalid lrs"):
        tune_lr("adam", task, [0.1, -1.0], [0], epochs=1)
    with pytest.raises(ValueError, match="must not contain 'lr'"):
        tune_lr("adam", task, [0.1], [0], epochs=1, hyperparameters={"lr": 1.0})


def test_log_grid_is_log_spaced_and_inclusive():
    assert training.log_grid(1e-4, 1.0, per_decade=1) == (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    assert training.log_grid(1e-3, 1e-2, per_decade=2) == (1e-3, 0.00316, 1e-2)
    with pytest.raises(ValueError, match="Invalid grid bounds"):
        training.log_grid(1.0, 0.1)


# --------------------------------------------------------------------------------------------
# Records: JSON, summaries
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(task) -> list[RunRecord]:
    optimizers = {"adam": ("adam", {}), "adagrad": ("adagrad", {})}
    return compare(optimizers, task, [0, 1, 2], epochs=1, batch_size=50, progress=False)


def test_json_round_trip_keeps_every_field(runs, tmp_path):
    path = save_runs(runs, tmp_path / "sub" / "runs.json", meta={"note": "tiny"})
    document = json.loads(path.read_text())
    assert document["meta"]["note"] == "tiny" and "torch_version" in document["meta"]
    assert load_runs(path) == runs


def test_load_runs_accepts_a_bare_list(runs, tmp_path):
    path = tmp_path / "bare.json"
    path.write_text(json.dumps([run.to_dict() for run in runs]))
    assert load_runs(path) == runs


def test_load_runs_rejects_other_documents(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"records": []}))
    with pytest.raises(ValueError, match="expected a list of runs"):
        load_runs(path)
    with pytest.raises(ValueError, match="missing required fields: \\['seed'\\]"):
        RunRecord.from_dict({"optimizer": "adam", "lr": 1.0, "task": "t", "batch_size": 1})


def test_summarize_reports_mean_and_std_over_seeds(runs):
    rows = summarize(runs)
    assert [row.optimizer for row in rows] == ["adam", "adagrad"]
    adam = [r.test_accuracy for r in runs if r.optimizer == "adam"]
    mean = sum(adam) / 3
    std = math.sqrt(sum((a - mean) ** 2 for a in adam) / 2)
    assert rows[0].n_runs == 3 and rows[0].lrs == (1e-3,)
    assert rows[0].test_accuracy_mean == pytest.approx(mean)
    assert rows[0].test_accuracy_std == pytest.approx(std)
    seconds = [s for r in runs if r.optimizer == "adagrad" for s in r.epoch_seconds]
    assert rows[1].seconds_per_epoch_mean == pytest.approx(sum(seconds) / len(seconds))
    table = figures.summary_table(rows).to_text()
    assert "Adam" in table and "Adagrad" in table and f"{100 * mean:.2f} ± " in table


def test_single_run_summary_has_no_spread(runs):
    (row,) = summarize(runs[:1])
    assert math.isnan(row.test_accuracy_std)
    assert (
        "±" not in figures.summary_table([row]).to_text()
    )  # one run, one epoch: no spread to report


def test_record_fields_are_plain_json_types(runs):
    for field in dataclasses.fields(RunRecord):
        value = getattr(runs[0], field.name)
        assert json.loads(json.dumps(value)) == value, field.name


# --------------------------------------------------------------------------------------------
# Progress bars
# --------------------------------------------------------------------------------------------
def test_progress_auto_is_quiet_under_ci_and_can_be_forced(monkeypatch):
    monkeypatch.delenv("OPTLIB_PROGRESS", raising=False)
    monkeypatch.setenv("CI", "true")
    assert train.progress_enabled(None) is False
    assert train.progress_enabled(True) is True
    monkeypatch.setenv("OPTLIB_PROGRESS", "1")
    assert train.progress_enabled(None) is True
    monkeypatch.setenv("OPTLIB_PROGRESS", "0")
    monkeypatch.setenv("CI", "")
    assert train.progress_enabled(None) is False


def test_forced_progress_bar_is_drawn_and_closed(task, capsys):
    model = task.make_model(0)
    fit(model, Adam(model.parameters()), task, epochs=1, seed=0, progress=True)
    assert "adam seed=0" in capsys.readouterr().err


def test_training_loss_curve_averages_windows_then_seeds():
    def record(seed: int, losses: list[float]) -> RunRecord:
        return RunRecord("adam", seed, 1e-3, "t", 8, steps_per_epoch=4, train_loss=losses)

    runs = [record(0, [4.0, 2.0, 1.0, 1.0, 9.0]), record(1, [2.0, 2.0, 3.0, 1.0, 0.0, 5.0])]
    curve = training_loss_curve(runs, window=2)  # 5 common steps -> 2 full windows
    assert curve.x.tolist() == [0.5 / 4, 2.5 / 4]
    assert curve.mean.tolist() == [2.5, 1.5]
    assert curve.std == pytest.approx([math.sqrt(0.5), math.sqrt(0.5)])
    assert window_means([1.0, 2.0, 3.0, 4.0, 5.0], 2).tolist() == [1.5, 3.5]


def test_format_tuning_marks_the_best_the_diverged_and_an_edge():
    inf, nan = float("inf"), float("nan")
    result = TuningResult(
        optimizer="adam",
        lrs=(0.001, 0.01, 0.1),
        seeds=(0, 1),
        val_losses=((0.5, 0.7), (0.3, 0.4), (inf, 0.2)),
        mean_val_loss=(0.6, 0.35, inf),
        std_val_loss=(0.1414, 0.0707, nan),
        best_lr=0.01,
        epochs=3,
    )
    lines = format_tuning(result).splitlines()
    assert lines[0] == "adam: final validation loss after 3 epochs, 2 seed(s)"
    assert lines[2] == "  lr=0.01      0.3500 ± 0.0707  <- best"
    assert lines[3] == "  lr=0.1       diverged"
    assert len(lines) == 4  # the best is inside the grid: no warning
    on_edge = format_tuning(result._replace(best_lr=0.001)).splitlines()
    assert on_edge[-1].endswith("on the grid's edge; consider widening the grid")
    extended = format_tuning(result._replace(best_lr=0.1), [{"lr": 0.1}]).splitlines()
    assert "(added: the best was on the edge)" in extended[3]
    assert extended[-1].endswith("still on the grid's edge after 1 extensions")
