"""`python -m optlib compare` never loses a run: interrupted by SIGINT or SIGTERM it keeps what
is finished and resumes to the file an uninterrupted run writes; it checks what it can before
training; diverged runs are kept, marked and left out of means; every error names its file.
`python -m optlib suite` runs a suite at a tiny budget, and each of its runs reproduces.

Real MNIST (logistic regression on a few hundred examples, one thread): $OPTLIB_DATA_DIR."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optlib.book import suites
from optlib.cli import main
from optlib.training.files import save_checkpoint
from optlib.training.runstore import RunStore

REPO = Path(__file__).resolve().parents[1]
TIMINGS = {"epoch_seconds", "eval_seconds"}  # the only fields that differ between two runs
TINY = ["--task", "mnist-logreg", "--subset", "256", "--no-progress", "--threads", "1"]

pytestmark = pytest.mark.skipif(
    not os.environ.get("OPTLIB_DATA_DIR"), reason="needs MNIST in $OPTLIB_DATA_DIR"
)


def compare(*argv: str) -> int:
    """``main(["compare", ...])``; returns the exit status (0 when it returns)."""
    try:
        return main(["compare", *TINY, *argv])
    except SystemExit as stop:
        return stop.code


def runs_without_timings(path: Path) -> list[dict]:
    runs = json.loads(path.read_text())["runs"]
    return [{k: v for k, v in run.items() if k not in TIMINGS} for run in runs]


# --------------------------------------------------------------------------------------------
# Interrupt, then resume: the same file as an uninterrupted run
# --------------------------------------------------------------------------------------------
def start(argv: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "optlib", "compare", *TINY, *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"finished before the signal: {process.communicate()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stored_runs(path: Path) -> int:
    try:
        return len(json.loads(path.read_text())["runs"])
    except (OSError, ValueError):
        return 0


def has_checkpoint(path: Path) -> bool:
    folder = RunStore.checkpoint_folder(path)
    return folder.is_dir() and any(folder.glob("*.pt"))


@pytest.mark.slow
def test_interrupted_and_resumed_compare_equals_an_uninterrupted_one(tmp_path):
    argv = ["--optimizers", "adam", "sgd", "adagrad", "--seeds", "1", "--epochs", "20"]
    argv += ["--out", "r.json"]
    out = tmp_path / "r.json"
    reference = start([*argv[:-1], "full.json"], tmp_path)  # uninterrupted, meanwhile

    # SIGINT (Ctrl-C) while the second run is in progress and has a checkpoint.
    process = start(argv, tmp_path)
    wait_for(lambda: stored_runs(out) >= 1 and has_checkpoint(out), process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert "interrupted by SIGINT" in stderr and f"are saved in {out.name}" in stderr
    continue_line = stderr.strip().splitlines()[-1]
    assert continue_line.startswith("To continue: python -m optlib compare")
    assert continue_line.endswith("--resume")
    saved = stored_runs(out)
    assert saved >= 1 and json.loads(out.read_text())["meta"]["complete"] is False

    # SIGTERM during the resumed session, after it stored one more run.
    process = start([*argv, "--resume"], tmp_path)
    wait_for(lambda: stored_runs(out) > saved and has_checkpoint(out), process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143
    assert "interrupted by SIGTERM" in stderr and "Traceback" not in stderr

    # Resume to the end; the result equals an uninterrupted run's, timings aside.
    finished = start([*argv, "--resume"], tmp_path)
    stdout, stderr = finished.communicate(timeout=300)
    assert finished.returncode == 0, stderr
    assert "3 runs in" in stdout
    assert not RunStore.checkpoint_folder(out).exists()
    assert reference.wait(timeout=300) == 0
    assert runs_without_timings(out) == runs_without_timings(tmp_path / "full.json")
    meta = json.loads(out.read_text())["meta"]
    assert meta["complete"] is True and len(meta["resumed"]) == 2


# --------------------------------------------------------------------------------------------
# Never replaced silently; resume only what the same command made
# --------------------------------------------------------------------------------------------
def test_an_existing_out_is_refused_unless_resume_or_force(tmp_path, capsys):
    out = str(tmp_path / "r.json")
    assert (
        compare("--optimizers", "adam", "sgd", "--seeds", "2", "--max-steps", "3", "--out", out)
        == 0
    )
    before = Path(out).read_text()
    assert compare("--optimizers", "adam", "--seeds", "1", "--max-steps", "3", "--out", out) == 2
    assert "r.json already exists (4 runs). Continue it with --resume" in capsys.readouterr().err
    assert Path(out).read_text() == before

    # --resume of a finished file trains nothing and leaves the runs as they are.
    argv = ["--optimizers", "adam", "sgd", "--seeds", "2", "--max-steps", "3", "--out", out]
    assert compare(*argv, "--resume") == 0
    assert runs_without_timings(Path(out)) == [
        {k: v for k, v in run.items() if k not in TIMINGS} for run in json.loads(before)["runs"]
    ]
    assert "4 of 4 runs already in" in capsys.readouterr().out

    assert (
        compare("--optimizers", "adam", "--seeds", "1", "--max-steps", "3", "--out", out, "--force")
        == 0
    )
    assert len(json.loads(Path(out).read_text())["runs"]) == 1


def test_resume_with_other_settings_names_them(tmp_path, capsys):
    out = str(tmp_path / "r.json")
    assert compare("--optimizers", "adam", "--seeds", "1", "--max-steps", "3", "--out", out) == 0
    status = compare(
        "--optimizers", "adam", "--seeds", "1", "--max-steps", "3", "--lr", "0.1",
        "--out", out, "--resume",
    )  # fmt: skip
    assert status == 2
    err = capsys.readouterr().err
    assert "was made with other settings" in err
    assert "lrs: {'adam': 0.001} in the file, {'adam': 0.1} now" in err


def test_resume_without_a_file_is_an_error(tmp_path, capsys):
    assert compare("--optimizers", "adam", "--out", str(tmp_path / "no.json"), "--resume") == 2
    assert "no.json does not exist, so there is nothing to resume" in capsys.readouterr().err


def test_a_damaged_checkpoint_of_the_run_in_progress_is_named(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["--optimizers", "adam", "--seeds", "1", "--max-steps", "3", "--out", str(out)]
    RunStore.open(out, {"x": 1}, force=True)  # replaced below by a real start
    assert compare(*argv, "--force") == 0
    store = RunStore.open(out, json.loads(out.read_text())["meta"]["config"], force=True)
    checkpoint = store.checkpoint_path("adam/seed0")
    save_checkpoint(checkpoint, {"model": {}})
    checkpoint.write_bytes(checkpoint.read_bytes()[:-5])  # truncated copy
    assert compare(*argv, "--resume") == 2
    assert f"{checkpoint}: truncated" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# Checked before training
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("out", "message"),
    [
        (lambda tmp, fixture: tmp, "is a folder; give a file name"),
        (lambda tmp, fixture: tmp / "file.txt" / "r.json", "file.txt is a file, not a folder"),
        (lambda tmp, fixture: fixture("read_only_folder") / "r.json", "cannot write in"),
    ],
)
def test_a_bad_output_path_stops_before_training(tmp_path, capsys, request, out, message):
    (tmp_path / "file.txt").write_text("x")
    path = out(tmp_path, request.getfixturevalue)
    assert compare("--optimizers", "adam", "--out", str(path)) == 2
    captured = capsys.readouterr()
    assert message in captured.err and str(path) in captured.err
    assert "task mnist-logreg" not in captured.out  # nothing was loaded or trained


def test_every_learning_rate_is_checked_before_any_training(tmp_path, capsys):
    out = tmp_path / "r.json"
    status = compare("--optimizers", "adam", "sgd", "--lr", "sgd=1e300", "--out", str(out))
    assert status == 2
    captured = capsys.readouterr()
    assert "sgd with lr=1e+300: Invalid lr: 1e+300 is larger than the largest torch.float32" in (
        captured.err
    )
    assert not out.exists()  # adam did not train first


def test_damaged_data_stops_before_training_and_is_named(tmp_path, capsys):
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    bad = tmp_path / "data" / "mnist" / "train-images-idx3-ubyte.gz"
    bad.write_bytes(b"not gzip")
    out = tmp_path / "r.json"
    status = compare(
        "--optimizers", "adam", "--data-dir", str(tmp_path / "data"), "--out", str(out)
    )
    assert status == 2
    assert f"{bad}: not a gzip file" in capsys.readouterr().err
    assert not out.exists()


def test_data_dir_means_what_optlib_data_dir_means(tmp_path, monkeypatch):
    data_dir = os.environ["OPTLIB_DATA_DIR"]
    monkeypatch.delenv("OPTLIB_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no cached copy to fall back on
    out = tmp_path / "r.json"
    assert (
        compare(
            "--optimizers",
            "adam",
            "--seeds",
            "1",
            "--max-steps",
            "2",
            "--data-dir",
            data_dir,
            "--out",
            str(out),
        )
        == 0
    )
    assert json.loads(out.read_text())["runs"][0]["steps"] == 2


# --------------------------------------------------------------------------------------------
# Divergence, reproduce, plot
# --------------------------------------------------------------------------------------------
def test_a_diverging_run_is_kept_marked_and_left_out_of_the_means(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["--optimizers", "adam", "sgd", "--seeds", "2", "--epochs", "2", "--out", str(out)]
    assert compare(*argv, "--lr", "adam=1e-3", "sgd=1e30") == 0
    runs = json.loads(out.read_text())["runs"]
    assert [(r["run_id"], r["status"]) for r in runs] == [
        ("adam/seed0", "ok"),
        ("sgd/seed0", "diverged"),
        ("adam/seed1", "ok"),
        ("sgd/seed1", "diverged"),
    ]
    for run in runs[1::2]:
        assert run["divergence"]["step"] == len(run["train_loss"])
        assert run["divergence"]["loss"] in ("nan", "inf") or run["divergence"]["loss"] > 10
    assert all(r["steps"] == 8 for r in runs[0::2])  # the others trained to the end
    printed = capsys.readouterr().out
    assert "0 (+2 diverged, left out)" in printed
    assert "sgd/seed0 diverged at step" in printed

    png = tmp_path / "r.png"
    assert main(["plot", str(out), "--out", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "2 diverged run(s) marked" in capsys.readouterr().out


def test_reproduce_reruns_one_stored_run_exactly(tmp_path):
    out = tmp_path / "r.json"
    argv = ["--optimizers", "adam", "sgd", "--seeds", "2", "--epochs", "2", "--out", str(out)]
    assert compare(*argv, "--lr", "adam=0.003") == 0
    stored = json.loads(out.read_text())["runs"][2]  # adam, seed 1
    assert stored["reproduce"][:9] == [
        "compare", "--task", "mnist-logreg", "--optimizers", "adam", "--seed", "1",
        "--epochs", "2",
    ]  # fmt: skip
    again = tmp_path / "again.json"
    argv = [*stored["reproduce"], "--max-steps", "5", "--threads", "1", "--no-progress"]
    assert main([*argv, "--out", str(again)]) == 0
    (rerun,) = json.loads(again.read_text())["runs"]
    assert rerun["train_loss"] == stored["train_loss"][:5]
    assert rerun["lr"] == stored["lr"] == 0.003


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"meta": {}, "runs": [{"optimizer": "adam"', "not valid JSON (truncated?)"),
        ("", "empty file"),
        ('{"runs": [{"optimizer": "adam"}]}', "run 0: Run record is missing required fields"),
    ],
)
def test_plot_errors_name_the_results_file(tmp_path, capsys, content, message):
    results = tmp_path / "r.json"
    results.write_text(content)
    with pytest.raises(SystemExit) as stop:
        main(["plot", str(results)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"{results}: " in err and message in err


def test_plot_checks_its_output_path_first(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["plot", str(tmp_path / "missing.json"), "--out", str(tmp_path)])
    assert f"--out {tmp_path} is a folder" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# The suite command
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
    tried = {(label, lr) for label, tuned in results.tuning.items() for lr in tuned.lrs}
    assert {(run.optimizer, run.lr) for run in results.tuning_runs} == tried
    assert not {run.run_id for run in results.tuning_runs} & {run.run_id for run in results.runs}
    with pytest.raises(SystemExit) as refused:  # the file exists: never replaced silently
        main(["suite", "kb-logreg", "--out", str(out), "--epochs", "1"])
    assert refused.value.code == 2 and "already exists" in capsys.readouterr().err
