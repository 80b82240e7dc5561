"""The stored suite results (results/*.json) still follow from the code.

For every results file: its settings are those of the suite as defined now
(:data:`optlib.book.suites.SUITES`), and a sample of its final runs, re-run from their
``reproduce`` arguments for their first :data:`~optlib.book.suites.KEPT_STEPS` steps, gives the
stored training losses: bit for bit on the CPU model and thread count that made them, within
float32 rounding on another CPU model (its vector units may sum in another order).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from optlib.book.suites import KEPT_STEPS, SUITES, suite_config
from optlib.cli import main
from optlib.training.runstore import provenance

RESULTS = sorted((Path(__file__).resolve().parents[1] / "results").glob("*.json"))


def sample(runs: list[dict]) -> list[dict]:
    """Two final runs of a file: the first stored, and the first whose optimizer has
    hyperparameters of its own (SGD + Nesterov), else the last: two optimizers, and every option
    of ``reproduce`` exercised."""
    if len(runs) < 2:
        return runs
    other = [run for run in runs[1:] if "--hyperparameters" in run["reproduce"]] or runs[-1:]
    return [runs[0], other[0]]


def final_runs(path: Path) -> list[dict]:
    return [run for run in json.loads(path.read_text())["runs"] if run.get("role") == "final"]


def sampled_runs() -> list:
    cases = []
    for path in RESULTS:
        for run in sample([run for run in final_runs(path) if run["status"] == "ok"]):
            cases.append(pytest.param(path, run["run_id"], id=f"{path.stem}:{run['run_id']}"))
    return cases


def _in_history(commit: str) -> bool:
    """Whether ``commit`` is an ancestor of the checked-out one (True where git cannot tell:
    no git, or a shallow clone)."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)

    try:
        shallow = git("rev-parse", "--is-shallow-repository")
    except OSError:
        return True
    if shallow.returncode != 0 or shallow.stdout.strip() != "false":
        return True
    return git("merge-base", "--is-ancestor", commit, "HEAD").returncode == 0


@pytest.mark.parametrize("path", RESULTS, ids=[path.stem for path in RESULTS])
def test_a_results_file_was_made_by_the_suite_as_defined_now(path):
    meta = json.loads(path.read_text())["meta"]
    name = meta["config"]["name"]
    expected = json.loads(json.dumps(suite_config(SUITES[name])))
    assert meta["config"] == expected, f"{path} holds another definition of suite {name!r}"
    assert meta["git_commit"] and not meta["git_commit"].endswith("-dirty")
    assert _in_history(meta["git_commit"]), f"{path} was made at a commit outside main's history"
    for key in ("command", "optlib_version", "torch_version", "cpu_model", "torch_threads"):
        assert meta[key], key
    for run in final_runs(path):
        assert run["reproduce"][0] == "compare" and "--tune" not in run["reproduce"]
        assert len(run["train_loss"]) == min(KEPT_STEPS, run["train_loss_steps"])


@pytest.mark.parametrize("path", RESULTS, ids=[path.stem for path in RESULTS])
def test_a_stored_results_file_is_complete(path):
    """The book reads results/ as finished suites: a part-run file (a suite stopped before its
    end, which ``--resume`` would continue) must not be committed in their place."""
    document = json.loads(path.read_text())
    suite = SUITES[document["meta"]["config"]["name"]]
    planned = {(optimizer.label, seed) for optimizer in suite.optimizers for seed in suite.seeds}
    stored = {(run["optimizer"], run["seed"]) for run in final_runs(path)}
    assert document["meta"]["complete"], f"{path} is a part-run suite"
    assert stored == planned, f"{path}: final runs missing {sorted(planned - stored)}"
    assert set(document["meta"]["tuning"]) == {optimizer.label for optimizer in suite.optimizers}


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize(("path", "run_id"), sampled_runs())
def test_a_stored_run_reproduces_its_first_steps(path, run_id, tmp_path):
    document = json.loads(path.read_text())
    run = next(run for run in document["runs"] if run["run_id"] == run_id)
    out = tmp_path / "again.json"
    threads = str(run["threads"])
    argv = [*run["reproduce"], "--max-steps", str(KEPT_STEPS), "--threads", threads]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    stored = run["train_loss"]
    again = json.loads(out.read_text())["runs"][0]["train_loss"][: len(stored)]
    if document["meta"]["cpu_model"] == provenance([])["cpu_model"]:
        assert again == stored
    else:
        np.testing.assert_allclose(again, stored, rtol=1e-5)
