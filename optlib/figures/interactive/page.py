"""Into the page: a figure as HTML without plotly.js, and a still image of its first view.

:func:`show` puts a figure in a cell's output as HTML *without* plotly.js: the book serves one
copy of the bundle from its own ``_static`` folder on the pages that need it
(``_ext/plotly_offline.py``). Beside each figure goes a still PNG of its first view
(:func:`still_png`, drawn with matplotlib), shown in print and wherever plotly.js is missing (a
notebook opened outside the book).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from typing import Any, NamedTuple

import numpy as np

from optlib.figures.interactive.sliders import SLIDERS_JS, Figure, visible_at
from optlib.figures.interactive.style import DASHES, LINE_WIDTH, MARKERS


def to_json(fig: Figure) -> str:
    """The figure as JSON for plotly.js; NumPy arrays become base64 float32 typed arrays (a
    third of the bytes of printed decimals, precision far below a pixel; NaN stays a gap)."""

    def encode(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            data = np.ascontiguousarray(value, dtype="<f4")
            spec = {"dtype": "f4", "bdata": base64.b64encode(data.tobytes()).decode("ascii")}
            return {**spec, "shape": ",".join(map(str, data.shape))} if data.ndim > 1 else spec
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"Invalid figure value: {type(value).__name__} is not JSON")

    return json.dumps(fig, default=encode, separators=(",", ":"), ensure_ascii=False)


_CSS = (
    ".optlib-interactive .optlib-still{display:none;max-width:100%}"
    ".optlib-interactive.optlib-no-js .optlib-still{display:block}"
    ".optlib-interactive.optlib-no-js .plotly-graph-div{display:none}"
    "@media print{.optlib-interactive .optlib-still{display:block}"
    ".optlib-interactive .plotly-graph-div{display:none}}"
)


def to_html(fig: Figure, *, alt: str) -> str:
    """The figure as an HTML fragment: a div that plotly.js (loaded by the page, not embedded
    here) draws and wires to its sliders, and a still PNG with ``alt`` text, shown in print or
    when the page has no plotly.js."""
    spec = to_json(fig)
    plot_id = "optlib-" + hashlib.sha256(spec.encode()).hexdigest()[:12]
    still = base64.b64encode(still_png(fig)).decode("ascii")
    height = int(fig["layout"].get("height", 450))
    config = json.dumps({"responsive": True, "displayModeBar": False})
    return (
        f'<div class="optlib-interactive" id="{plot_id}-box"><style>{_CSS}</style>'
        f'<div id="{plot_id}" class="plotly-graph-div" style="height:{height}px;width:100%">'
        f'</div><img class="optlib-still" alt="{html.escape(alt)}" '
        f'src="data:image/png;base64,{still}"><script>(function () {{{SLIDERS_JS}'
        f'var box = document.getElementById("{plot_id}-box");'
        f'if (!window.Plotly) {{ box.classList.add("optlib-no-js"); return; }}'
        f"var spec = {spec};"
        f'Plotly.newPlot("{plot_id}", spec.data, spec.layout, {config})'
        f".then(optlibConnectSliders);}})();</script></div>"
    )


class Interactive(NamedTuple):
    """A figure as a cell's output: Jupyter and myst-nb render its HTML (:func:`to_html`)."""

    html: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<interactive figure, {len(self.html):,} bytes of HTML>"


def show(fig: Figure, *, alt: str) -> Interactive:
    """Display ``fig`` as a cell's output (end the cell with ``show(fig, alt=...)``)."""
    return Interactive(to_html(fig, alt=alt))


# The still image: the figure's first view, drawn with matplotlib.
_MPL_DASH = {name: dash for dash, name in DASHES.items()}
_MPL_MARKER = {symbol: marker for marker, symbol in MARKERS.items()}


def _mpl_dash(dash: str) -> str | tuple[float, tuple[float, ...]]:
    """:func:`plotly_dash` undone, for the still image."""
    if dash in _MPL_DASH:
        return _MPL_DASH[dash]
    return (0, tuple(float(length.removesuffix("px")) / LINE_WIDTH for length in dash.split(",")))


def still_png(fig: Figure, *, width_in: float = 7.0, dpi: int = 100) -> bytes:
    """A PNG of the traces the figure shows first (:func:`visible_at`), with its panel titles,
    axis titles, ranges and log scales: one matplotlib panel per Plotly x axis."""
    from matplotlib.figure import Figure as MplFigure

    layout = fig["layout"]
    shown = [t for t, on in zip(fig["data"], visible_at(fig), strict=True) if on]
    axis_names = sorted({t.get("xaxis", "x") for t in fig["data"]}, key=lambda a: int(a[1:] or 1))
    still = MplFigure(figsize=(width_in, width_in * layout.get("height", 450) / 900))
    axes = still.subplots(1, len(axis_names), squeeze=False)[0]
    titles = [a["text"] for a in layout.get("annotations", ())]
    for n, (ax, name) in enumerate(zip(axes, axis_names, strict=True)):
        for trace in shown:
            if trace.get("xaxis", "x") == name:
                _draw(ax, trace)
        for which, axis in (
            ("x", layout.get(f"xaxis{name[1:]}", {})),
            ("y", layout.get(f"yaxis{name[1:]}", {})),
        ):
            log = axis.get("type") == "log"
            getattr(ax, f"set_{which}scale")("log" if log else "linear")
            getattr(ax, f"set_{which}label")(axis.get("title", {}).get("text", ""))
            if "range" in axis:
                getattr(ax, f"set_{which}lim")(*(10.0**v if log else v for v in axis["range"]))
        if len(titles) == len(axis_names):
            ax.set_title(titles[n], fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        still.legend(
            handles,
            labels,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.82),
            ncol=min(3, len(labels)),
            frameon=False,
        )
    still.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.8, wspace=0.25)
    buffer = io.BytesIO()
    still.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")  # the legend stays whole
    return buffer.getvalue()


def _draw(ax: Any, trace: dict[str, Any]) -> None:
    if trace["type"] == "contour":
        contours = trace["contours"]
        levels = np.arange(contours["start"], contours["end"] + 1e-9, contours["size"])
        ax.contour(trace["x"], trace["y"], trace["z"], levels=levels, colors="0.8", linewidths=0.6)
        return
    x, y = np.asarray(trace["x"], dtype=float), np.asarray(trace["y"], dtype=float)
    if trace.get("fill") == "toself":
        ax.fill(x, y, color=trace["fillcolor"], alpha=trace.get("opacity", 0.2), linewidth=0)
        return
    mode, line, marker = trace.get("mode", "lines"), trace.get("line", {}), trace.get("marker", {})
    ax.plot(
        x,
        y,
        color=line.get("color", marker.get("color")),
        linestyle=_mpl_dash(line.get("dash", "solid")) if "lines" in mode else "none",
        marker=_MPL_MARKER.get(marker.get("symbol"), "o") if "markers" in mode else None,
        markersize=marker.get("size", 6) * 0.8,
        label=trace.get("name") if trace.get("showlegend", True) else None,
    )
