"""One table helper for the whole book: :func:`table`, formatted by ``tabulate``.

A :class:`Table` shows as HTML in notebooks and the built book, prints as GitHub Markdown
(``str(t)``, for ``IPython.display.Markdown`` or a README) and as plain text for the terminal
(:meth:`Table.to_text`, the CLI's summary). :func:`summary_table` tabulates
:func:`optlib.training.summarize` rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from tabulate import tabulate

from optlib.training.results import SummaryRow


class Table(NamedTuple):
    """Formatted cells; the first column is left-aligned, the others right-aligned."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def _format(self, tablefmt: str) -> str:
        align = ("left",) + ("right",) * (len(self.headers) - 1)
        return tabulate(
            self.rows, self.headers, tablefmt=tablefmt, colalign=align, disable_numparse=True
        )

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown."""
        return self._format("pipe")

    def to_text(self) -> str:
        """Plain text with aligned columns, for terminals."""
        return self._format("simple")

    def __str__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return f'<div style="overflow-x:auto">{self._format("html")}</div>'


def table(
    rows: Sequence[Sequence[Any]],
    *,
    headers: Sequence[str] | Mapping[str, str] | None = None,
    digits: int = 6,
) -> Table:
    """A :class:`Table` of ``rows``; floats get ``digits`` significant digits, strings stay as is.

    For NamedTuple rows, ``headers`` optionally maps field names to column titles (default: the
    field names); for plain sequences it must list the titles.

    >>> class Row(NamedTuple):
    ...     t: int
    ...     x: float
    >>> print(table([Row(1, 0.123456789)], headers={"x": "x_t"}, digits=3))
    | t   |   x_t |
    |:----|------:|
    | 1   | 0.123 |
    """
    if not rows:
        raise ValueError("Invalid rows: expected at least one row")
    fields = getattr(rows[0], "_fields", None)
    if fields is not None:
        titles = dict(headers or {})
        if not isinstance(headers, Mapping | None) or set(titles) - set(fields):
            raise ValueError(f"Invalid headers: {headers!r} (expected a mapping over {fields})")
        header_row = tuple(titles.get(field, field) for field in fields)
    else:
        if headers is None or isinstance(headers, Mapping):
            raise ValueError("Invalid headers: plain rows need a sequence of column titles")
        header_row = tuple(headers)
    if any(len(row) != len(header_row) for row in rows):
        raise ValueError(f"Invalid rows: every row needs {len(header_row)} cells")

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.{digits}g}"
        return str(value)

    return Table(header_row, tuple(tuple(cell(value) for value in row) for row in rows))


def _mean_std(mean: float, std: float, scale: float, digits: int) -> str:
    if math.isnan(mean):
        return "n/a"
    shown = f"{mean * scale:.{digits}f}"
    return shown if math.isnan(std) else f"{shown} ± {std * scale:.{digits}f}"


def _runs(n_ok: int, n_diverged: int) -> str:
    return f"{n_ok} (+{n_diverged} diverged, left out)" if n_diverged else str(n_ok)


def summary_table(rows: Sequence[SummaryRow]) -> Table:
    """:func:`optlib.training.summarize` rows: learning rate, runs, test accuracy (%) and seconds
    per epoch, mean ± sample standard deviation over runs. Optimizers the palette knows are shown
    by their display name. Diverged runs are left out of the means and stds; the runs column
    says how many, e.g. ``2 (+1 diverged, left out)``."""
    from optlib.figures.style import label

    def name(optimizer: str) -> str:
        try:
            return label(optimizer)
        except KeyError:
            return optimizer

    return table(
        [
            (
                name(row.optimizer),
                ", ".join(f"{lr:g}" for lr in row.lrs),
                _runs(row.n_runs, row.n_diverged),
                _mean_std(row.test_accuracy_mean, row.test_accuracy_std, 100, 2),
                _mean_std(row.seconds_per_epoch_mean, row.seconds_per_epoch_std, 1, 2),
            )
            for row in rows
        ],
        headers=("optimizer", "learning rate", "runs", "test accuracy (%)", "seconds per epoch"),
    )
