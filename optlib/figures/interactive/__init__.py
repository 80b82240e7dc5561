r"""Interactive figures for the HTML book: Plotly sliders over precomputed runs, no kernel.

A reader moves a slider and the curves change, in the built book, offline. Each figure is built
in two steps that the tests check separately:

1. the **data**, computed with optlib's pure rules when the chapter executes, over a small grid
   of slider values, lives with the runs it comes from: :func:`optlib.problems.landscape_paths`
   (chapter 2), :func:`optlib.book.ch03.forgetting_rates` (chapter 3) and
   :func:`optlib.training.results.lr_curves` (chapter 4: training runs, live from a chapter's
   tuning or stored in a results file);
2. a **figure** function (:mod:`.explorers`) draws every grid point as its own trace of a
   Plotly figure, kept as the plain dictionary that plotly.js reads, and wires the sliders to
   the traces (:mod:`.sliders`) in the book's look (:mod:`.style`).

:func:`show` (:mod:`.page`) puts a figure in a cell's output as HTML without plotly.js, with a
still PNG of its first view for print and for pages without plotly.js::

    from optlib.figures import interactive
    interactive.show(interactive.lr_study(curves, lr=0.1), alt="...")
"""

from optlib.figures.interactive.explorers import forgetting_explorer, landscape_explorer, lr_study
from optlib.figures.interactive.page import Interactive, show, still_png, to_html, to_json
from optlib.figures.interactive.sliders import (
    SLIDERS_JS,
    Figure,
    Slider,
    add_sliders,
    keyed,
    slider_index,
    visible_at,
)

__all__ = [
    "SLIDERS_JS",
    "Figure",
    "Interactive",
    "Slider",
    "add_sliders",
    "forgetting_explorer",
    "keyed",
    "landscape_explorer",
    "lr_study",
    "show",
    "slider_index",
    "still_png",
    "to_html",
    "to_json",
    "visible_at",
]
