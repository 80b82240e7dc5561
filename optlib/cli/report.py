"""``python -m optlib report`` and ``plot``: show a stored results file, as text (a suite's
report, :func:`optlib.book.suites.report_text`) or as a figure (training loss and test accuracy,
:func:`optlib.figures.plot_runs`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from optlib.book.suites import load_results, report_text
from optlib.figures import plot_runs
from optlib.training.files import check_writable
from optlib.training.results import load_document


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """The ``report`` and ``plot`` subcommands."""
    report = commands.add_parser(
        "report", help="print the report of a suite's results file (complete or not)"
    )
    report.add_argument("results", type=Path)

    plot = commands.add_parser(
        "plot", help="plot a results file: training loss and test accuracy, mean ± std"
    )
    plot.add_argument("results", type=Path)
    plot.add_argument("--out", type=Path, help="image file (default: results file with .png)")


def run_report(args: argparse.Namespace) -> None:
    print(report_text(load_results(args.results)))


def run_plot(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    out = check_writable(args.out or args.results.with_suffix(".png"))
    runs, meta = load_document(args.results)
    if not runs:
        raise ValueError(f"{args.results} holds no runs")
    title = f"{meta.get('config', meta).get('task', runs[0].task)}, batch size {runs[0].batch_size}"
    fig = plot_runs(runs, title=title)
    try:
        fig.savefig(out, dpi=150)
    except ValueError as error:  # e.g. an extension matplotlib does not know
        raise ValueError(f"--out {out}: {error}") from None
    print(f"figure saved to {out}")
    diverged = [run for run in runs if run.diverged]
    if diverged:
        print(f"{len(diverged)} diverged run(s) marked with ✕, left out of the means")
