"""Reports of a comparison (optlib.training.report): paired differences, time to a target loss,
and one row per optimizer with diverged runs and their pairs left out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from optlib.training import RunRecord
from optlib.training.report import paired_difference, suite_report, time_to_target


def test_paired_difference_is_scipys_paired_t_interval():
    a, b = [0.91, 0.93, 0.92, 0.95, 0.90], [0.90, 0.91, 0.93, 0.92, 0.89]
    ours = paired_difference(a, b)
    reference = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (ours.low, ours.high) == pytest.approx((reference.low, reference.high), rel=1e-12)
    assert ours.mean == pytest.approx(np.mean(np.subtract(a, b)))
    assert not ours.detected and ours.detectable > abs(ours.mean)
    with pytest.raises(ValueError, match="1 seed"):
        paired_difference([1.0], [2.0])


def record(label, seed, val_losses, test_accuracy, *, status="ok", seconds=1.0):
    return RunRecord(
        label, seed, 0.1, "t", 32, steps_per_epoch=10, epochs=len(val_losses),
        eval_steps=[10 * (i + 1) for i in range(len(val_losses))],
        epoch_val_loss=list(val_losses), epoch_seconds=[seconds] * len(val_losses),
        test_accuracy=test_accuracy, status=status, run_id=f"{label}/seed{seed}",
    )  # fmt: skip


def test_time_to_target_is_the_first_evaluation_at_or_below_it():
    run = record("adam", 0, [0.9, 0.5, 0.3, 0.35], 0.9, seconds=2.0)
    assert time_to_target(run, 0.5) == (20, 4.0)
    assert time_to_target(run, 0.3) == (30, 6.0)
    assert time_to_target(run, 0.1) is None


def report_runs():
    return [
        record("adam", 0, [0.5, 0.3], 0.90),
        record("adam", 1, [0.5, 0.32], 0.91),
        record("adam", 2, [0.5, 0.31], 0.92),
        record("sgd", 0, [0.6, 0.4], 0.85),
        record("sgd", 1, [0.6, 0.45], 0.86),
        record("sgd", 2, [math.inf], None, status="diverged"),
    ]


def test_report_leaves_diverged_runs_and_their_pairs_out():
    rows = {
        row.optimizer: row for row in suite_report(report_runs(), reference="adam", target=0.35)
    }
    adam, sgd = rows["adam"], rows["sgd"]
    assert adam.accuracy_vs_reference is None and adam.status == "ok"
    assert adam.test_accuracy[0] == pytest.approx(0.91) and adam.n_reached == 3
    assert sgd.n_runs == 2 and sgd.n_diverged == 1
    assert sgd.status == "1 of 3 diverged (left out)"
    assert sgd.test_accuracy[0] == pytest.approx(0.855)
    assert sgd.accuracy_vs_reference.n == 2  # seeds 0 and 1 only
    assert sgd.accuracy_vs_reference.mean == pytest.approx(-0.05)
    assert sgd.n_reached == 0 and math.isnan(sgd.steps_to_target[0])
    with pytest.raises(ValueError, match="Invalid reference 'adagrad'"):
        suite_report(report_runs(), reference="adagrad", target=None)
