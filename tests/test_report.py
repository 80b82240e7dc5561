"""Reports of a comparison (optlib.training.report): paired differences, time to a target loss,
and one row per optimizer with diverged runs and their pairs left out."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from scipy import stats

from optlib.training import RunRecord, report
from optlib.training.report import paired_difference, suite_report, time_to_target


def test_docstring_examples_run():
    # paired_difference's example lives in optlib.training.report, its one home
    assert doctest.testmod(report, raise_on_error=True).attempted > 0


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_paired_interval_is_scipys_paired_t_interval(confidence):
    rng = np.random.default_rng(3)
    a = rng.normal(0.95, 0.01, size=5)
    b = a - rng.normal(0.002, 0.003, size=5)
    result = paired_difference(a, b, confidence=confidence)
    expected = stats.ttest_rel(a, b).confidence_interval(confidence_level=confidence)
    assert result.low == pytest.approx(expected.low)
    assert result.high == pytest.approx(expected.high)
    assert result.mean == pytest.approx(np.mean(a - b))
    assert result.n == 5 and result.confidence == confidence


def test_interval_excludes_zero_exactly_when_the_paired_t_test_rejects():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.normal(size=4)
        b = a - rng.normal(0.5, 1.0, size=4)
        result = paired_difference(a, b)
        rejects = stats.ttest_rel(a, b).pvalue < 0.05
        assert rejects == (result.low > 0 or result.high < 0) == result.detected


def test_detectable_effect_has_the_stated_power():
    """Simulated paired experiments whose true difference is the detectable effect are detected
    about 80 % of the time (the formula is an approximation: it fixes s at its true value)."""
    n, sigma = 5, 1.0
    detectable = (stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.8, n - 1)) * sigma / np.sqrt(n)
    rng = np.random.default_rng(1)
    differences = rng.normal(detectable, sigma, size=(20_000, n))
    detected = stats.ttest_1samp(differences, 0.0, axis=1).pvalue < 0.05
    assert 0.7 < detected.mean() < 0.85
    # ... and paired_difference reports that effect for data whose sample SD is sigma.
    d = np.array([-1.0, 0.0, 1.0, 0.5, -0.5])
    d = d / d.std(ddof=1)
    result = paired_difference(d, np.zeros(n))
    assert result.detectable == pytest.approx(detectable)


def test_paired_difference_fewer_seeds_means_a_wider_interval():
    a, b = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), np.array([0.5, 2.2, 2.4, 4.1, 4.4, 6.3])
    wide, narrow = paired_difference(a[:3], b[:3]), paired_difference(a, b)
    assert wide.high - wide.low > narrow.high - narrow.low


@pytest.mark.parametrize(
    ("a", "b", "options", "match"),
    [
        ([1.0, 2.0], [1.0], {}, "Invalid pairs"),
        ([1.0], [1.0], {}, "need at least 2"),
        ([1.0, 2.0], [1.0, 3.0], {"confidence": 1.0}, "Invalid confidence"),
        ([1.0, 2.0], [1.0, 3.0], {"power": 0.0}, "Invalid power"),
    ],
)
def test_paired_difference_validates(a, b, options, match):
    with pytest.raises(ValueError, match=match):
        paired_difference(a, b, **options)


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
