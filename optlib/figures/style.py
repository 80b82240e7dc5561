"""One palette and one look for every figure in the book.

Each optimizer has one colour across the whole book (Okabe-Ito colour-blind-safe hues), so a reader
who learned "Adam is vermilion" in chapter 2 can read chapter 4's curves without the legend.
"""

from __future__ import annotations

import matplotlib as mpl

COLORS: dict[str, str] = {
    "sgd": "#555555",
    "momentum": "#009E73",
    "nesterov": "#56B4E9",
    "adagrad": "#0072B2",
    "rmsprop": "#E69F00",
    "adadelta": "#999933",
    "adam": "#D55E00",
    "amsgrad": "#882255",
    "adamw": "#CC79A7",
    "nelder-mead": "#117733",
    "cma-es": "#44AA99",
}

LABELS: dict[str, str] = {
    "sgd": "SGD",
    "momentum": "SGD + momentum",
    "nesterov": "SGD + Nesterov",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adadelta": "Adadelta",
    "adam": "Adam",
    "amsgrad": "AMSGrad",
    "adamw": "AdamW",
    "nelder-mead": "Nelder–Mead",
    "cma-es": "CMA-ES",
}

_ALIASES = {
    "sgdmomentum": "momentum",
    "heavyball": "momentum",
    "sgdnesterov": "nesterov",
    "nag": "nesterov",
    "adamamsgrad": "amsgrad",
    "neldermead": "nelder-mead",
    "cmaes": "cma-es",
}


def canonical_name(name: str) -> str:
    """The palette key for an optimizer name: ``"SGD + Momentum"`` -> ``"momentum"``."""
    key = name.strip().lower()
    if key in COLORS:
        return key
    squashed = "".join(ch for ch in key if ch.isalnum())
    key = _ALIASES.get(squashed, squashed)
    if key not in COLORS:
        raise KeyError(f"No colour for optimizer {name!r}; known: {', '.join(COLORS)}")
    return key


def color(name: str) -> str:
    """The book-wide colour of the optimizer called ``name``."""
    return COLORS[canonical_name(name)]


def label(name: str) -> str:
    """The display name of the optimizer called ``name`` (e.g. ``"adagrad"`` -> ``"Adagrad"``)."""
    return LABELS[canonical_name(name)]


def use_book_style() -> None:
    """The book's matplotlib look, and crisp (retina) figures when running in a notebook."""
    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 3.8),
            "figure.dpi": 100,
            "savefig.dpi": 200,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "font.size": 10,
        }
    )
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # pragma: no cover
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def animation_html(
    animation,
    *,
    fps: float | None = None,
    scale: float = 2.0,
    frame_format: str = "png",
    jpeg_quality: int = 60,
    default_mode: str = "once",
):
    """An animation as a self-contained HTML player that plays in the built book, offline.

    The player is matplotlib's ``HTMLWriter`` (every frame embedded, no kernel needed). Frames are
    rendered at ``scale`` times the figure's resolution and shown at its nominal size (crisp on
    high-density screens); ``frame_format="jpeg"`` keeps contour plots several times lighter than
    PNG. Matplotlib's link to an icon font on a CDN is dropped, so the page loads nothing from the
    network (the book's theme already ships the icons).
    """
    import re
    import tempfile
    from pathlib import Path

    from IPython.display import HTML
    from matplotlib.animation import HTMLWriter

    if frame_format not in ("png", "jpeg"):
        raise ValueError(f"Invalid frame_format: {frame_format!r} (expected 'png' or 'jpeg')")
    if not 1 <= jpeg_quality <= 95:
        raise ValueError(f"Invalid jpeg_quality: {jpeg_quality!r} (expected 1..95)")
    if not scale > 0:
        raise ValueError(f"Invalid scale: {scale!r} (expected > 0)")
    figure = animation._fig
    fps = fps if fps is not None else 1000.0 / animation._interval
    savefig_kwargs = {"pil_kwargs": {"quality": jpeg_quality}} if frame_format == "jpeg" else {}
    with (
        tempfile.TemporaryDirectory() as folder,
        mpl.rc_context({"animation.frame_format": frame_format, "animation.embed_limit": 20.0}),
    ):
        writer = HTMLWriter(fps=fps, embed_frames=True, default_mode=default_mode)
        path = Path(folder, "animation.html")
        animation.save(
            str(path), writer=writer, dpi=scale * figure.dpi, savefig_kwargs=savefig_kwargs
        )
        html = path.read_text()
    html = re.sub(r"<link rel=\"stylesheet\"[^>]*>", "", html, count=1)
    width = round(figure.get_figwidth() * figure.dpi)
    html = html.replace("<img id=", f'<img style="width:{width}px;max-width:100%" id=', 1)
    return HTML(html)
