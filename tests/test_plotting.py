"""One palette for the book, and animations that play offline."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from matplotlib.animation import FuncAnimation

from optlib import plotting


def test_every_optimizer_has_a_distinct_colour_and_label():
    assert len(set(plotting.COLORS.values())) == len(plotting.COLORS)
    assert set(plotting.LABELS) == set(plotting.COLORS)


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
    assert plotting.canonical_name(name) == key
    assert plotting.color(name) == plotting.COLORS[key]


def test_unknown_optimizer_is_named_in_the_error():
    with pytest.raises(KeyError, match="lion"):
        plotting.color("lion")


def test_animation_html_is_offline_and_crisp():
    figure, axes = plt.subplots(figsize=(3, 2), dpi=100)
    (line,) = axes.plot([0, 1], [0, 1])
    animation = FuncAnimation(figure, lambda i: line.set_ydata([0, i]), frames=3)
    html = plotting.animation_html(animation).data
    plt.close(figure)
    assert "https://" not in html and "http://" not in html
    assert html.count("data:image/png;base64") == 3
    assert 'style="width:300px;max-width:100%"' in html
