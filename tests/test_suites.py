"""Full-budget suites (optlib.book.suites): tuning with grid extension, final runs, resume,
compact records, reproduce arguments, the suites' budgets, and reading their results."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from optlib.book import suites
from optlib.training import RunRecord, Task
from optlib.training.data import DataSplits
from optlib.training.report import suite_report
from optlib.training.runstore import RunStore

pytestmark = pytest.mark.usefixtures("one_thread")


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


@pytest.mark.parametrize("name", ["cnn", "mlp-kb-dropout"])
def test_slow_suites_run_at_a_tiny_budget(tmp_path, name):
    """The hours-long suites, smoke-tested: the whole protocol on a tiny task and budget."""
    suite = suites.SUITES[name]
    suite = suite._replace(
        epochs=1, batch_size=32, seeds=(0, 1), tune_seeds=(0,), max_grid_extensions=0,
        optimizers=tuple(o._replace(grid=o.grid[1:3]) for o in suite.optimizers),
    )  # fmt: skip
    task = tiny_task(name, n_features=784, n_classes=10, n_train=64)
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
