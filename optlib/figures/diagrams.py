"""The optimizer family tree of chapter 2: boxes coloured by the book's palette, labelled arrows."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from optlib.figures.style import COLORS, canonical_name


class TreeNode(NamedTuple):
    """A box in the family tree: its centre, its text and the palette key that colours it."""

    x: float
    y: float
    text: str
    palette_key: str | None = None


class TreeEdge(NamedTuple):
    """An arrow ``source -> target`` labelled with what the target borrows; dashed if a limit."""

    source: str
    target: str
    text: str = ""
    dashed: bool = False


def _node_colour(node: TreeNode) -> str:
    if node.palette_key is None:
        return "#BBBBBB"
    try:
        return COLORS[canonical_name(node.palette_key)]
    except KeyError:
        return "#BBBBBB"


def _box_exit(
    node: TreeNode, toward: TreeNode, box_width: float, box_height: float
) -> tuple[float, float]:
    """Where the segment from ``node``'s centre toward ``toward``'s centre leaves ``node``'s box."""
    dx, dy = toward.x - node.x, toward.y - node.y
    scales = [
        abs(box_width / 2 / dx) if dx else math.inf,
        abs(box_height / 2 / dy) if dy else math.inf,
    ]
    fraction = min(scales)
    return (node.x + fraction * dx, node.y + fraction * dy)


def draw_family_tree(
    ax: Axes,
    nodes: Mapping[str, TreeNode],
    edges: Sequence[TreeEdge],
    *,
    box_width: float = 1.6,
    box_height: float = 0.62,
    fontsize: float = 8.0,
) -> None:
    """Boxes (edged in each optimizer's book colour) joined by labelled arrows."""
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in nodes:
                raise ValueError(f"Invalid edge {edge}: no node called {end!r}")
    for node in nodes.values():
        ax.add_patch(
            FancyBboxPatch(
                (node.x - box_width / 2, node.y - box_height / 2),
                box_width,
                box_height,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                facecolor="white",
                edgecolor=_node_colour(node),
                linewidth=2.2,
                zorder=3,
            )
        )
        ax.text(node.x, node.y, node.text, ha="center", va="center", fontsize=fontsize, zorder=4)
    for edge in edges:
        source, target = nodes[edge.source], nodes[edge.target]
        tail = _box_exit(source, target, box_width, box_height)
        head = _box_exit(target, source, box_width, box_height)
        ax.add_patch(
            FancyArrowPatch(
                tail,
                head,
                arrowstyle="-|>",
                mutation_scale=12,
                color="0.35",
                linewidth=1.1,
                linestyle="--" if edge.dashed else "-",
                shrinkA=1,
                shrinkB=1,
                zorder=2,
            )
        )
        if edge.text:
            horizontal = abs(head[1] - tail[1]) < 1e-9
            ax.annotate(
                edge.text,
                ((tail[0] + head[0]) / 2, (tail[1] + head[1]) / 2),
                xytext=(0, 2 if horizontal else 0),
                textcoords="offset points",
                ha="center",
                va="bottom" if horizontal else "center",
                fontsize=fontsize - 1,
                style="italic",
                color="0.2",
                bbox=None
                if horizontal
                else {"facecolor": "white", "edgecolor": "none", "pad": 0.5},
                zorder=3,
            )
    xs = [node.x for node in nodes.values()]
    ys = [node.y for node in nodes.values()]
    ax.set_xlim(min(xs) - box_width / 2 - 0.1, max(xs) + box_width / 2 + 0.1)
    ax.set_ylim(min(ys) - box_height / 2 - 0.1, max(ys) + box_height / 2 + 0.1)
    ax.axis("off")
