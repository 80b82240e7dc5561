"""optlib.sweep trains K models at once and records what K sequential fits record."""

from __future__ import annotations

import math

import pytest
import torch

from optlib import training
from optlib.book.experiments import with_inverse_sqrt_decay
from optlib.optim import make_optimizer
from optlib.training import DataSplits, sweep

TIMING_FIELDS = {"epoch_seconds", "eval_seconds"}
NUMBER_FIELDS = {
    "train_loss",
    "epoch_train_loss",
    "epoch_train_accuracy",
    "epoch_val_loss",
    "epoch_val_accuracy",
    "epoch_test_loss",
    "epoch_test_accuracy",
    "test_loss",
    "test_accuracy",
}


def tiny_task(
    model: str, l2: float = 0.0, n_train: int = 150, dtype=torch.float64
) -> training.Task:
    """A task with 20 features and 3 classes, labelled by a noisy linear teacher."""
    generator = torch.Generator().manual_seed(0)
    teacher = torch.randn(20, 3, generator=generator, dtype=torch.float64)

    def draw(n):
        x = torch.randn(n, 20, generator=generator, dtype=torch.float64)
        noise = torch.randn(n, 3, generator=generator, dtype=torch.float64)
        return x, (x @ teacher + noise).argmax(dim=1)

    splits = DataSplits(*draw(n_train), *draw(60), *draw(60))
    splits = DataSplits(*(t.to(dtype) if t.is_floating_point() else t for t in splits))
    return training.Task("tiny", splits, model, 20, 3, l2)


def sequential_fit(task, name, lr, seed, hyper, **options):
    """What the sweep must reproduce: one ordinary fit from the seed's model."""
    model = task.make_model(seed).double()
    optimizer = make_optimizer(name, model.parameters(), lr=lr, **hyper)
    return model, training.fit(
        model, optimizer, task, seed=seed, optimizer_name=name, progress=False, **options
    )


def assert_records_agree(ours, reference, tolerance):
    ours, reference = ours.to_dict(), reference.to_dict()
    for key, expected in reference.items():
        if key in TIMING_FIELDS:
            assert len(ours[key]) == len(expected), key
        elif key in NUMBER_FIELDS and expected is not None:
            got = ours[key]
            assert got == pytest.approx(expected, rel=0, abs=tolerance), key
        else:
            assert ours[key] == expected, key  # metadata, fingerprints, step counts


CASES = [
    ("logreg", "adam", {}, 0.0),
    ("logreg", "adagrad", {"lr_decay": 0.01, "initial_accumulator_value": 0.1}, 0.01),
    ("mlp", "adam", {"amsgrad": True, "weight_decay": 0.01}, 0.0),
    ("mlp", "sgd", {"momentum": 0.9, "nesterov": True}, 0.01),
    ("mlp", "rmsprop", {"centered": True}, 0.0),
]


@pytest.mark.parametrize(("model", "name", "hyper", "l2"), CASES)
def test_sweep_equals_sequential_fits_in_float64(model, name, hyper, l2):
    task = tiny_task(model, l2)
    lrs, seeds = (0.003, 0.03), (0, 2)
    options = dict(epochs=2, batch_size=32)  # 150 = 4 * 32 + 22: a short last batch
    result = sweep.sweep(task, name, lrs, seeds, hyperparameters=hyper, **options)
    assert result.diverged_at == [None] * 4
    for lr in lrs:
        for seed in seeds:
            model_fit, record = sequential_fit(task, name, lr, seed, hyper, **options)
            assert_records_agree(result.record(lr, seed), record, tolerance=1e-12)
            for param_name, param in model_fit.named_parameters():
                stacked = result.parameters[param_name][seeds.index(seed), lrs.index(lr)]
                torch.testing.assert_close(stacked, param.detach(), rtol=0, atol=1e-12)


def test_options_mean_what_they_mean_for_fit():
    task = tiny_task("mlp")
    options = dict(
        epochs=3, batch_size=16, max_steps=15, train_subset=100, eval_every_epoch=False,
        evaluate_test=False,
    )  # fmt: skip
    result = sweep.sweep(task, "adam", [0.01], [4], **options)
    _, record = sequential_fit(task, "adam", 0.01, 4, {}, **options)
    assert_records_agree(result.records[0], record, tolerance=1e-12)
    assert record.steps == 15 and record.epochs == 3 and record.test_loss is None


def test_stacked_logits_are_each_models_forward():
    for name in ("mlp", "logreg"):
        task = tiny_task(name)
        models = [[task.make_model(seed) for _ in range(2)] for seed in range(3)]
        params = {
            key: torch.stack([torch.stack([dict(m.named_parameters())[key] for m in row])
                              for row in models])
            for key, _ in models[0][0].named_parameters()
        }  # fmt: skip
        x = torch.randn(3, 7, 20)
        logits = sweep.stacked_logits(name, params, x)  # per-seed inputs
        shared = sweep.stacked_logits(name, params, x[0])  # one input for every model
        for s, row in enumerate(models):
            for i, model in enumerate(row):
                torch.testing.assert_close(logits[s, i], model(x[s]))
                torch.testing.assert_close(shared[s, i], model(x[0]))


def test_a_diverging_learning_rate_leaves_the_others_untouched():
    task = tiny_task("mlp")
    lrs = (0.01, 1e100)
    result = sweep.sweep(task, "sgd", lrs, [0, 1], epochs=2, batch_size=32)
    assert result.diverged_at[:2] == [None, None]  # lr = 0.01, both seeds
    for j, seed in enumerate((0, 1)):
        _, record = sequential_fit(task, "sgd", 0.01, seed, {}, epochs=2, batch_size=32)
        assert_records_agree(result.records[j], record, tolerance=1e-12)
        with pytest.raises(training.DivergenceError) as error:
            sequential_fit(task, "sgd", 1e100, seed, {}, epochs=2, batch_size=32)
        diverged = result.record(1e100, seed)
        assert error.value.step > 0  # a few finite losses were recorded first
        assert result.diverged_at[2 + j] == error.value.step
        assert diverged.train_loss == pytest.approx(error.value.record.train_loss, rel=1e-12)
        assert diverged.epoch_val_loss == []
        # marked as fit marks it (training.diverged_record), so stores and tables leave it out
        assert diverged.status == "diverged" and result.records[j].status == "ok"
        assert diverged.divergence["step"] == error.value.step
        assert diverged.divergence["where"] == error.value.where


def test_tune_lr_agrees_with_the_sequential_tuner():
    task = tiny_task("logreg", dtype=torch.float32)  # training.tune_lr builds float32 models
    lrs, seeds = (1e-3, 0.03, 1.0, 1e38), (0, 1)  # 1e38: the logits overflow
    ours = training.tune_lr("adagrad", task, lrs, seeds, epochs=2, batch_size=32, stacked=True)
    reference = training.tune_lr(
        "adagrad", task, lrs, seeds, epochs=2, batch_size=32, progress=False
    )
    assert ours.best_lr == reference.best_lr
    assert ours.lrs == reference.lrs and ours.seeds == reference.seeds
    for got, expected in zip(ours.val_losses, reference.val_losses, strict=True):
        assert got == pytest.approx(expected, rel=1e-5)  # float32; inf == inf where diverged
    assert math.isinf(ours.mean_val_loss[-1])


@pytest.mark.parametrize(
    ("arguments", "culprit"),
    [
        ({"lrs": []}, "lrs"),
        ({"lrs": [0.1, 0.1]}, "lrs"),
        ({"lrs": [math.nan]}, "lrs"),
        ({"seeds": 3}, "seeds"),
        ({"seeds": [1, 1]}, "seeds"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"hyperparameters": {"lr": 0.1}}, "lr"),
        ({"hyperparameters": {"betas": (0.9, 1.5)}}, "beta2"),
        ({"train_subset": 10_000}, "train_subset"),
    ],
)
def test_invalid_arguments_are_named(arguments, culprit):
    call = {"lrs": [0.1], "seeds": [0], "epochs": 1, **arguments}
    with pytest.raises(ValueError, match=culprit):
        sweep.sweep(tiny_task("logreg"), "adam", **call)


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="mlp"):
        sweep.stacked_logits("resnet", {}, torch.zeros(1, 2, 3))


def test_progress_bar_counts_the_shared_steps(capsys):
    task = tiny_task("logreg")
    sweep.sweep(task, "adam", [0.01, 0.1], [0, 1], epochs=2, batch_size=32, progress=True)
    err = capsys.readouterr().err
    assert "adam x 4 models" in err and "/10 " in err  # 2 epochs x ceil(150 / 32) steps
    sweep.sweep(task, "adam", [0.01], [0], epochs=1, progress=False)
    assert capsys.readouterr().err == ""


def test_sweep_with_inverse_sqrt_decay_equals_decayed_fits_in_float64():
    task = tiny_task("logreg", dtype=torch.float64)
    lrs, seeds = (0.05, 0.5), (0, 1)
    hyper = {"momentum": 0.9, "nesterov": True}
    result = sweep.sweep(
        task, "sgd", lrs, seeds, epochs=2, batch_size=32, hyperparameters=hyper,
        schedule=with_inverse_sqrt_decay, progress=False,
    )  # fmt: skip
    for lr in lrs:
        for seed in seeds:
            model = task.make_model(seed).double()
            factory = with_inverse_sqrt_decay(training.optimizer_factory("sgd", lr=lr, **hyper))
            record = training.fit(
                model, factory(model.parameters()), task, epochs=2, batch_size=32, seed=seed,
                progress=False,
            )  # fmt: skip
            stacked = result.record(lr, seed)
            assert stacked.train_loss == pytest.approx(record.train_loss, rel=0, abs=1e-12)
            assert stacked.test_loss == pytest.approx(record.test_loss, rel=0, abs=1e-12)
