"""Full-budget suites: the new models, the suite protocol (tuning with grid extension, final
runs, resume), compact records, the report and its figures, and the CLI's suite command."""

from __future__ import annotations

import copy
import json
import math

import matplotlib
import numpy as np
import pytest
import torch
from scipy import stats

from optlib.book import suites
from optlib.book.experiments import with_inverse_sqrt_decay
from optlib.cli import main
from optlib.cli.common import parse_hyperparameters
from optlib.figures.suites import (
    plot_final_accuracy,
    plot_suite_differences,
    plot_val_loss_curves,
    suite_table,
)
from optlib.optim import make_optimizer
from optlib.training import RunRecord, Task, evaluate, fit, make_model
from optlib.training.data import DataSplits
from optlib.training.harness import optimizer_factory
from optlib.training.models import CNN, SeededDropout
from optlib.training.report import paired_difference, suite_report, time_to_target
from optlib.training.runstore import RunStore
from optlib.training.sweep import sweep

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------
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
    twin = copy.deepcopy(layer)
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


# --------------------------------------------------------------------------------------------
# The sweep with a schedule
# --------------------------------------------------------------------------------------------
def test_sweep_with_inverse_sqrt_decay_equals_decayed_fits_in_float64():
    task = tiny_task("logreg", dtype=torch.float64)
    lrs, seeds = (0.05, 0.5), (0, 1)
    hyper = {"momentum": 0.9, "nesterov": True}
    result = sweep(
        task, "sgd", lrs, seeds, epochs=2, batch_size=32, hyperparameters=hyper,
        schedule=with_inverse_sqrt_decay, progress=False,
    )  # fmt: skip
    for lr in lrs:
        for seed in seeds:
            model = task.make_model(seed).double()
            factory = with_inverse_sqrt_decay(optimizer_factory("sgd", lr=lr, **hyper))
            record = fit(
                model, factory(model.parameters()), task, epochs=2, batch_size=32, seed=seed,
                progress=False,
            )  # fmt: skip
            stacked = result.record(lr, seed)
            assert stacked.train_loss == pytest.approx(record.train_loss, rel=0, abs=1e-12)
            assert stacked.test_loss == pytest.approx(record.test_loss, rel=0, abs=1e-12)


# --------------------------------------------------------------------------------------------
# The suite protocol
# --------------------------------------------------------------------------------------------
def tiny_task(model, *, n_features=20, n_classes=3, n_train=128, dtype=torch.float32) -> Task:
    """A task labelled by a noisy linear teacher, small enough for a whole suite in seconds."""
    generator = torch.Generator().manual_seed(0)
    teacher = torch.randn(n_features, n_classes, generator=generator)

    def draw(n):
        x = torch.randn(n, n_features, generator=generator)
        noise = torch.randn(n, n_classes, generator=generator)
        return x.to(dtype), (x @ teacher + noise).argmax(dim=1)

    splits = DataSplits(*draw(n_train), *draw(64), *draw(64))
    return Task("tiny", splits, model, n_features, n_classes)


def tiny_suite(stacked: bool, **changes) -> suites.Suite:
    """kb-logreg's protocol (or the CNN suite's optimizers) on the tiny task."""
    base = suites.SUITES["kb-logreg" if stacked else "cnn"]
    optimizers = tuple(o._replace(grid=o.grid[1:4]) for o in base.optimizers[:3])
    return base._replace(
        task="tiny", epochs=2, batch_size=32, seeds=(0, 1), tune_seeds=(0,),
        optimizers=optimizers, reference=optimizers[0].label, **changes,
    )  # fmt: skip


@pytest.mark.parametrize("stacked", [True, False])
def test_a_suite_tunes_then_compares_and_stores_every_run(tmp_path, stacked):
    suite = tiny_suite(stacked)
    task = tiny_task("logreg")
    store = RunStore.open(tmp_path / "suite.json", suites.suite_config(suite))
    logged = []
    finals = suites.run_suite(suite, store, task=task, progress=False, log=logged.append)
    store.finish()
    document = json.loads((tmp_path / "suite.json").read_text())
    tuning = document["meta"]["tuning"]
    for optimizer in suite.optimizers:
        entry = tuning[optimizer.label]
        assert entry["grid"] == list(optimizer.grid)
        assert entry["best_lr"] in entry["lrs"] and set(optimizer.grid) <= set(entry["lrs"])
        assert entry["stacked"] is stacked
        # every (lr, seed) of the grid actually tried is a stored tuning run, without test
        for lr in entry["lrs"]:
            run = next(
                r
                for r in document["runs"]
                if r["run_id"] == f"tune/{optimizer.label}/lr={lr:g}/seed0"
            )
            assert run["role"] == "tuning" and run["test_accuracy"] is None
            assert run["optimizer"] == optimizer.label
        finals_of = [r for r in document["runs"] if r["run_id"].startswith(optimizer.label + "/")]
        assert [r["seed"] for r in finals_of] == [0, 1]
        assert {r["lr"] for r in finals_of} == {entry["best_lr"]}
        assert all(r["role"] == "final" and r["test_accuracy"] is not None for r in finals_of)
    assert len(finals) == len(suite.optimizers) * len(suite.seeds)
    assert any(line.startswith("tuned learning rates") for line in logged)


def test_a_best_lr_on_the_grid_edge_extends_the_grid_and_says_so(tmp_path):
    suite = tiny_suite(True, max_grid_extensions=2)
    adam = suite.optimizers[0]._replace(grid=(1e-6, 3.16e-6))  # far too small: best on top
    suite = suite._replace(optimizers=(adam,), reference=adam.label)
    store = RunStore.open(tmp_path / "suite.json", suites.suite_config(suite))
    logged = []
    result = suites.tune(suite, adam, tiny_task("logreg"), store, progress=False, log=logged.append)
    entry = store.meta["tuning"][adam.label]
    assert [e["lr"] for e in entry["extended"]] == [1e-05, 3.16e-05]  # one point per round
    assert all(e["side"] == "high" for e in entry["extended"])
    assert result.lrs == (1e-6, 3.16e-6, 1e-05, 3.16e-05) and entry["best_on_edge"]
    assert sum("edge; extending the grid" in line for line in logged) == 2
    assert "still on the grid's edge after 2 extensions" in logged[-1]


def test_resuming_a_suite_trains_only_what_is_missing_and_gives_the_same_file(tmp_path):
    suite = tiny_suite(False)
    task = tiny_task("logreg")
    path = tmp_path / "suite.json"
    store = RunStore.open(path, suites.suite_config(suite))
    suites.run_suite(suite, store, task=task, progress=False, log=lambda line: None)
    store.finish()
    whole = json.loads(path.read_text())
    # Drop the last two final runs, as if the suite had been killed before them.
    document = json.loads(path.read_text())
    document["runs"] = document["runs"][:-2]
    document["meta"]["complete"] = False
    path.write_text(json.dumps(document))
    store = RunStore.open(path, suites.suite_config(suite), resume=True)
    suites.run_suite(suite, store, task=task, progress=False, log=lambda line: None)
    resumed = json.loads(path.read_text())
    timing = {"epoch_seconds", "eval_seconds"}

    def numbers(runs):
        return [{k: v for k, v in run.items() if k not in timing} for run in runs]

    assert numbers(resumed["runs"]) == numbers(whole["runs"])
    with pytest.raises(ValueError, match="epochs: 2 in the file, 3 now"):
        RunStore.open(path, suites.suite_config(suite._replace(epochs=3)), resume=True)


def test_compact_record_keeps_the_first_steps_and_epoch_means():
    losses = [float(i) for i in range(500)]
    record = RunRecord("adam", 0, 0.1, "t", 32, train_loss=losses, steps_per_epoch=120)
    data = suites.compact_record(record, role="final")
    assert data["train_loss"] == losses[: suites.KEPT_STEPS]
    assert data["train_loss_steps"] == 500
    assert data["train_loss_epoch_mean"] == [59.5, 179.5, 299.5, 419.5, 489.5]
    assert data["role"] == "final"


def test_reproduce_arguments_name_the_schedule_and_hyperparameters():
    suite = suites.SUITES["kb-logreg"]
    nesterov = suite.optimizer("nesterov-decayed")
    argv = suites.reproduce_args(suite, nesterov, 0.316, 3)
    assert argv == [
        "compare", "--task", "mnist-logreg", "--optimizers", "sgd", "--seed", "3",
        "--epochs", "45", "--batch-size", "128", "--lr", "0.316",
        "--hyperparameters", "momentum=0.9", "nesterov=true", "--decay", "inverse-sqrt",
        "--l2", "0.0001",
    ]  # fmt: skip


def test_every_suite_is_defined_within_the_issues_budget():
    for suite in suites.SUITES.values():
        labels = {o.name for o in suite.optimizers}
        assert {"adam", "adagrad", "adamw", "rmsprop", "sgd"} <= labels, suite.name
        assert suite.reference in {o.label for o in suite.optimizers}
        assert len(suite.seeds) >= (5 if suite.stacked_tuning else 3), suite.name
        for optimizer in suite.optimizers:
            grid = np.log10(optimizer.grid)
            assert np.allclose(np.diff(grid), 0.5, atol=0.01), (suite.name, optimizer.label)
    assert suites.SUITES["kb-logreg"].epochs == 45
    assert suites.SUITES["cnn"].epochs >= 10
    assert suites.SUITES["mlp-kb"].epochs >= 20


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------
def test_paired_difference_is_scipys_paired_t_interval():
    a, b = [0.91, 0.93, 0.92, 0.95, 0.90], [0.90, 0.91, 0.93, 0.92, 0.89]
    ours = paired_difference(a, b)
    reference = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (ours.low, ours.high) == pytest.approx((reference.low, reference.high), rel=1e-12)
    assert ours.mean == pytest.approx(np.mean(np.subtract(a, b)))
    assert not ours.detected and ours.detectable > abs(ours.mean)
    with pytest.raises(ValueError, match="1 seed"):
        paired_difference([1.0], [2.0])


def record(label, seed, val_losses, test_accuracy, *, status="ok", seconds=1.0):
    return RunRecord(
        label, seed, 0.1, "t", 32, steps_per_epoch=10, epochs=len(val_losses),
        eval_steps=[10 * (i + 1) for i in range(len(val_losses))],
        epoch_val_loss=list(val_losses), epoch_seconds=[seconds] * len(val_losses),
        test_accuracy=test_accuracy, status=status, run_id=f"{label}/seed{seed}",
    )  # fmt: skip


def test_time_to_target_is_the_first_evaluation_at_or_below_it():
    run = record("adam", 0, [0.9, 0.5, 0.3, 0.35], 0.9, seconds=2.0)
    assert time_to_target(run, 0.5) == (20, 4.0)
    assert time_to_target(run, 0.3) == (30, 6.0)
    assert time_to_target(run, 0.1) is None


def report_runs():
    return [
        record("adam", 0, [0.5, 0.3], 0.90),
        record("adam", 1, [0.5, 0.32], 0.91),
        record("adam", 2, [0.5, 0.31], 0.92),
        record("sgd", 0, [0.6, 0.4], 0.85),
        record("sgd", 1, [0.6, 0.45], 0.86),
        record("sgd", 2, [math.inf], None, status="diverged"),
    ]


def test_report_leaves_diverged_runs_and_their_pairs_out():
    rows = {
        row.optimizer: row for row in suite_report(report_runs(), reference="adam", target=0.35)
    }
    adam, sgd = rows["adam"], rows["sgd"]
    assert adam.accuracy_vs_reference is None and adam.status == "ok"
    assert adam.test_accuracy[0] == pytest.approx(0.91) and adam.n_reached == 3
    assert sgd.n_runs == 2 and sgd.n_diverged == 1
    assert sgd.status == "1 of 3 diverged (left out)"
    assert sgd.test_accuracy[0] == pytest.approx(0.855)
    assert sgd.accuracy_vs_reference.n == 2  # seeds 0 and 1 only
    assert sgd.accuracy_vs_reference.mean == pytest.approx(-0.05)
    assert sgd.n_reached == 0 and math.isnan(sgd.steps_to_target[0])
    with pytest.raises(ValueError, match="Invalid reference 'adagrad'"):
        suite_report(report_runs(), reference="adagrad", target=None)


def test_suite_table_and_figures_show_what_the_report_says():
    runs = report_runs()
    rows = suite_report(runs, reference="adam", target=0.35)
    shown = suite_table(rows, target=0.35)
    assert shown.headers[-2:] == ("steps to val. loss 0.35", "seconds to val. loss 0.35")
    adam, sgd = shown.rows
    assert adam[3] == "91.00 ± 1.00" and adam[4] == "(reference)" and adam[-2] == "20 ± 0"
    assert sgd[2] == "2; 1 of 3 diverged (left out)"
    assert sgd[4].startswith("-5.00 [") and sgd[-1] == "not reached"
    fig, axes = plt.subplots(1, 3)
    plot_final_accuracy(axes[0], runs)
    plot_suite_differences(axes[1], rows)
    plot_val_loss_curves(axes[2], runs, target=0.35)
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["SGD"]
    assert len(axes[2].get_lines()) == 3  # adam, sgd (diverged run left out), target
    plt.close(fig)
    with pytest.raises(ValueError, match="Invalid metric"):
        plot_suite_differences(axes[1], rows, metric="speed")


# --------------------------------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------------------------------
def test_suite_command_runs_a_tiny_budget_and_reports(tmp_path, capsys):
    out = tmp_path / "kb.json"
    argv = ["suite", "kb-logreg", "--out", str(out), "--epochs", "1", "--seeds", "2"]
    argv += ["--tune-seeds", "1", "--subset", "256", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Adagrad, constant α" in printed and "wall time" in printed
    document = json.loads(out.read_text())
    meta = document["meta"]
    assert (
        meta["complete"]
        and meta["torch_threads"] == 1
        and meta["command"][3:5] == ["suite", "kb-logreg"]
    )
    assert meta["config"]["epochs"] == 1 and meta["config"]["subset"] == 256
    finals = [run for run in document["runs"] if run["role"] == "final"]
    assert len(finals) == 12
    # A final run's reproduce re-runs it alone: the same losses, bit for bit (same threads).
    run = finals[-1]
    again = tmp_path / "again.json"
    assert main([*run["reproduce"], "--threads", "1", "--out", str(again), "--no-progress"]) == 0
    assert json.loads(again.read_text())["runs"][0]["train_loss"] == run["train_loss"]
    assert main(["report", str(out)]) == 0
    assert (
        "kb-logreg, batch size 128: 1 epochs, 2 seeds; learning rates tuned at 1 epochs on 1"
        in (capsys.readouterr().out)
    )
    results = suites.load_results(out)
    assert len(results.runs) == 12 and set(results.tuning) == {
        o.label for o in results.suite.optimizers
    }
    assert all(tuned.best_lr == results.runs[0].lr for tuned in results.tuning.values()
               if tuned.optimizer == results.runs[0].optimizer)  # fmt: skip
    with pytest.raises(SystemExit) as refused:  # the file exists: never replaced silently
        main(["suite", "kb-logreg", "--out", str(out), "--epochs", "1"])
    assert refused.value.code == 2 and "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["cnn", "mlp-kb-dropout"])
def test_slow_suites_run_at_a_tiny_budget(tmp_path, name):
    """The hours-long suites, smoke-tested: the whole protocol on a tiny task and budget."""
    suite = suites.SUITES[name]
    suite = suite._replace(
        epochs=1, batch_size=32, seeds=(0, 1), tune_seeds=(0,), max_grid_extensions=0,
        optimizers=tuple(o._replace(grid=o.grid[1:3]) for o in suite.optimizers),
    )  # fmt: skip
    model = {"cnn": "cnn", "mlp-kb-dropout": "mlp-kb-dropout"}[name]
    task = tiny_task(model, n_features=784, n_classes=10, n_train=64)
    store = RunStore.open(tmp_path / f"{name}.json", suites.suite_config(suite))
    finals = suites.run_suite(suite, store, task=task, progress=False, log=lambda line: None)
    rows = suite_report(finals, reference="adam", target=suite.target_val_loss)
    assert [row.optimizer for row in rows] == ["adam", "adagrad", "adamw", "rmsprop", "nesterov"]
    assert all(row.n_runs + row.n_diverged == 2 for row in rows)


def test_load_results_refuses_a_file_that_is_not_a_suites(tmp_path):
    path = tmp_path / "compare.json"
    path.write_text(json.dumps({"meta": {"config": {"task": "mnist-mlp"}}, "runs": []}))
    with pytest.raises(ValueError, match=f"{path}: not a suite's results file"):
        suites.load_results(path)


def test_hyperparameters_on_the_command_line_are_numbers_or_booleans():
    assert parse_hyperparameters(["momentum=0.9", "nesterov=true", "centered=False"]) == {
        "momentum": 0.9,
        "nesterov": True,
        "centered": False,
    }
    for tokens, message in [
        (["momentum"], "expected KEY=VALUE"),
        (["lr=0.1"], "with --lr"),
        (["momentum=0.9", "momentum=0.8"], "sets 'momentum' twice"),
        (["nesterov=yes"], "'yes' is not a number or true/false"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_hyperparameters(tokens)
