"""A results file that never loses a finished run, and can be resumed.

A :class:`RunStore` is one JSON file of run records, each with a unique ``run_id`` and a
``status`` (:data:`STATUSES`), plus a ``meta`` object::

    {"meta": {"config": {...}, "complete": false, "command": [...], "git_commit": "...", ...},
     "runs": [
    {"run_id": "adam/seed0", "status": "ok", ...},
    {"run_id": "sgd/seed0", "status": "diverged", "divergence": {"step": 37, ...}, ...}
    ]}

The loop that fills it is plain::

    store = RunStore.open(out, config, resume=args.resume, force=args.force)
    for run_id, spec in planned_runs:
        if run_id in store:
            continue                                  # finished in an earlier session
        record = train(spec, checkpoint=store.checkpoint_path(run_id))   # resumes if it exists
        store.add({"run_id": run_id, "status": ..., **record})           # written at once
    store.finish()

* Every :meth:`~RunStore.add` rewrites the file atomically
  (:func:`~optlib.training.files.write_atomically`), so a kill at any moment leaves every run
  finished so far on disk.
* The run in progress checkpoints to :meth:`~RunStore.checkpoint_path`, a file in the folder
  ``<out>.checkpoints/`` beside the results; :meth:`~RunStore.add` deletes it and
  :meth:`~RunStore.finish` the folder.
* ``config`` is everything that defines the planned runs (task, optimizers, seeds, epochs, ...).
  Resuming with a different ``config`` is an error naming the keys that differ: a resumed file
  must equal the file an uninterrupted run would have written.
* An existing file is never replaced silently: :meth:`~RunStore.open` refuses it unless
  ``resume`` (continue it) or ``force`` (start afresh).

``meta`` also records provenance (:func:`provenance`): the command, git commit, optlib and torch
versions, CPU model, torch threads and the wall seconds, summed over sessions; each later session
adds its own provenance to ``meta["resumed"]``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from optlib.training.files import read_json, write_atomically

__all__ = ["STATUSES", "RunStore", "json_safe", "provenance"]

STATUSES = ("ok", "diverged")
"""``"ok"``: the run trained to its budget. ``"diverged"``: it stopped at a non-finite loss or one
far above its first (the record says at which step and what the loss was); kept, but left out of
means and standard deviations."""


def json_safe(value: Any) -> Any:
    """``value`` with tuples as lists and non-finite floats as the strings ``"nan"``, ``"inf"``,
    ``"-inf"`` (strict JSON has no NaN), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def _git_commit() -> str | None:
    """The checked-out commit of the repository holding this package (``-dirty`` if it has
    uncommitted changes), or ``None`` outside a git checkout."""
    folder = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _optlib_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("optlib")
    except PackageNotFoundError:
        return "unknown"


def provenance(command: Sequence[str] | None = None) -> dict[str, Any]:
    """Where and how results were made: command, git commit, versions, CPU, threads, time."""
    return {
        "command": ["python", "-m", "optlib", *(sys.argv[1:] if command is None else command)],
        "git_commit": _git_commit(),
        "optlib_version": _optlib_version(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _differences(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    keys = sorted(set(stored) | set(wanted))
    return [
        f"{key}: {stored.get(key, '(unset)')!r} in the file, {wanted.get(key, '(unset)')!r} now"
        for key in keys
        if stored.get(key) != wanted.get(key)
    ]


class RunStore:
    """Run records in one JSON file, each written atomically as soon as its run finishes.

    Build one with :meth:`open`. ``config`` must be JSON data (it is compared after a JSON round
    trip, so tuples and lists are the same).
    """

    def __init__(self, path: Path, document: dict[str, Any]) -> None:
        self.path = path
        self.meta: dict[str, Any] = document["meta"]
        self._runs: dict[str, dict[str, Any]] = {run["run_id"]: run for run in document["runs"]}
        self._lines = {run_id: json.dumps(run) for run_id, run in self._runs.items()}
        self._started = time.perf_counter()
        self._wall_before = float(self.meta.get("wall_seconds", 0.0))

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        config: Mapping[str, Any],
        *,
        resume: bool = False,
        force: bool = False,
        command: Sequence[str] | None = None,
    ) -> RunStore:
        """Start a new results file at ``path``, or continue one (``resume``).

        A new file is written at once (no runs yet), so a mistake in ``path`` shows before any
        training. An existing file is an error unless ``resume`` (its ``config`` must equal
        ``config``; its runs are kept) or ``force`` (it and its checkpoints are replaced).
        """
        path = Path(path)
        cls.check(path, resume=resume, force=force)
        config = json.loads(json.dumps(json_safe(config)))
        if resume:
            return cls._resume(path, config, command)
        checkpoints = cls.checkpoint_folder(path)
        if force and checkpoints.is_dir():
            shutil.rmtree(checkpoints)
        meta = {"config": config, "complete": False, **provenance(command), "wall_seconds": 0.0}
        store = cls(path, {"meta": meta, "runs": []})
        store._write()
        return store

    @classmethod
    def check(cls, path: str | os.PathLike, *, resume: bool = False, force: bool = False) -> None:
        """Raise ``ValueError`` now if :meth:`open` would refuse ``path`` (it exists and neither
        ``resume`` nor ``force``; ``resume`` without a file; both flags), writing nothing."""
        path = Path(path)
        if resume and force:
            raise ValueError("--resume and --force exclude each other")
        if resume and not path.exists():
            raise ValueError(f"--resume: {path} does not exist, so there is nothing to resume")
        if path.exists() and not (resume or force):
            raise ValueError(
                f"{path} already exists{cls._describe(path)}. Continue it with --resume, replace "
                "it with --force, or choose another --out."
            )

    @classmethod
    def _resume(cls, path: Path, config: dict[str, Any], command: Sequence[str] | None) -> RunStore:
        document = read_json(path)
        meta = document.get("meta") if isinstance(document, dict) else None
        if not isinstance(meta, dict) or "config" not in meta or "runs" not in document:
            raise ValueError(f"{path}: not a resumable results file (it has no meta.config)")
        differences = _differences(meta["config"], config)
        if differences:
            raise ValueError(
                f"--resume: {path} was made with other settings; a resumed file must equal an "
                "uninterrupted run's, so run the same command (or use --force or another "
                "--out). Differences: " + "; ".join(differences)
            )
        session = provenance(command)
        for key in ("torch_version", "torch_threads"):
            if meta.get(key) != session[key]:
                print(
                    f"warning: {path} was started with {key}={meta.get(key)}, now "
                    f"{session[key]}: results may differ in the last bits from an "
                    "uninterrupted run",
                    file=sys.stderr,
                )
        meta.setdefault("resumed", []).append(session)
        store = cls(path, document)
        for run_id in store._runs:  # killed between storing a run and deleting its checkpoint
            store.checkpoint_path(run_id).unlink(missing_ok=True)
        store._write()  # records this session at once
        return store

    @staticmethod
    def _describe(path: Path) -> str:
        try:
            document = json.loads(path.read_text())
            runs = len(document["runs"])
        except (OSError, ValueError, KeyError, TypeError):
            return ""
        return f" ({runs} run{'s' if runs != 1 else ''})"

    # ------------------------------------------------------------------ runs
    @property
    def runs(self) -> list[dict[str, Any]]:
        """The stored records, in the order they were added."""
        return list(self._runs.values())

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._runs

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, run_id: str) -> dict[str, Any] | None:
        """The record of ``run_id``, or ``None`` if it has not finished."""
        return self._runs.get(run_id)

    def add(self, record: Mapping[str, Any]) -> None:
        """Store a finished run (``record["run_id"]`` new, ``record["status"]`` in
        :data:`STATUSES`), rewrite the file atomically, then delete the run's checkpoint."""
        run_id, status = record.get("run_id"), record.get("status")
        if not isinstance(run_id, str) or not run_id:
            raise ValueError(f"A run record needs a non-empty string run_id, got {run_id!r}")
        if run_id in self._runs:
            raise ValueError(f"{self.path} already holds run {run_id!r}")
        if status not in STATUSES:
            raise ValueError(f"Run {run_id!r}: status {status!r} is not one of {STATUSES}")
        clean = json_safe(record)
        self._runs[run_id] = clean
        self._lines[run_id] = json.dumps(clean, allow_nan=False)
        self._write()
        self.checkpoint_path(run_id).unlink(missing_ok=True)

    def update_meta(self, **items: Any) -> None:
        """Add or replace entries of ``meta`` (e.g. tuning results) and rewrite the file."""
        self.meta.update(json_safe(items))
        self._write()

    def finish(self, **items: Any) -> Path:
        """Mark the file complete (plus ``items`` in ``meta``), remove the checkpoint folder if
        nothing is left in it, and return the path."""
        self.meta["complete"] = True
        self.update_meta(**items)
        folder = self.checkpoint_folder(self.path)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        return self.path

    # ------------------------------------------------------------------ checkpoints
    @staticmethod
    def checkpoint_folder(path: str | os.PathLike) -> Path:
        """``<results file>.checkpoints``: the checkpoints of runs in progress."""
        path = Path(path)
        return path.with_name(path.name + ".checkpoints")

    def checkpoint_path(self, run_id: str) -> Path:
        """The checkpoint file of ``run_id`` (which may not exist yet)."""
        safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", run_id).strip("_")[:80]
        digest = hashlib.sha256(run_id.encode()).hexdigest()[:8]  # keeps distinct ids distinct
        return self.checkpoint_folder(self.path) / f"{safe}-{digest}.pt"

    # ------------------------------------------------------------------ writing
    def _write(self) -> None:
        self.meta["wall_seconds"] = self._wall_before + time.perf_counter() - self._started
        items = (f"{json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in self.meta.items())
        meta = "{\n " + ",\n ".join(items) + "\n}"  # one entry per line
        runs = ",\n".join(self._lines.values())
        write_atomically(self.path, f'{{"meta": {meta},\n"runs": [\n{runs}\n]}}\n')
