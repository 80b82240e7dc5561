"""Every figure and table of the book, in one look.

* :mod:`~optlib.figures.style` -- the palette: each optimizer's colour, marker, dash and display
  name (:func:`style`, :func:`line_style`), and :func:`use_book_style`;
* :mod:`~optlib.figures.tables` -- the one table helper, :func:`table` (and :func:`summary_table`);
* :mod:`~optlib.figures.landscapes` -- contours, trajectories, loss gaps;
* :mod:`~optlib.figures.interactive` -- Plotly figures with sliders, offline (chapters 2-4);
* :mod:`~optlib.figures.runs` -- training curves, learning-rate sensitivity, paired accuracies;
* :mod:`~optlib.figures.diagrams` -- the optimizer family tree.

Every public name is importable from here: ``from optlib.figures import color, table``.
"""

from optlib.figures.diagrams import TreeEdge, TreeNode, draw_family_tree
from optlib.figures.landscapes import (
    plot_gaps,
    plot_landscape,
    plot_trajectories,
)
from optlib.figures.runs import (
    plot_loss_curves,
    plot_lr_sensitivity,
    plot_paired_accuracy,
    plot_runs,
)
from optlib.figures.style import (
    BOOK_RC,
    COLORS,
    LABELS,
    STYLES,
    Style,
    canonical_name,
    color,
    label,
    line_style,
    style,
    use_book_style,
)
from optlib.figures.tables import Table, summary_table, table

__all__ = [
    "BOOK_RC",
    "COLORS",
    "LABELS",
    "STYLES",
    "Style",
    "Table",
    "TreeEdge",
    "TreeNode",
    "canonical_name",
    "color",
    "draw_family_tree",
    "label",
    "line_style",
    "plot_gaps",
    "plot_landscape",
    "plot_loss_curves",
    "plot_lr_sensitivity",
    "plot_paired_accuracy",
    "plot_runs",
    "plot_trajectories",
    "style",
    "summary_table",
    "table",
    "use_book_style",
]
