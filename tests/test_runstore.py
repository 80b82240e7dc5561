"""The run store: every finished run on disk at once, existing files never replaced silently,
resuming only with the same settings, provenance recorded."""

from __future__ import annotations

import json
import math

import pytest

from optlib.training.runstore import RunStore

CONFIG = {"task": "sparse", "optimizers": ["adam", "sgd"], "seeds": [0, 1], "epochs": 2}


def record(run_id, status="ok", **fields):
    return {"run_id": run_id, "status": status, "train_loss": [2.3, 1.0], **fields}


def test_a_new_store_is_written_at_once_with_provenance(tmp_path):
    path = tmp_path / "sub" / "r.json"
    store = RunStore.open(path, CONFIG, command=["compare", "--task", "sparse"])
    document = json.loads(path.read_text())
    assert document["runs"] == [] and document["meta"]["complete"] is False
    meta = document["meta"]
    assert meta["config"] == CONFIG
    assert meta["command"] == ["python", "-m", "optlib", "compare", "--task", "sparse"]
    for key in ("git_commit", "optlib_version", "torch_version", "cpu_model", "torch_threads"):
        assert key in meta
    assert len(store) == 0


def test_each_added_run_is_on_disk_before_the_next(tmp_path):
    path = tmp_path / "r.json"
    store = RunStore.open(path, CONFIG)
    store.add(record("adam/seed0"))
    assert [r["run_id"] for r in json.loads(path.read_text())["runs"]] == ["adam/seed0"]
    store.add(record("sgd/seed0", "diverged", divergence={"step": 1, "loss": math.inf}))
    runs = json.loads(path.read_text())["runs"]  # strict JSON: infinities become strings
    assert runs[1]["status"] == "diverged" and runs[1]["divergence"] == {"step": 1, "loss": "inf"}
    assert "adam/seed0" in store and store.get("sgd/seed0")["status"] == "diverged"
    final = store.finish(note="done")
    assert json.loads(final.read_text())["meta"]["complete"] is True


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"status": "ok"}, "needs a non-empty string run_id"),
        ({"run_id": "a", "status": "fine"}, "status 'fine' is not one of"),
    ],
)
def test_add_refuses_records_without_id_or_known_status(tmp_path, bad, message):
    store = RunStore.open(tmp_path / "r.json", CONFIG)
    with pytest.raises(ValueError, match=message):
        store.add(bad)


def test_add_refuses_a_run_twice(tmp_path):
    store = RunStore.open(tmp_path / "r.json", CONFIG)
    store.add(record("adam/seed0"))
    with pytest.raises(ValueError, match="already holds run 'adam/seed0'"):
        store.add(record("adam/seed0"))


def test_an_existing_file_is_refused_unless_resume_or_force(tmp_path):
    path = tmp_path / "r.json"
    RunStore.open(path, CONFIG).add(record("adam/seed0"))
    before = path.read_text()
    with pytest.raises(ValueError, match=r"r.json already exists \(1 run\).*--resume.*--force"):
        RunStore.open(path, CONFIG)
    assert path.read_text() == before
    with pytest.raises(ValueError, match="exclude each other"):
        RunStore.open(path, CONFIG, resume=True, force=True)


def test_force_replaces_the_file_and_its_checkpoints(tmp_path):
    path = tmp_path / "r.json"
    store = RunStore.open(path, CONFIG)
    store.add(record("adam/seed0"))
    store.checkpoint_path("sgd/seed0").parent.mkdir()
    store.checkpoint_path("sgd/seed0").write_bytes(b"old checkpoint")
    store = RunStore.open(path, CONFIG, force=True)
    assert len(store) == 0 and json.loads(path.read_text())["runs"] == []
    assert not RunStore.checkpoint_folder(path).exists()


def test_resume_keeps_finished_runs_and_adds_a_session(tmp_path):
    path = tmp_path / "r.json"
    first = RunStore.open(path, CONFIG)
    first.add(record("adam/seed0"))
    store = RunStore.open(path, json.loads(json.dumps(CONFIG)), resume=True)
    assert [r["run_id"] for r in store.runs] == ["adam/seed0"]
    store.add(record("sgd/seed0"))
    meta = json.loads(path.read_text())["meta"]
    assert len(meta["resumed"]) == 1 and meta["wall_seconds"] >= 0


def test_resume_with_other_settings_names_them(tmp_path):
    path = tmp_path / "r.json"
    RunStore.open(path, CONFIG)
    changed = {**CONFIG, "epochs": 3, "seeds": [0]}
    with pytest.raises(ValueError, match=r"epochs: 2 in the file, 3 now; seeds: \[0, 1\]"):
        RunStore.open(path, changed, resume=True)


def test_resume_needs_a_resumable_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist, so there is nothing to resume"):
        RunStore.open(tmp_path / "none.json", CONFIG, resume=True)
    old = tmp_path / "old.json"
    old.write_text('{"meta": {}, "runs": []}')
    with pytest.raises(ValueError, match="old.json: not a resumable results file"):
        RunStore.open(old, CONFIG, resume=True)
    cut = tmp_path / "cut.json"
    cut.write_text('{"meta": {"config": ')
    with pytest.raises(ValueError, match=r"cut.json: not valid JSON \(truncated\?\)"):
        RunStore.open(cut, CONFIG, resume=True)


def test_checkpoint_paths_are_distinct_files_beside_the_results(tmp_path):
    store = RunStore.open(tmp_path / "r.json", CONFIG)
    paths = {store.checkpoint_path(i) for i in ("a/b", "a_b", "tune/adam/lr=0.1/seed0")}
    assert len(paths) == 3
    assert all(p.parent == tmp_path / "r.json.checkpoints" for p in paths)


def test_adding_a_run_deletes_its_checkpoint_and_finish_the_empty_folder(tmp_path):
    store = RunStore.open(tmp_path / "r.json", CONFIG)
    checkpoint = store.checkpoint_path("adam/seed0")
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"x")
    store.add(record("adam/seed0"))
    assert not checkpoint.exists()
    store.finish()
    assert not checkpoint.parent.exists()
