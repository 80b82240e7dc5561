"""The README's way to run one chapter works after `pip install -r requirements.txt`: the
`jupyter` command is installed and executes a chapter from a folder outside the repository
(optlib is importable from anywhere; MNIST comes from $OPTLIB_DATA_DIR)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The fastest chapter (about 8 s in CI).
CHAPTER = sorted((REPO / "chapters").glob("01_*.ipynb"))[0]


@pytest.mark.slow
def test_jupyter_nbconvert_executes_a_chapter_from_outside_the_repository(tmp_path):
    jupyter = Path(sys.executable).parent / "jupyter"  # what `source .venv/bin/activate` puts first
    assert jupyter.exists(), f"{jupyter} missing: requirements.txt must install JupyterLab"
    for command in ("lab", "notebook", "nbconvert"):
        listed = subprocess.run(
            [jupyter, command, "--version"], capture_output=True, text=True, timeout=120
        )
        assert listed.returncode == 0, f"jupyter {command}: {listed.stderr}"
    notebook = tmp_path / CHAPTER.name  # a copy, so even the kernel's folder is outside the repo
    shutil.copy(CHAPTER, notebook)
    executed = tmp_path / "executed.ipynb"
    completed = subprocess.run(
        [jupyter, "nbconvert", "--to", "notebook", "--execute", notebook, "--output", executed],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPTLIB_PROGRESS": "0"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    cells = json.loads(executed.read_text())["cells"]
    code_cells = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code_cells and all(cell["execution_count"] for cell in code_cells)
    errors = [o for cell in code_cells for o in cell["outputs"] if o["output_type"] == "error"]
    assert not errors
