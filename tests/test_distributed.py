"""Tests of optlib.distributed: the launcher's safety (errors, timeouts) and data parallelism."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from optlib.book import costs, distributed
from optlib.book.distributed import DataParallelConfig, WorkerError, WorkerTimeoutError

# Spawned workers import this module by name, so these must stay module-level functions.


def rank_and_sum_worker(rank: int, world_size: int, value: float) -> tuple[int, float]:
    """All-reduce ``value * (rank + 1)``: every rank must see the same sum."""
    tensor = torch.tensor([value * (rank + 1)])
    torch.distributed.all_reduce(tensor)
    return rank, float(tensor.item())


def failing_worker(rank: int, world_size: int) -> None:
    if rank == 1:
        raise ValueError("boom from rank one")
    torch.distributed.barrier()  # rank 0 waits for rank 1, which never arrives


def sleeping_worker(rank: int, world_size: int, seconds: float) -> None:
    time.sleep(seconds)


def _tiny_data(n: int = 64, d: int = 12, n_classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(0)
    x = generator.standard_normal((n, d)).astype(np.float32)
    y = generator.integers(0, n_classes, n).astype(np.int64)
    return x, y


def test_free_loopback_port_is_bindable() -> None:
    port = distributed.free_loopback_port()
    assert 0 < port < 65536


@pytest.mark.slow
def test_launch_returns_results_by_rank_after_an_all_reduce() -> None:
    results = distributed.launch(rank_and_sum_worker, 2, (1.5,), timeout=60)
    assert results == [(0, 4.5), (1, 4.5)]


def test_a_failing_worker_surfaces_with_its_traceback() -> None:
    started = time.monotonic()
    with pytest.raises(WorkerError, match="boom from rank one") as caught:
        distributed.launch(failing_worker, 2, timeout=60)
    assert caught.value.rank == 1
    assert "Traceback" in str(caught.value) and "failing_worker" in str(caught.value)
    assert time.monotonic() - started < 30, "the parent must not wait for the stuck rank 0"


def test_a_hanging_worker_times_out_and_is_terminated() -> None:
    started = time.monotonic()
    with pytest.raises(WorkerTimeoutError, match="did not finish"):
        distributed.launch(sleeping_worker, 2, (600.0,), timeout=3.0)
    assert time.monotonic() - started < 20
    assert not [p for p in torch.multiprocessing.active_children() if p.name.startswith("optlib")]


def test_launch_validates_arguments() -> None:
    with pytest.raises(ValueError, match="world_size"):
        distributed.launch(rank_and_sum_worker, 0, (1.0,))
    with pytest.raises(ValueError, match="timeout"):
        distributed.launch(rank_and_sum_worker, 2, (1.0,), timeout=0)


def test_run_data_parallel_validates_the_batch_split() -> None:
    x, y = _tiny_data()
    with pytest.raises(ValueError, match="global_batch_size"):
        distributed.run_data_parallel(DataParallelConfig(global_batch_size=7), x, y)
    with pytest.raises(ValueError, match="needs"):
        distributed.run_data_parallel(DataParallelConfig(steps=100, global_batch_size=8), x, y)


def test_optimizer_state_bytes_counts_adam_moments() -> None:
    from optlib import optim

    layer = torch.nn.Linear(10, 5)
    optimizer = optim.Adam(layer.parameters())
    assert costs.state_size(optimizer).state_bytes == 0
    layer(torch.ones(2, 10)).sum().backward()
    optimizer.step()
    size = costs.state_size(optimizer)
    assert size.per_coordinate_bytes == 2 * 4 * (10 * 5 + 5)  # m and v of weight and bias
    assert size.other_bytes == 2 * 4  # each tensor's step count, a float32 scalar as in torch
    assert size.state_bytes == size.per_coordinate_bytes + size.other_bytes


@pytest.mark.slow
def test_data_parallel_matches_one_process_and_zero_halves_the_state() -> None:
    x, y = _tiny_data()
    plain = DataParallelConfig(hidden_sizes=(16, 16), steps=4, global_batch_size=16, lr=1e-2)
    sharded = plain._replace(zero=True)
    ddp, zero = distributed.run_data_parallel([plain, sharded], x, y, world_size=2, timeout=90)
    reference = distributed.train_single_process(plain, x, y)

    for ranks in (ddp, zero):
        assert np.array_equal(ranks[0].params, ranks[1].params)  # identical on every rank
        np.testing.assert_allclose(ranks[0].params, reference.params, atol=1e-5)
    np.testing.assert_allclose((ddp[0].losses + ddp[1].losses) / 2, reference.losses, atol=1e-5)
    assert ddp[0].state_bytes == ddp[1].state_bytes == reference.state_bytes
    assert zero[0].state_bytes + zero[1].state_bytes == reference.state_bytes
    assert max(r.state_bytes for r in zero) < 0.6 * reference.state_bytes
