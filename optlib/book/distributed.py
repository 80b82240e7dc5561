r"""Data-parallel training on a real engine: ``torch.distributed`` processes on 127.0.0.1.

Chapter 5 trains one model in ``world_size`` separate processes, the way multi-GPU and
multi-machine training works, only with the ``gloo`` backend on the loopback interface of one
machine:

* :func:`launch` is a small, safe launcher. It starts ``world_size`` fresh processes (``spawn``,
  so it works from a notebook), joins them in one process group over TCP on ``127.0.0.1`` (a free
  port found by binding port 0), runs ``worker(rank, world_size, *args)`` in each, and returns the
  results by rank. It never leaves a process behind: the whole run has a ``timeout``, stragglers
  are terminated, and an exception in any worker is re-raised in the caller as a
  :class:`WorkerError` that carries the worker's traceback.
* :func:`run_data_parallel` trains an MLP with ``DistributedDataParallel`` (each rank takes its
  share of every global minibatch; gradients are averaged with an all-reduce) and optionally with
  ``ZeroRedundancyOptimizer``, which shards the optimizer state across ranks (ZeRO, Rajbhandari
  et al., 2020). :func:`train_single_process` runs the same steps in one process on the whole
  global batch, the reference the distributed run must reproduce.

Why data parallelism computes the same step as one process: with :math:`W` ranks each holding
:math:`B/W` of the :math:`B` examples of a minibatch, the all-reduced mean of the local mean
gradients is the gradient of the global mean loss,

.. math:: \frac{1}{W}\sum_{r=1}^{W} \nabla \Big(\frac{W}{B}\sum_{i \in S_r} \ell_i\Big)
          = \nabla \Big(\frac{1}{B}\sum_{i=1}^{B} \ell_i\Big),

so every rank applies the identical update (up to floating-point summation order).

On a cluster the same worker code runs unchanged under ``torchrun`` (which sets the rank, world
size and rendezvous address through environment variables) with the ``nccl`` backend on GPUs.
"""

from __future__ import annotations

import os
import queue as queue_module
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import timedelta
from multiprocessing.reduction import ForkingPickler
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from optlib.book.costs import state_size
from optlib.training.models import make_model

LOOPBACK = "127.0.0.1"
"""The only address the launcher uses: every process runs on this machine."""

__all__ = [
    "LOOPBACK",
    "DataParallelConfig",
    "RankResult",
    "WorkerError",
    "WorkerTimeoutError",
    "data_parallel_worker",
    "free_loopback_port",
    "launch",
    "run_data_parallel",
    "train_single_process",
]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
class WorkerError(RuntimeError):
    """A worker process raised; the message holds its rank and its full traceback."""

    def __init__(self, rank: int, world_size: int, traceback_text: str, others: str = "") -> None:
        self.rank = rank
        self.traceback_text = traceback_text
        message = f"worker rank {rank} of {world_size} failed:\n{traceback_text.rstrip()}"
        if others:
            message += f"\n(also failed, probably as a consequence: {others})"
        super().__init__(message)


class WorkerTimeoutError(TimeoutError):
    """Workers did not finish within the launcher's timeout (they were terminated)."""


# --------------------------------------------------------------------------------------------
# The launcher
# --------------------------------------------------------------------------------------------
def free_loopback_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (the OS picks it when binding port 0).

    Another program could take it before rank 0 binds it; that race is harmless here (the launch
    fails with a clear error) and is why :func:`launch` asks for a new port every time.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _loopback_interface() -> str | None:
    """The name of the loopback network interface (``lo`` on Linux, ``lo0`` on macOS)."""
    try:
        names = {name for _, name in socket.if_nameindex()}
    except OSError:  # pragma: no cover - platforms without if_nameindex
        return None
    return next((name for name in ("lo", "lo0") if name in names), None)


def _worker_entry(
    worker: Callable[..., Any],
    rank: int,
    world_size: int,
    port: int,
    backend: str,
    timeout: float,
    args: tuple[Any, ...],
    results: Any,
) -> None:
    """Body of every launched process: join the group, run ``worker``, report to the parent."""
    os.environ["MASTER_ADDR"] = LOOPBACK
    os.environ["MASTER_PORT"] = str(port)
    interface = _loopback_interface()
    if interface is not None:  # keep gloo's own connections on the loopback interface too
        os.environ.setdefault("GLOO_SOCKET_IFNAME", interface)
    torch.set_num_threads(1)  # one core per rank; the ranks share the machine
    try:
        dist.init_process_group(
            backend,
            init_method=f"tcp://{LOOPBACK}:{port}",
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout),
        )
        result = worker(rank, world_size, *args)
        ForkingPickler.dumps(result)  # fail here, with a traceback, if the result cannot be sent
        results.put((rank, True, result))
    except BaseException:  # report first, so the root cause reaches the parent before the rest
        results.put((rank, False, traceback.format_exc()))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _stop(processes: Sequence[Any], grace: float) -> None:
    """Join every process for up to ``grace`` seconds, then terminate (and kill) stragglers."""
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join(timeout=2.0)
        if process.is_alive():  # pragma: no cover - a process that ignores SIGTERM
            process.kill()
            process.join(timeout=2.0)


def launch(
    worker: Callable[..., Any],
    world_size: int,
    args: tuple[Any, ...] = (),
    *,
    timeout: float = 60.0,
    backend: str = "gloo",
) -> list[Any]:
    """Run ``worker(rank, world_size, *args)`` in ``world_size`` processes; results by rank.

    ``worker`` must be importable by name (a module-level function, not one defined in a
    notebook): ``spawn`` starts fresh interpreters that import it. Its arguments and return value
    are pickled, so pass and return plain data (NumPy arrays, numbers, NamedTuples).

    Raises:
        WorkerError: a worker raised; the message carries its rank and traceback (the other
            workers are terminated at once).
        WorkerTimeoutError: not every worker finished within ``timeout`` seconds (they are
            terminated).
    """
    if not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"Invalid world_size: {world_size!r} (expected an int >= 1)")
    if not timeout > 0:
        raise ValueError(f"Invalid timeout: {timeout!r} (expected seconds > 0)")
    context = mp.get_context("spawn")
    results = context.Queue()
    port = free_loopback_port()
    processes = [
        context.Process(
            target=_worker_entry,
            args=(worker, rank, world_size, port, backend, timeout, args, results),
            name=f"optlib-rank{rank}",
            daemon=True,
        )
        for rank in range(world_size)
    ]
    finished: dict[int, Any] = {}
    succeeded = False
    try:
        for process in processes:
            process.start()
        deadline = time.monotonic() + timeout
        while len(finished) < world_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sorted(set(range(world_size)) - set(finished))
                raise WorkerTimeoutError(
                    f"{len(missing)} of {world_size} workers (ranks {missing}) did not finish "
                    f"within timeout={timeout:g} s and were terminated"
                )
            try:
                rank, ok, payload = results.get(timeout=min(remaining, 0.5))
            except queue_module.Empty:
                _check_silent_deaths(processes, finished, results, world_size)
                continue
            if not ok:
                raise _worker_error(rank, world_size, payload, results)
            finished[rank] = payload
        succeeded = True
    finally:
        _stop(processes, grace=10.0 if succeeded else 0.0)
        results.close()
    return [finished[rank] for rank in range(world_size)]


def _worker_error(rank: int, world_size: int, traceback_text: str, results: Any) -> WorkerError:
    """The first failure, plus a note of other ranks that failed within the next second."""
    others = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            other_rank, ok, payload = results.get(timeout=0.2)
        except queue_module.Empty:
            continue
        if not ok:
            last_line = payload.strip().splitlines()[-1] if payload.strip() else "?"
            others.append(f"rank {other_rank}: {last_line}")
    return WorkerError(rank, world_size, traceback_text, "; ".join(others))


def _check_silent_deaths(
    processes: Sequence[Any], finished: dict[int, Any], results: Any, world_size: int
) -> None:
    """Raise if a process exited without reporting (killed, out of memory, segfault)."""
    for rank, process in enumerate(processes):
        if rank in finished or process.exitcode is None:
            continue
        try:  # its report may still be in flight
            reported_rank, ok, payload = results.get(timeout=1.0)
        except queue_module.Empty:
            raise WorkerError(
                rank,
                world_size,
                f"the process exited with code {process.exitcode} without reporting a result "
                "(killed by a signal, out of memory, or a crash in native code?)",
            ) from None
        if not ok:
            raise _worker_error(reported_rank, world_size, payload, results)
        finished[reported_rank] = payload
        return


# --------------------------------------------------------------------------------------------
# The data-parallel demo
# --------------------------------------------------------------------------------------------
class DataParallelConfig(NamedTuple):
    """What :func:`run_data_parallel` and :func:`train_single_process` train, and how."""

    hidden_sizes: tuple[int, ...] = (256, 256, 256, 256)
    """Widths of the MLP's hidden layers (equal widths let ZeRO split the state evenly)."""
    steps: int = 20
    global_batch_size: int = 128
    """Examples per step, summed over all ranks."""
    lr: float = 1e-3
    seed: int = 0
    """Seed of the initial weights (the same on every rank)."""
    zero: bool = False
    """Shard Adam's state with ``ZeroRedundancyOptimizer`` instead of replicating it."""


class RankResult(NamedTuple):
    """What one rank (or the single-process reference) ends with."""

    rank: int
    params: np.ndarray
    """Every parameter of the final model, flattened and concatenated (float32)."""
    state_bytes: int
    """Bytes of optimizer-state tensors held by this rank (Adam's :math:`m` and :math:`v`)."""
    losses: np.ndarray
    """This rank's minibatch loss at every step (on its share of the global batch)."""


def _flat_params(model: nn.Module) -> np.ndarray:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy()


def _check_data(config: DataParallelConfig, x: np.ndarray, y: np.ndarray, world_size: int) -> None:
    if config.steps < 1:
        raise ValueError(f"Invalid steps: {config.steps} (expected >= 1)")
    if config.global_batch_size < world_size or config.global_batch_size % world_size:
        raise ValueError(
            f"Invalid global_batch_size: {config.global_batch_size} (must be a multiple of "
            f"world_size={world_size}, so every rank gets an equal share)"
        )
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"Invalid data: x {x.shape} and y {y.shape} (expected (N, d) and (N,))")
    needed = config.steps * config.global_batch_size
    if len(x) < needed:
        raise ValueError(
            f"Invalid data: {len(x)} examples, but steps={config.steps} x global_batch_size="
            f"{config.global_batch_size} needs {needed}"
        )


def _train(
    config: DataParallelConfig,
    x: np.ndarray,
    y: np.ndarray,
    rank: int,
    world_size: int,
    distributed: bool,
) -> RankResult:
    """The loop shared by every rank and by the single-process reference.

    Step ``s`` uses global batch ``s`` (examples ``s*B`` to ``(s+1)*B - 1``); rank ``r`` takes
    the ``r``-th contiguous share of ``B / world_size`` examples of it.
    """
    # Imported here, not at the top: torch.distributed.optim takes about a second to import, and
    # every launched process pays for the imports of this module before it can run its worker.
    from torch.distributed.optim import ZeroRedundancyOptimizer

    from optlib import optim

    n_classes = int(y.max()) + 1
    model = make_model(
        "mlp",
        seed=config.seed,
        in_features=x.shape[1],
        n_classes=max(n_classes, 2),
        hidden=config.hidden_sizes,
    )
    if distributed:
        model = DistributedDataParallel(model)
    if config.zero:
        optimizer = ZeroRedundancyOptimizer(
            model.parameters(), optimizer_class=optim.Adam, lr=config.lr
        )
    else:
        optimizer = optim.Adam(model.parameters(), lr=config.lr)  # the book's Adam

    share = config.global_batch_size // world_size
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y)
    losses = []
    for step in range(config.steps):
        start = step * config.global_batch_size + rank * share
        loss = F.cross_entropy(model(inputs[start : start + share]), labels[start : start + share])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP all-reduces (averages) the gradients here
        optimizer.step()
        losses.append(loss.item())

    local_optimizer = optimizer.optim if config.zero else optimizer
    return RankResult(
        rank=rank,
        params=_flat_params(model),
        state_bytes=state_size(local_optimizer).state_bytes,
        losses=np.asarray(losses),
    )


def data_parallel_worker(
    rank: int, world_size: int, configs: Sequence[DataParallelConfig], x: np.ndarray, y: np.ndarray
) -> list[RankResult]:
    """One rank of :func:`run_data_parallel`: train every config in turn, in the same group."""
    return [_train(config, x, y, rank, world_size, distributed=True) for config in configs]


def run_data_parallel(
    configs: DataParallelConfig | Sequence[DataParallelConfig],
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    world_size: int = 2,
    timeout: float = 60.0,
) -> list[list[RankResult]]:
    """Train with ``DistributedDataParallel`` on ``world_size`` gloo processes on 127.0.0.1.

    Every config is trained in turn by the same processes (starting processes is the slow part).
    Returns, for each config, one :class:`RankResult` per rank. ``x`` (float32, ``(N, d)``) and
    ``y`` (int64, ``(N,)``) are sent to every process; each rank reads only its shares.
    See :func:`launch` for the errors raised.
    """
    configs = [configs] if isinstance(configs, DataParallelConfig) else list(configs)
    if not configs:
        raise ValueError("Invalid configs: empty")
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    y = np.ascontiguousarray(np.asarray(y, dtype=np.int64))
    if not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"Invalid world_size: {world_size!r} (expected an int >= 1)")
    for config in configs:
        _check_data(config, x, y, world_size)
    per_rank = launch(data_parallel_worker, world_size, (configs, x, y), timeout=timeout)
    return [[per_rank[rank][index] for rank in range(world_size)] for index in range(len(configs))]


def train_single_process(
    config: DataParallelConfig, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor
) -> RankResult:
    """The reference: the same steps in this process, each on the whole global batch."""
    if config.zero:
        raise ValueError("Invalid config: zero=True needs a process group; use zero=False")
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    y = np.ascontiguousarray(np.asarray(y, dtype=np.int64))
    _check_data(config, x, y, 1)
    return _train(config, x, y, rank=0, world_size=1, distributed=False)
