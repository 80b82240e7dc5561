"""The benchmarks' bookkeeping: goals, turn-taking, paired ratios, tables and the load average.

Contenders of a comparison run in turn, A B C A B C ... (:func:`alternate`), so a background job
that slows one repeat slows every contender of that repeat; a ratio is the median over repeats of
that repeat's ratio (:func:`paired_ratio`), held to a :class:`Goal`. Nothing here times a
benchmark by itself: each contender returns the seconds it measured.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Mapping
from typing import NamedTuple


class Goal(NamedTuple):
    """A measured ratio and the goal it is held to."""

    name: str
    ratio: float
    target: float | None
    """``None``: measured and printed, no goal (the MLP sweep's 1.5x goal was withdrawn: its
    bound, printed beside it, shows no sweep can reach it)."""
    at_least: bool
    """``True``: the goal is ``ratio >= target``; ``False``: ``ratio <= target``."""
    threads: int

    @property
    def met(self) -> bool:
        if self.target is None:
            return True
        return self.ratio >= self.target if self.at_least else self.ratio <= self.target

    def line(self) -> str:
        if self.target is None:
            return f"  {self.name:<58} {self.ratio:6.2f}x   no goal (measured only)"
        sign = ">=" if self.at_least else "<="
        mark = "PASS" if self.met else "MISS"
        return f"  {self.name:<58} {self.ratio:6.2f}x   goal {sign} {self.target:.2f}x   {mark}"


def alternate(
    candidates: Mapping[str, Callable[[], float]], repeats: int
) -> dict[str, list[float]]:
    """Run each candidate once per repeat, in turn; each call returns the seconds it measured."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            times[name].append(run())
    return times


def paired_ratio(times: Mapping[str, list[float]], numerator: str, denominator: str) -> float:
    """Median over repeats of ``times[numerator][i] / times[denominator][i]``."""
    return statistics.median(
        a / b for a, b in zip(times[numerator], times[denominator], strict=True)
    )


def load_average() -> str:
    """The machine's 1-minute load average: above the number of CPUs, timings are inflated."""
    try:
        return f"load average {os.getloadavg()[0]:.1f}"
    except OSError:  # not available on this platform
        return "load average unknown"


def print_table(times: Mapping[str, list[float]], unit: str, scale: float) -> None:
    """Median and best time of every candidate, ``scale`` converting seconds to ``unit``."""
    for name, values in times.items():
        median, best = statistics.median(values) * scale, min(values) * scale
        print(f"  {name:<58} {median:9.3f} {unit} (best {best:.3f})")
