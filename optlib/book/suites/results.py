"""Reading a suite's results file: :func:`load_results` gives a :class:`SuiteResults` (the suite,
its final runs, its tuning), :func:`report_text` the table ``python -m optlib report`` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from optlib.book.suites.definitions import SUITES, Suite
from optlib.book.suites.runner import is_tuning_run
from optlib.training.report import OptimizerSummary, suite_report
from optlib.training.results import RunRecord, load_document
from optlib.training.tuning import TuningResult

__all__ = ["SuiteResults", "final_runs", "load_results", "report_text"]


def final_runs(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The final runs of a suite's records (not the tuning runs)."""
    return [run for run in runs if not is_tuning_run(run)]


class SuiteResults(NamedTuple):
    """A suite's results file, read: what chapter 4 and ``python -m optlib report`` show."""

    suite: Suite
    """The suite as defined now (:data:`SUITES`); ``tests/test_results.py`` checks that the
    file was made by this definition."""
    meta: dict[str, Any]
    """The file's ``meta``: config, provenance (command, commit, versions, CPU, threads, wall
    seconds), ``complete``, ``tuning``."""
    runs: list[RunRecord]
    """The final runs."""
    tuning_runs: list[RunRecord]
    """The tuning runs: every learning rate tried, at the full budget."""
    tuning: dict[str, TuningResult]
    """Per optimizer label, the tuning at the full budget (every lr tried, extensions
    included)."""

    @property
    def budget(self) -> str:
        """The budget in words, e.g. "45 epochs, 5 seeds; learning rates tuned at 45 epochs on
        2 seeds (grids of 5 values, half a decade apart)"."""
        config = self.meta["config"]
        sizes = sorted({len(o["grid"]) for o in config["optimizers"]})
        grids = " or ".join(str(size) for size in sizes)
        extended = sum(
            bool(entry.get("extended")) for entry in self.meta.get("tuning", {}).values()
        )
        note = f"; {extended} grid(s) extended at the edge" if extended else ""
        return (
            f"{config['epochs']} epochs, {len(config['seeds'])} seeds; learning rates tuned at "
            f"{config['epochs']} epochs on {len(config['tune_seeds'])} seed(s) (grids of {grids} "
            f"values, half a decade apart{note})"
        )

    def report(self) -> list[OptimizerSummary]:
        """:func:`optlib.training.report.suite_report` of the final runs: against the suite's
        reference, with its validation-loss target."""
        return suite_report(
            self.runs, reference=self.suite.reference, target=self.suite.target_val_loss
        )


def load_results(path: str | Path) -> SuiteResults:
    """Read a suite's results file (complete or not); errors name the file."""
    runs, meta = load_document(path)
    name = meta.get("config", {}).get("name")
    if name not in SUITES:
        raise ValueError(f"{path}: not a suite's results file (meta.config.name is {name!r})")
    tuning = {
        label: TuningResult.from_dict(entry) for label, entry in meta.get("tuning", {}).items()
    }
    tried = [run for run in runs if is_tuning_run(run)]
    return SuiteResults(SUITES[name], meta, final_runs(runs), tried, tuning)


def report_text(results: SuiteResults) -> str:
    """The report as text: the budget, the table (:func:`optlib.figures.suites.suite_table`),
    and how to read it."""
    from optlib.figures.suites import suite_table

    config, meta = results.meta["config"], results.meta
    if not results.runs:
        return f"{config['name']}: no final runs yet ({len(results.tuning)} optimizers tuned)"
    planned = len(config["optimizers"]) * len(config["seeds"])
    lines = [
        f"{config['name']}, batch size {config['batch_size']}: {results.budget}; each lr "
        "chosen by the mean final validation loss"
        + ("" if meta.get("complete") else f" (INCOMPLETE: {len(results.runs)} of {planned} runs)"),
        suite_table(results.report(), target=results.suite.target_val_loss).to_text(),
        "Δ: paired differences against the reference on the same seeds (diverged runs and their "
        "pairs left out); time to target: first per-epoch evaluation at or below it, training "
        "time only; its seconds move with the machine's load, its steps do not.",
    ]
    return "\n".join(lines)
