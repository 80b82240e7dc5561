"""Shared test helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch


def run_mixed_groups(optimizer_class, **options):
    """Six steps of ``optimizer_class`` on four float64 tensors (0-d, vector, matrix, transposed
    matrix) in one group and a float32 vector in another (its own lr); every parameter misses
    the gradient every third step, so their state layouts and step counts diverge.

    Returns ``(params, optimizer)``.
    """
    generator = torch.Generator().manual_seed(0)
    shapes = [(), (5,), (3, 4)]
    tensors = [torch.randn(s, generator=generator, dtype=torch.float64) for s in shapes]
    tensors.append(torch.randn(4, 6, generator=generator, dtype=torch.float64).t())
    params = [torch.nn.Parameter(t) for t in tensors]
    params.append(torch.nn.Parameter(torch.ones(3, dtype=torch.float32)))
    groups = [{"params": params[:4]}, {"params": params[4:], "lr": 0.05}]
    optimizer = optimizer_class(groups, **options)
    for step in range(6):
        for index, param in enumerate(params):
            grad = torch.randn(param.shape, generator=generator, dtype=param.dtype)
            param.grad = None if (step + index) % 3 == 0 else grad
        optimizer.step()
    return params, optimizer


@pytest.fixture(name="run_mixed_groups")
def run_mixed_groups_fixture():
    """:func:`run_mixed_groups`, for tests."""
    return run_mixed_groups


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny-tensor tests: threads gain nothing there, and
    spinning threads slow a busy machine. Restores the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Path:
    """A folder no file can be created in: chmod 555, or for root (who ignores permission
    bits) /sys, which the kernel refuses to create files in."""
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir(mode=0o555)
        return folder
    try:
        with open("/sys/optlib-probe", "w"):
            pass
    except OSError:
        return Path("/sys")
    pytest.skip("no read-only folder available")
