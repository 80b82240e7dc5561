"""Divergence is a status, not a crash; fit resumes only the run its checkpoint holds."""

from __future__ import annotations

import json
import math

import pytest

from optlib.training import DivergenceError, compare, fit, make_task, optimizer_factory, summarize
from optlib.training.files import CheckpointError
from optlib.training.harness import DIVERGENCE_FACTOR, check_training_loss
from optlib.training.results import RunRecord, load_runs, save_runs

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def task():
    return make_task("sparse", n_train=256, n_val=64, n_test=64, n_features=50)


def train(task, optimizer="adam", *, lr=0.01, epochs=2, **options):
    model = task.make_model(0)
    factory = optimizer_factory(optimizer, lr=lr)
    return fit(model, factory(model.parameters()), task, epochs=epochs, seed=0, **options)


def test_a_training_loss_far_above_the_first_is_divergence():
    record = RunRecord("adam", 0, 1.0, "t", 64, train_loss=[2.0, 1.0], steps=2)
    check_training_loss(record, DIVERGENCE_FACTOR * 2.0)  # at the threshold: still a run
    with pytest.raises(DivergenceError, match=r"over 10x the first loss \(2\)") as caught:
        check_training_loss(record, DIVERGENCE_FACTOR * 2.0 * 1.01)
    assert caught.value.step == 2 and caught.value.record is record
    with pytest.raises(DivergenceError, match="training-set loss is nan"):
        check_training_loss(record, math.nan)


def test_compare_keeps_a_diverged_run_and_the_others(task):
    runs = compare(
        {"adam": ("adam", {"lr": 0.01}), "sgd": ("sgd", {"lr": 1e30})}, task, [0], epochs=2
    )
    adam, sgd = runs
    assert adam.status == "ok" and adam.epochs == 2
    assert sgd.status == "diverged" and sgd.divergence["step"] == len(sgd.train_loss)
    assert sgd.divergence["lr"] == 1e30
    reference = train(task, "adam", lr=0.01)
    assert adam.train_loss == reference.train_loss  # untouched by its neighbour's blow-up


def test_diverged_runs_are_left_out_of_summaries_and_survive_json(task, tmp_path):
    runs = compare(
        {"adam": ("adam", {"lr": 0.01}), "sgd": ("sgd", {"lr": 1e30})}, task, [0, 1], epochs=1
    )
    runs[1].epoch_val_loss.append(math.inf)  # what an evaluation that blew up records
    path = save_runs(runs, tmp_path / "r.json")

    def refuse(token):
        raise AssertionError(f"not strict JSON: {token}")

    json.loads(path.read_text(), parse_constant=refuse)
    loaded = load_runs(path)
    assert [run.status for run in loaded] == ["ok", "diverged", "ok", "diverged"]
    assert loaded[1].epoch_val_loss[-1] == math.inf
    assert loaded[1].divergence == runs[1].divergence
    adam, sgd = summarize(loaded)
    assert (adam.n_runs, adam.n_diverged) == (2, 0)
    assert (sgd.n_runs, sgd.n_diverged) == (0, 2) and math.isnan(sgd.test_accuracy_mean)
    kept = [run.test_accuracy for run in loaded if run.optimizer == "adam"]
    assert adam.test_accuracy_mean == pytest.approx(sum(kept) / 2)


def test_resume_with_other_hyperparameters_names_them(task, tmp_path):
    checkpoint = tmp_path / "run.pt"
    train(task, lr=0.01, epochs=1, checkpoint=checkpoint)
    with pytest.raises(ValueError, match=r"lr=0.01 in the checkpoint, 0.02 now") as caught:
        train(task, lr=0.02, epochs=2, checkpoint=checkpoint)
    assert str(checkpoint) in str(caught.value)
    model = task.make_model(0)
    adam = optimizer_factory("adam", lr=0.01, betas=(0.8, 0.999))(model.parameters())
    with pytest.raises(ValueError, match=r"hyperparameters=.*'betas': \[0.9, 0.999\]"):
        fit(model, adam, task, epochs=2, seed=0, checkpoint=checkpoint)


def test_resume_from_a_damaged_checkpoint_names_the_file(task, tmp_path):
    checkpoint = tmp_path / "run.pt"
    train(task, epochs=1, checkpoint=checkpoint)
    raw = bytearray(checkpoint.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    checkpoint.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=f"{checkpoint}: damaged"):
        train(task, epochs=2, checkpoint=checkpoint)


def test_a_resumed_fit_equals_an_uninterrupted_one(task, tmp_path):
    checkpoint = tmp_path / "run.pt"
    train(task, epochs=2, checkpoint=checkpoint)
    resumed = train(task, epochs=4, checkpoint=checkpoint)
    whole = train(task, epochs=4)
    for field in ("train_loss", "epoch_val_loss", "test_accuracy", "batch_order_fingerprint"):
        assert getattr(resumed, field) == getattr(whole, field)
