"""The interactive figures (optlib.figures.interactive) and the data they show: what each slider
position shows is what optlib's rule drivers compute (problems.landscape_paths,
book.ch03.forgetting_rates, training.results.lr_curves), there is one slider step per grid value,
and the page gets valid Plotly JSON without plotly.js. The browser test
(tests/browser/test_browser_interactive.py) moves the sliders in the built book."""

from __future__ import annotations

import base64
import itertools
import json
import math
import re

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from optlib import figures, problems, training
from optlib.book import ch03
from optlib.figures import interactive
from optlib.figures.interactive import page, style
from optlib.training import DataSplits, RunRecord, sweep, training_loss_curve
from optlib.training.results import lr_curves

LRS, BETA1S, BETA2S = (0.05, 0.3), (0.0, 0.9), (0.9, 0.999)


@pytest.fixture(scope="module")
def grids() -> list[problems.PathGrid]:
    functions = problems.test_functions()
    return [
        problems.landscape_paths(functions[key], lrs=LRS, beta1s=BETA1S, beta2s=BETA2S, steps=25)
        for key in ("quadratic", "rosenbrock")
    ]


def shown(fig: interactive.Figure, positions: tuple[int, ...]) -> list[dict]:
    return [
        t for t, on in zip(fig["data"], interactive.visible_at(fig, positions), strict=True) if on
    ]


def decoded(values) -> np.ndarray:
    """A trace's array as plotly.js reads it from the page's JSON (base64 typed array)."""
    if isinstance(values, dict):
        array = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        return (
            array.reshape([int(n) for n in values["shape"].split(",")])
            if "shape" in values
            else array
        )
    return np.asarray(values, dtype=float)


def test_landscape_explorer_shows_the_driver_runs_at_every_slider_position(grids) -> None:
    fig = interactive.landscape_explorer(grids, lr=0.3)
    page = json.loads(interactive.to_json(fig))
    for i, j, k in itertools.product(range(len(LRS)), range(len(BETA1S)), range(len(BETA2S))):
        on = [
            t
            for t, v in zip(page["data"], interactive.visible_at(fig, (i, j, k)), strict=True)
            if v
        ]
        for grid, axis in zip(grids, ("x", "x2"), strict=True):
            paths = {t["name"]: t for t in on if t.get("xaxis", "x") == axis and "legendgroup" in t}
            assert set(paths) == {"Adam", "Adagrad"}, (i, j, k, axis, list(paths))
            adam = problems.run_on(
                grid.landscape, "adam", lr=LRS[i], steps=25, betas=(BETA1S[j], BETA2S[k])
            )
            adagrad = problems.run_on(grid.landscape, "adagrad", lr=LRS[i], steps=25)
            for name, run in (("Adam", adam), ("Adagrad", adagrad)):
                xy = np.stack([decoded(paths[name]["x"]), decoded(paths[name]["y"])], axis=1)
                np.testing.assert_allclose(xy, run.points, rtol=1e-6, atol=1e-6)


def test_landscape_explorer_has_one_slider_step_per_grid_value(grids) -> None:
    fig = interactive.landscape_explorer(grids, lr=0.3, beta1=0.0, beta2=0.9)
    sliders = fig["layout"]["sliders"]
    assert [len(s["steps"]) for s in sliders] == [len(LRS), len(BETA1S), len(BETA2S)]
    assert [s["steps"][1]["label"] for s in sliders] == ["0.3", "0.9", "0.999"]
    assert [s["active"] for s in sliders] == [1, 0, 0]
    assert all(step["method"] == "skip" for s in sliders for step in s["steps"])
    # The first view is the one the slider defaults name, and it is what the page starts with.
    assert [t["visible"] for t in fig["data"]] == interactive.visible_at(fig, (1, 0, 0))


def test_every_grid_needs_the_same_slider_values(grids) -> None:
    other = problems.landscape_paths(
        grids[0].landscape, lrs=(0.1,), beta1s=BETA1S, beta2s=BETA2S, steps=2
    )
    with pytest.raises(ValueError, match="same slider values"):
        interactive.landscape_explorer([grids[0], other], lr=0.3)
    with pytest.raises(ValueError, match="not one of the slider values"):
        interactive.landscape_explorer(grids, lr=0.1)


def test_forgetting_explorer_shows_the_rates_of_the_chosen_beta2_and_spike() -> None:
    grid = ch03.forgetting_rates(beta2s=(0.9, 0.99), spike_steps=(5, 50), steps=200)
    fig = interactive.forgetting_explorer(grid, beta2=0.99, spike_step=50)
    assert [s["active"] for s in fig["layout"]["sliders"]] == [1, 1]
    assert [len(s["steps"]) for s in fig["layout"]["sliders"]] == [2, 2]
    for k, j in itertools.product(range(2), range(2)):
        on = {t["legendgroup"]: t for t in shown(fig, (k, j))}
        assert sorted(on) == ["adagrad", "adam", "amsgrad"]
        steps = np.asarray(on["adam"]["x"], dtype=int)
        spike = (5, 50)[j]
        assert steps[0] == 1 and steps[-1] == 200 and {spike - 1, spike, spike + 1} <= set(steps)
        for name in ("adam", "amsgrad"):
            np.testing.assert_array_equal(on[name]["y"], grid.rates[name][k, j][steps - 1])
        np.testing.assert_array_equal(on["adagrad"]["y"], grid.rates["adagrad"][j][steps - 1])


def record(optimizer: str, lr: float, seed: int, losses, steps: int = 20) -> RunRecord:
    return RunRecord(
        optimizer=optimizer,
        seed=seed,
        lr=lr,
        task="test",
        batch_size=8,
        steps_per_epoch=10,
        epochs=2,
        steps=steps,
        train_loss=list(losses),
    )


@pytest.fixture
def runs() -> list[RunRecord]:
    rng = np.random.default_rng(0)
    made = []
    for (optimizer, lrs), seed in itertools.product(
        (("adam", (0.001, 0.01)), ("adagrad", (0.01, 0.1))), (0, 1)
    ):
        for lr in lrs:
            losses = 2.0 * np.exp(-np.arange(20) * lr * 10) + 0.1 * rng.random(20)
            made.append(record(optimizer, lr, seed, losses))
    made.append(record("adagrad", 1.0, 0, [2.0, math.nan], steps=2))  # diverged
    made.append(record("adam", 0.001, 2, losses[:7], steps=0))  # stopped mid-epoch: diverged
    made.append(record("adagrad", 0.1, 2, losses, steps=40))  # a file keeps the first losses
    return made


def test_lr_curves_average_the_seeds_of_each_optimizer_and_rate(runs) -> None:
    curves = lr_curves(runs, window=5)
    assert [(c.optimizer, c.lr, c.curve.n_runs) for c in curves] == [
        ("adagrad", 0.01, 2),
        ("adagrad", 0.1, 3),  # the record that kept only its first losses counts
        ("adagrad", 1.0, 0),
        ("adam", 0.001, 2),
        ("adam", 0.01, 2),
    ]
    group = [r for r in runs if r.optimizer == "adam" and r.lr == 0.01]
    np.testing.assert_array_equal(curves[4].curve.mean, training_loss_curve(group, 5).mean)
    # The same curves from a results file's dictionaries (RunRecord.to_dict, as stored).
    stored = lr_curves([json.loads(json.dumps(r.to_dict())) for r in runs], window=5)
    for live, saved in zip(curves, stored, strict=True):
        np.testing.assert_array_equal(live.curve.mean, saved.curve.mean)


def test_lr_study_slider_shows_every_optimizer_run_at_that_rate(runs) -> None:
    curves = lr_curves(runs, window=5)
    fig = interactive.lr_study(curves, lr=0.01, best_lrs={"adam": 0.01})
    (slider,) = fig["layout"]["sliders"]
    assert [step["label"] for step in slider["steps"]] == ["0.001", "0.01", "0.1", "1"]
    assert slider["active"] == 1
    for position, lr in enumerate((0.001, 0.01, 0.1, 1.0)):
        names = [t["name"] for t in shown(fig, (position,)) if "name" in t]
        expected = [c for c in curves if c.lr == lr]
        assert len(names) == len(expected), (lr, names)
    names = [t["name"] for t in shown(fig, (1,)) if "name" in t]
    assert names == ["Adagrad (2 seeds)", "Adam, its chosen lr (2 seeds)"]
    assert [t["name"] for t in shown(fig, (3,)) if "name" in t] == ["Adagrad: diverged"]


def test_figures_are_valid_plotly_and_the_html_carries_no_plotly_js(grids, runs) -> None:
    figures = [
        interactive.landscape_explorer(grids, lr=0.05),
        interactive.forgetting_explorer(
            ch03.forgetting_rates(beta2s=(0.999,), spike_steps=(2,), steps=10)
        ),
        interactive.lr_study(lr_curves(runs, window=5)),
    ]
    for fig in figures:
        page = json.loads(interactive.to_json(fig))
        go.Figure(page)  # raises on any property plotly.js does not know
        for trace, original in zip(page["data"], fig["data"], strict=True):
            for key in ("x", "y", "z"):
                if isinstance(original.get(key), np.ndarray):
                    np.testing.assert_array_equal(
                        decoded(trace[key]), original[key].astype(np.float32)
                    )
        html = interactive.to_html(fig, alt="a figure")
        text = re.sub(r'"bdata":"[^"]*"|base64,[^"]*"', "", html)  # the data, not the markup
        assert "<script src" not in text and "://" not in text, "loads something from elsewhere"
        assert html.count("Plotly.newPlot(") == 1 and "plotly_sliderchange" in html
        png = base64.b64decode(html.split('src="data:image/png;base64,')[1].split('"')[0])
        assert png.startswith(b"\x89PNG")
        assert 'alt="a figure"' in html


def test_keyed_and_slider_index_validate() -> None:
    assert interactive.keyed({}, None, 1)["meta"] == {"slider": {"1": 1}}
    assert interactive.slider_index((0.1, 0.316), 0.316) == 1
    with pytest.raises(ValueError, match="0.2"):
        interactive.slider_index((0.1, 0.316), 0.2)


def test_chapter_4_tunes_from_the_runs_it_keeps_as_tune_lr_does() -> None:
    """Chapter 4 keeps its tuning sweep for the learning-rate study (training.sweep_tuning), so the
    figure shows the very runs the tuning scored."""
    generator = torch.Generator().manual_seed(0)
    teacher = torch.randn(20, 3, generator=generator)

    def draw(n):
        x = torch.randn(n, 20, generator=generator)
        return x, (x @ teacher + torch.randn(n, 3, generator=generator)).argmax(dim=1)

    task = training.Task("tiny", DataSplits(*draw(150), *draw(60), *draw(60)), "logreg", 20, 3, 0.0)
    lrs, seeds = (1e-3, 0.03, 1.0, 1e38), (0, 1)  # 1e38: the logits overflow
    kept = sweep.sweep(
        task,
        "adagrad",
        lrs,
        seeds,
        epochs=2,
        batch_size=32,
        eval_every_epoch=False,
        evaluate_test=False,
    )
    tuned = training.tune_lr("adagrad", task, lrs, seeds, epochs=2, batch_size=32, stacked=True)
    assert training.sweep_tuning(kept, "adagrad").to_dict() == tuned.to_dict()
    curves = lr_curves(kept.records)
    assert [(c.lr, c.curve.n_runs) for c in curves] == [(lr, 0 if lr > 1 else 2) for lr in lrs]


def test_every_optimizer_keeps_its_book_colour_marker_and_dash() -> None:
    for name, look in figures.STYLES.items():
        line = style.line(name)
        go.Scatter(line=line["line"], marker=line["marker"])  # raises on a symbol/dash Plotly lacks
        assert line["line"]["color"] == look.color
        dash = page._mpl_dash(line["line"]["dash"])  # what the still image draws
        assert dash == (look.dash if isinstance(look.dash, str) else (0, tuple(look.dash[1])))


def test_lr_curves_of_a_results_file_use_its_per_epoch_means(runs) -> None:
    stored = []
    for run in runs:  # the full-budget suites keep the first losses and one mean per epoch
        data = run.to_dict()
        data["train_loss_epoch_mean"] = [float(np.mean(run.train_loss[:10])), 0.5]
        stored.append(data)
    curves = {(c.optimizer, c.lr): c.curve for c in lr_curves(stored)}
    adam = [r for r in runs if r.optimizer == "adam" and r.lr == 0.01]
    np.testing.assert_array_equal(curves["adam", 0.01].x, [0.5, 1.5])
    np.testing.assert_allclose(
        curves["adam", 0.01].mean, [np.mean([np.mean(r.train_loss[:10]) for r in adam]), 0.5]
    )
    assert curves["adagrad", 1.0].n_runs == 0  # diverged runs stay out
