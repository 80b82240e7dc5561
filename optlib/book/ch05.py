r"""Chapter 5's measurement of how fast regret grows.

:func:`growth_exponent` fits :math:`R_T \approx a + b\,T^{p}` to a regret curve and returns
:math:`p`, so "regret grows like :math:`\sqrt T`" becomes a number with a margin
(``tests/test_book_ch05.py`` checks that it recovers known exponents and rejects wrong ones).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import optimize

__all__ = ["growth_exponent"]


def growth_exponent(regret: Sequence[float], *, start: int) -> float:
    r"""The exponent :math:`p` of :math:`R_T \approx a + b\,T^{p}`, fitted over rounds ``start..T``.

    ``regret[t - 1]`` is :math:`R_t`. The constant :math:`a` absorbs what the first rounds cost
    (a transient that bends a plain log-log slope below :math:`p` at moderate :math:`T`); the fit
    is least squares on the curve itself (``scipy.optimize.curve_fit``).

    .. math:: \min_{a, b, p} \sum_{T=\text{start}}^{T_{\max}} \big(R_T - a - b\,T^{p}\big)^2
    """
    values = np.asarray(regret, dtype=float)
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise ValueError("Invalid regret: expected a 1-D sequence of finite numbers")
    if not isinstance(start, int) or not 1 <= start <= len(values) - 3:
        raise ValueError(f"Invalid start: {start!r} (expected 1 <= start <= {len(values) - 3})")
    rounds = np.arange(start, len(values) + 1, dtype=float)
    later = values[start - 1 :]
    scale = max(np.abs(later).max(), 1e-12)

    def model(t: np.ndarray, a: float, b: float, p: float) -> np.ndarray:
        return a + b * (t / rounds[-1]) ** p

    (_, _, exponent), _ = optimize.curve_fit(
        model, rounds, later / scale, p0=(0.0, 1.0, 0.5), maxfev=20_000
    )
    return float(exponent)
