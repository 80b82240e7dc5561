"""Sphinx extension: serve plotly.js from the built book itself, once per page that needs it.

The interactive figures (``optlib.figures.interactive``) leave plotly.js out of their HTML. This
extension copies the bundle that the installed ``plotly`` package ships into the book's
``_static`` folder and adds one ``<script>`` for it to the ``<head>`` of exactly the pages that
contain such a figure: no CDN (the book reads offline), no 4.8 MB on pages without figures.

The script loads before the page's other scripts (priority 100) and synchronously, so
``window.Plotly`` exists when a figure's inline script runs. Loading it before any require.js
(which myst-nb adds for ipywidgets) matters: with an AMD ``define`` present, plotly.js would
register as a module instead of setting ``window.Plotly``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import plotly

BUNDLE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
STATIC_NAME = f"plotly-{plotly.__version__}.min.js"  # a new version gets a new URL
MARKER = 'class="optlib-interactive"'  # what optlib.figures.interactive.to_html writes


def add_plotly_where_needed(app: Any, pagename: str, templatename: str, context: dict, doctree):
    if MARKER in context.get("body", ""):
        app.add_js_file(STATIC_NAME, priority=100)


def copy_bundle(app: Any, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(BUNDLE, static / STATIC_NAME)


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", add_plotly_where_needed)
    app.connect("build-finished", copy_bundle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
