"""One look for the book: a colour, a marker and a dash per optimizer; readable text; one table
helper; the suites' table and figures; and no matplotlib for code that does not draw."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from optlib import figures
from optlib.figures.suites import (
    plot_final_accuracy,
    plot_suite_differences,
    plot_val_loss_curves,
    suite_table,
)
from optlib.training.report import suite_report

PLAIN = [
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "adagrad-decayed",
    "adagrad-optax",
    "adagrad-d2l",
    "rmsprop",
    "adadelta",
    "adam",
    "amsgrad",
    "adamw",
    "nelder-mead",
    "cma-es",
]


@pytest.mark.parametrize("part", ["color", "marker", "dash", "label"])
def test_every_optimizer_is_drawn_distinctly(part):
    values = [getattr(figures.style(name), part) for name in PLAIN]
    assert len(set(values)) == len(values), values


def test_protocol_labels_take_their_optimizers_colour():
    assert figures.style("adam-decayed").color == figures.color("adam")
    assert figures.style("nesterov-decayed").color == figures.color("nesterov")
    assert figures.style("adagrad-constant") == figures.style("adagrad")._replace(
        label="Adagrad, constant α"
    )


def test_line_style_draws_with_the_palette():
    figure, axes = plt.subplots()
    (line,) = axes.plot([0, 1, 2], [1, 0, 2], **figures.line_style("adagrad"))
    plt.close(figure)
    assert (line.get_color(), line.get_marker(), line.get_label()) == (
        figures.color("adagrad"),
        "D",
        "Adagrad",
    )


def test_line_style_overrides_win_over_the_palette():
    drawn = figures.line_style("adam", markevery=10, markersize=3, label="Adam, lr 0.1")
    assert (drawn["markevery"], drawn["markersize"], drawn["label"]) == (10, 3, "Adam, lr 0.1")
    assert (drawn["color"], drawn["marker"]) == (figures.color("adam"), "X")


def test_book_style_keeps_tick_labels_at_least_9_pt():
    with matplotlib.rc_context():
        figures.use_book_style()
        figure, axes = plt.subplots()
        axes.plot([0, 1], [0, 1], label="x")
        axes.legend()
        figure.canvas.draw()
        sizes = [t.get_fontsize() for t in axes.get_xticklabels() + axes.get_yticklabels()]
        sizes += [t.get_fontsize() for t in axes.get_legend().get_texts()]
        plt.close(figure)
    assert min(sizes) >= 9
    assert figures.BOOK_RC["figure.figsize"][0] <= 6.5  # about the text column: shown unscaled


def test_table_is_markdown_html_and_text():
    shown = figures.table([("a", 1.5), ("b<", "x")], headers=["name", "value"])
    assert str(shown).splitlines()[1] == "|:-------|--------:|"
    assert "b&lt;" in shown._repr_html_()
    assert shown.to_text().splitlines()[0].split() == ["name", "value"]


def test_importing_the_optimizers_does_not_load_matplotlib():
    code = (
        "import sys, optlib, optlib.optim, optlib.rules, optlib.training;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Adam", "adam"),
        ("SGD + momentum", "momentum"),
        ("sgd-nesterov", "nesterov"),
        ("Nelder–Mead", "nelder-mead"),
        ("CMA-ES", "cma-es"),
        (" adagrad ", "adagrad"),
    ],
)
def test_names_map_to_one_palette_key(name, key):
    assert figures.canonical_name(name) == key
    assert figures.color(name) == figures.COLORS[key]


def test_unknown_optimizer_is_named_in_the_error():
    with pytest.raises(KeyError, match="lion"):
        figures.color("lion")


def test_suite_table_and_figures_show_what_the_report_says():
    from test_report import report_runs

    runs = report_runs()
    rows = suite_report(runs, reference="adam", target=0.35)
    shown = suite_table(rows, target=0.35)
    assert shown.headers[-2:] == ("steps to val. loss 0.35", "seconds to val. loss 0.35")
    adam, sgd = shown.rows
    assert adam[3] == "91.00 ± 1.00" and adam[4] == "(reference)" and adam[-2] == "20 ± 0"
    assert sgd[2] == "2; 1 of 3 diverged (left out)"
    assert sgd[4].startswith("-5.00 [") and sgd[-1] == "not reached"
    fig, axes = plt.subplots(1, 3)
    plot_final_accuracy(axes[0], runs)
    plot_suite_differences(axes[1], rows)
    plot_val_loss_curves(axes[2], runs, target=0.35)
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["SGD"]
    assert len(axes[2].get_lines()) == 3  # adam, sgd (diverged run left out), target
    fig.canvas.draw()
    epochs = [float(t.get_text()) for t in axes[2].get_xticklabels() if t.get_text()]
    assert epochs and all(epoch.is_integer() for epoch in epochs)
    plt.close(fig)
    with pytest.raises(ValueError, match="Invalid metric"):
        plot_suite_differences(axes[1], rows, metric="speed")
