"""The command line, end to end on a small sparse task: JSON records, tuning, plots, errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from optlib import training
from optlib.cli import main
from optlib.cli.common import parse_hyperparameters, parse_lrs
from optlib.optim import DEFAULT_LR
from optlib.training import sparse

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def small_sparse_task(monkeypatch):
    """Shrink the sparse task so a CLI run takes a fraction of a second."""
    original = training.sparse_splits

    def small(**options):
        return original(n_train=600, n_val=200, n_test=200, n_features=100, **options)

    monkeypatch.setattr(sparse, "sparse_splits", small)
    monkeypatch.setenv("MPLBACKEND", "Agg")


pytestmark = pytest.mark.usefixtures("one_thread")


def run_cli(*argv: str) -> None:
    assert main([*argv, "--no-progress"] if argv[0] == "compare" else list(argv)) == 0


def test_compare_writes_json_with_the_required_fields(tmp_path, capsys):
    out = tmp_path / "results.json"
    argv = ["compare", "--task", "sparse", "--optimizers", "adam", "adagrad", "--seeds", "2"]
    run_cli(*argv, "--epochs", "2", "--subset", "256", "--out", str(out))

    document = json.loads(out.read_text())
    runs = document["runs"]
    assert [(r["optimizer"], r["seed"]) for r in runs] == [
        ("adam", 0),
        ("adagrad", 0),
        ("adam", 1),
        ("adagrad", 1),
    ]
    steps = 2 * math.ceil(256 / 64)
    for run in runs:
        assert run["lr"] == DEFAULT_LR[run["optimizer"]]
        assert run["task"] == "sparse" and run["batch_size"] == 64
        assert len(run["train_loss"]) == steps and all(math.isfinite(v) for v in run["train_loss"])
        assert len(run["epoch_seconds"]) == 2 and all(s > 0 for s in run["epoch_seconds"])
        assert 0.0 <= run["test_accuracy"] <= 1.0
        assert run["test_accuracy"] == run["epoch_test_accuracy"][-1]
    assert runs[0]["init_fingerprint"] == runs[1]["init_fingerprint"]
    assert runs[0]["init_fingerprint"] != runs[2]["init_fingerprint"]
    assert document["meta"]["command"][:6] == [
        "python",
        "-m",
        "optlib",
        "compare",
        "--task",
        "sparse",
    ]
    assert document["meta"]["config"]["seeds"] == [0, 1]
    assert [run["status"] for run in runs] == ["ok"] * 4
    assert runs[3]["run_id"] == "adagrad/seed1" and "--seed" in runs[3]["reproduce"]
    assert document["meta"]["wall_seconds"] > 0

    printed = capsys.readouterr().out
    assert "test accuracy (%)" in printed and "Adagrad" in printed
    assert "4 runs in" in printed and str(out) in printed

    png = tmp_path / "figure.png"
    run_cli("plot", str(out), "--out", str(png))
    assert png.read_bytes().startswith(PNG_MAGIC)
    run_cli("plot", str(out))
    assert out.with_suffix(".png").read_bytes().startswith(PNG_MAGIC)


def test_tune_picks_each_lr_on_validation_and_records_it(tmp_path, capsys):
    out = tmp_path / "tuned.json"
    run_cli(
        "compare", "--task", "sparse", "--optimizers", "adagrad", "--seeds", "1",
        "--epochs", "1", "--tune", "--lr-grid", "1e-6", "0.1", "--out", str(out),
    )  # fmt: skip
    document = json.loads(out.read_text())
    tuning = document["meta"]["tuning"]["adagrad"]
    assert tuning["lrs"] == [1e-6, 0.1] and tuning["best_lr"] == 0.1
    assert document["runs"][0]["lr"] == 0.1
    assert "<- best" in capsys.readouterr().out


def test_lr_option_sets_one_or_all_learning_rates(tmp_path):
    out = tmp_path / "lr.json"
    run_cli(
        "compare", "--task", "sparse", "--optimizers", "adam", "adagrad", "--seeds", "1",
        "--epochs", "1", "--max-steps", "2", "--lr", "adam=0.005", "0.02", "--out", str(out),
    )  # fmt: skip
    runs = json.loads(out.read_text())["runs"]
    assert [(r["optimizer"], r["lr"], r["steps"]) for r in runs] == [
        ("adam", 0.005, 2),
        ("adagrad", 0.02, 2),
    ]


def test_parse_lrs_defaults_and_overrides():
    assert parse_lrs([], ["adam", "adagrad"]) == {"adam": 1e-3, "adagrad": 1e-2}
    assert parse_lrs(["0.1"], ["adam", "sgd"]) == {"adam": 0.1, "sgd": 0.1}
    assert parse_lrs(["Adam=3e-4"], ["adam", "sgd"]) == {"adam": 3e-4, "sgd": 1e-3}


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (["adagrad=0.1"], "--lr names 'adagrad', which is not among --optimizers"),
        (["adam=fast"], "Invalid --lr value 'adam=fast'"),
        (["-1"], "must be positive"),
        (["0.1", "0.2"], "two bare learning rates"),
        (["adam=0.1", "adam=0.2"], "sets 'adam' twice"),
    ],
)
def test_parse_lrs_rejects_bad_values(tokens, message):
    with pytest.raises(ValueError, match=message):
        parse_lrs(tokens, ["adam"])


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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["compare", "--task", "sparse", "--optimizers", "adamm"],
            "invalid choice: 'adamm' (choose from sgd, adam, adamw, adagrad, rmsprop)",
        ),
        (["compare", "--task", "cifar", "--optimizers", "adam"], "invalid choice: 'cifar'"),
        (["compare", "--task", "sparse", "--optimizers", "adam", "--seeds", "0"], "positive"),
        (
            ["compare", "--task", "sparse", "--optimizers", "adam", "--lr", "sgd=1"],
            "--lr names 'sgd', which is not among --optimizers (adam)",
        ),
        (
            ["compare", "--task", "sparse", "--optimizers", "adam", "--tune", "--lr", "0.1"],
            "do not combine it with --lr",
        ),
        (["plot", "does-not-exist.json"], "does-not-exist.json: no such file"),
    ],
)
def test_bad_arguments_exit_with_a_clear_message(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--out", str(tmp_path / "x.json")] if argv[0] == "compare" else argv)
    assert caught.value.code == 2
    assert message.replace("'", "") in capsys.readouterr().err.replace("'", "")


def test_python_dash_m_optlib_runs():
    completed = subprocess.run(
        [sys.executable, "-m", "optlib", "compare", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--optimizers" in completed.stdout and "--tune" in completed.stdout
