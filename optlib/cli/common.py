"""What the subcommands share: argument types and parsers (``--lr``, ``--hyperparameters``,
positive numbers), the check of every learning rate before training, and SIGINT/SIGTERM as an
:class:`Interrupted` exception plus the command that continues an interrupted run."""

from __future__ import annotations

import argparse
import contextlib
import math
import shlex
import signal
from collections.abc import Iterator, Sequence

import torch

from optlib import training as train
from optlib.optim import DEFAULT_LR, make_optimizer

PROG = "python -m optlib"


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------
def parse_lrs(tokens: Sequence[str], optimizers: Sequence[str]) -> dict[str, float]:
    """Learning rate per optimizer from ``--lr`` tokens.

    A bare number applies to every optimizer; ``name=value`` sets one optimizer (and wins over a
    bare number). Optimizers not mentioned keep torch's default (:data:`optlib.optim.DEFAULT_LR`).
    """
    shared: float | None = None
    specific: dict[str, float] = {}
    for token in tokens:
        name, _, value = token.rpartition("=")
        name = name.strip().lower()
        try:
            lr = float(value)
        except ValueError:
            raise ValueError(
                f"Invalid --lr value {token!r}: expected a number or name=number"
            ) from None
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"Invalid learning rate in --lr {token!r}: must be positive")
        if not name:
            if shared is not None:
                raise ValueError(f"--lr got two bare learning rates: {shared:g} and {lr:g}")
            shared = lr
        elif name not in optimizers:
            raise ValueError(
                f"--lr names {name!r}, which is not among --optimizers ({', '.join(optimizers)})"
            )
        elif name in specific:
            raise ValueError(f"--lr sets {name!r} twice")
        else:
            specific[name] = lr
    return {
        name: specific.get(name, shared if shared is not None else DEFAULT_LR[name])
        for name in optimizers
    }


def parse_hyperparameters(tokens: Sequence[str]) -> dict[str, float | bool]:
    """``KEY=VALUE`` tokens as a dict: ``true``/``false`` are booleans, anything else a number."""
    result: dict[str, float | bool] = {}
    for token in tokens:
        key, equals, text = token.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ValueError(f"Invalid --hyperparameters entry {token!r}: expected KEY=VALUE")
        if key == "lr":
            raise ValueError("--hyperparameters: set the learning rate with --lr")
        if key in result:
            raise ValueError(f"--hyperparameters sets {key!r} twice")
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            result[key] = lowered == "true"
            continue
        try:
            result[key] = float(text)
        except ValueError:
            raise ValueError(
                f"Invalid --hyperparameters entry {token!r}: {text!r} is not a number or true/false"
            ) from None
    return result


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


# --------------------------------------------------------------------------------------------
# Checked before training
# --------------------------------------------------------------------------------------------
def check_learning_rates(
    task: train.Task, lrs: dict[str, list[float]], hyperparameters: dict | None = None
) -> None:
    """One step of every optimizer with every learning rate it may use (and ``hyperparameters``),
    on a copy of the task's model with zero gradients, so that a value it refuses (e.g. an lr the
    parameters' dtype cannot hold, which torch.optim-style optimizers check when they step)
    stops the command before any training rather than when that optimizer's turn comes."""
    model = task.make_model(0)
    for name, values in lrs.items():
        for lr in values:
            params = [param.detach().clone().requires_grad_() for param in model.parameters()]
            for param in params:
                param.grad = torch.zeros_like(param)
            try:
                make_optimizer(name, params, lr=lr, **(hyperparameters or {})).step()
            except (ValueError, TypeError) as error:
                raise ValueError(f"{name} with lr={lr:g}: {error}") from None


# --------------------------------------------------------------------------------------------
# Interrupted, and how to continue
# --------------------------------------------------------------------------------------------
class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during ``compare`` or ``suite``; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` (a KeyboardInterrupt) while inside.

    Files are only ever replaced atomically, so wherever the exception lands, every stored run
    and the last checkpoint are intact."""
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def continue_line(argv: Sequence[str]) -> str:
    """``To continue: python -m optlib ...``: the interrupted command with ``--resume`` (and
    without ``--force``, which would throw away what was saved)."""
    command = [arg for arg in argv if arg != "--force"]
    command += [] if "--resume" in command else ["--resume"]
    return f"To continue: {PROG} {shlex.join(command)}"
