"""Files that are never half-written and never silently damaged.

* :func:`write_atomically` writes a temporary file beside the target, then renames it: a reader
  (or a run killed mid-write) sees the old file or the new one, never a mix.
* :func:`check_writable` tells, before hours of training, whether a file could be written there.
* :func:`save_checkpoint` / :func:`load_checkpoint`: a checkpoint is one header line, then the
  payload as :func:`torch.save` writes it::

      optlib-checkpoint 1 sha256=<SHA-256 of the payload> bytes=<payload length>
      <payload>

  Loading checks the length (a truncated copy) and the SHA-256 (a flipped byte anywhere, even in
  the weights, which torch itself would load without a word), then unpickles with
  ``weights_only=True`` (tensors and plain containers only: a checkpoint cannot run code).
* :func:`read_json` reads a JSON file and names it in every error.

Every failure raises an error whose message starts with the file's path and says what is wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "check_writable",
    "load_checkpoint",
    "read_json",
    "save_checkpoint",
    "write_atomically",
]

CHECKPOINT_FORMAT = 1
_MAGIC = "optlib-checkpoint"
_MAX_HEADER = 256  # bytes; the header is about 110


class CheckpointError(ValueError):
    """A checkpoint file is missing, empty, truncated, damaged or not an optlib checkpoint."""


def write_atomically(path: str | os.PathLike, payload: bytes | str) -> Path:
    """Write ``payload`` to ``path`` through a temporary file in the same folder and a rename.

    The folder is created if needed. On any failure (or Ctrl-C) the temporary file is removed
    and ``path`` keeps its previous content.
    """
    path = Path(path)
    data = payload.encode() if isinstance(payload, str) else payload
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def check_writable(path: str | os.PathLike, option: str = "--out") -> Path:
    """Raise ``ValueError`` naming ``path`` unless a file could be written (atomically) there.

    Checked: ``path`` is not a folder, no parent is a file, and the nearest existing folder
    accepts a new file. The last is tried for real (a temporary file, removed at once), because
    permission bits do not tell: root ignores them and a read-only mount ignores root.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name, e.g. {path / 'x.json'}")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{option} {path}: {folder} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise ValueError(f"{option} {path}: cannot write in {folder}: {reason}") from None
    return path


def save_checkpoint(path: str | os.PathLike, contents: Mapping[str, Any]) -> Path:
    """Save ``contents`` (tensors, state dicts, plain data) with a SHA-256 header, atomically."""
    buffer = io.BytesIO()
    torch.save(dict(contents), buffer)
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    header = f"{_MAGIC} {CHECKPOINT_FORMAT} sha256={digest} bytes={len(payload)}\n"
    return write_atomically(path, header.encode() + payload)


def load_checkpoint(
    path: str | os.PathLike, *, map_location: torch.device | str | None = None
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, verified; raise
    :class:`CheckpointError` naming the file and the damage otherwise."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CheckpointError(
            f"{path}: cannot read checkpoint: {error.strerror or error}"
        ) from None
    if not raw:
        raise CheckpointError(f"{path}: empty file (0 bytes), not a checkpoint")
    header_bytes, newline, payload = raw[:_MAX_HEADER].partition(b"\n")
    fields = header_bytes.decode("ascii", errors="replace").split()
    if raw.startswith(_MAGIC.encode()) and not newline:
        raise CheckpointError(f"{path}: truncated: it ends within its header ({len(raw)} bytes)")
    if not newline or len(fields) != 4 or fields[0] != _MAGIC:
        raise CheckpointError(
            f"{path}: not an optlib checkpoint (it starts with {raw[:24]!r}, expected {_MAGIC!r})"
        )
    if fields[1] != str(CHECKPOINT_FORMAT):
        raise CheckpointError(
            f"{path}: checkpoint format {fields[1]}, this optlib reads format {CHECKPOINT_FORMAT}"
        )
    try:
        expected_sha = fields[2].removeprefix("sha256=")
        expected_bytes = int(fields[3].removeprefix("bytes="))
    except ValueError:
        raise CheckpointError(f"{path}: damaged checkpoint header {header_bytes!r}") from None
    payload = raw[len(header_bytes) + 1 :]
    if len(payload) != expected_bytes:
        problem = "truncated" if len(payload) < expected_bytes else "too long"
        raise CheckpointError(
            f"{path}: {problem}: the header announces {expected_bytes} bytes of payload, the "
            f"file holds {len(payload)} (an incomplete copy?)"
        )
    actual_sha = hashlib.sha256(payload).hexdigest()
    if actual_sha != expected_sha:
        raise CheckpointError(
            f"{path}: damaged: the payload's SHA-256 is {actual_sha}, the header records "
            f"{expected_sha}; some bytes changed after it was written. Delete it (the run then "
            "starts over) or restore a good copy."
        )
    try:
        contents = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as error:  # the hash matched, so this is not damage but a foreign payload
        raise CheckpointError(
            f"{path}: the payload does not load as a checkpoint: {error}"
        ) from None
    if not isinstance(contents, dict):
        raise CheckpointError(f"{path}: the payload is a {type(contents).__name__}, not a dict")
    return contents


def read_json(path: str | os.PathLike) -> Any:
    """The parsed JSON document in ``path``; ``ValueError`` naming the file if it is missing,
    unreadable, empty or not valid JSON (e.g. truncated)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ValueError(f"{path}: cannot read: {reason}") from None
    if not text.strip():
        raise ValueError(f"{path}: empty file, expected JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        hint = " (truncated?)" if error.pos >= len(text.rstrip()) else ""
        raise ValueError(
            f"{path}: not valid JSON{hint}: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
