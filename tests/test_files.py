"""Checkpoints detect every kind of damage and name the file; output paths are checked before
any work; JSON errors name the file."""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from optlib.training.files import (
    CheckpointError,
    check_writable,
    load_checkpoint,
    read_json,
    save_checkpoint,
    write_atomically,
)


@pytest.fixture
def checkpoint(tmp_path):
    weights = torch.linspace(-1, 1, 4096, dtype=torch.float32)
    path = save_checkpoint(tmp_path / "run.pt", {"model": {"weight": weights}, "step": 7})
    return path, weights


def test_checkpoint_round_trip(checkpoint):
    path, weights = checkpoint
    contents = load_checkpoint(path)
    assert contents["step"] == 7 and torch.equal(contents["model"]["weight"], weights)


def test_a_flipped_byte_in_the_weights_is_detected(checkpoint):
    path, weights = checkpoint
    raw = bytearray(path.read_bytes())
    header_end = raw.index(b"\n") + 1
    at = raw.index(weights[1000:1002].numpy().tobytes())  # inside the tensor's bytes
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))
    # torch alone loads the damaged weights without a word: that is why the hash is there.
    damaged = torch.load(io.BytesIO(bytes(raw[header_end:])), weights_only=True)
    assert not torch.equal(damaged["model"]["weight"], weights)
    with pytest.raises(CheckpointError, match=rf"{path}: damaged: the payload's SHA-256"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda raw: raw[: len(raw) // 2], "truncated: the header announces"),
        (lambda raw: raw[:40], "truncated: it ends within its header"),
        (lambda raw: b"PK\x03\x04" + raw[4:], "not an optlib checkpoint"),
        (lambda raw: b"", r"empty file \(0 bytes\)"),
        (lambda raw: os.urandom(300), "not an optlib checkpoint"),
        (lambda raw: raw + b"\0", "too long"),
        (lambda raw: raw.replace(b"optlib-checkpoint 1 ", b"optlib-checkpoint 9 ", 1), "format 9"),
    ],
)
def test_damaged_checkpoints_name_the_file_and_the_damage(checkpoint, damage, message):
    path, _ = checkpoint
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError, match=message) as caught:
        load_checkpoint(path)
    assert str(caught.value).startswith(str(path))


def test_a_plain_torch_save_file_is_not_taken_for_a_checkpoint(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"model": {}}, path)
    with pytest.raises(CheckpointError, match=f"{path}: not an optlib checkpoint"):
        load_checkpoint(path)


def test_a_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pt: cannot read checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_loading_is_weights_only(tmp_path):
    """A payload with an arbitrary object (which could run code when unpickled) is refused."""
    path = save_checkpoint(tmp_path / "odd.pt", {"what": OrderedDict(a=Path("x"))})
    with pytest.raises(CheckpointError, match="does not load as a checkpoint"):
        load_checkpoint(path)


def test_write_atomically_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = write_atomically(tmp_path / "a.json", "old")

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)  # Ctrl-C in the middle of the write
    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary file left over


def test_check_writable_accepts_new_files_in_new_folders(tmp_path):
    assert (
        check_writable(tmp_path / "new" / "sub" / "r.json") == tmp_path / "new" / "sub" / "r.json"
    )
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_check_writable_refuses_a_folder(tmp_path):
    with pytest.raises(ValueError, match=f"--out {tmp_path} is a folder"):
        check_writable(tmp_path)


def test_check_writable_refuses_a_parent_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=f"{tmp_path / 'file'} is a file, not a folder"):
        check_writable(tmp_path / "file" / "sub" / "r.json")


def test_check_writable_refuses_a_read_only_folder(read_only_folder):
    folder = read_only_folder
    with pytest.raises(ValueError, match=f"--out {folder / 'r.json'}: cannot write in {folder}"):
        check_writable(folder / "r.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"runs": [1, 2', r"not valid JSON \(truncated\?\)"),
        ("", "empty file"),
        ("{'a': 1}", "not valid JSON: Expecting property name"),
    ],
)
def test_read_json_names_the_file(tmp_path, text, message):
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as caught:
        read_json(path)
    assert str(caught.value).startswith(str(path))
