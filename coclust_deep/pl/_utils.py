"""Shared parts of every ``pl`` function: the axes, scanpy's ``show=`` / ``save=``, their docs."""
from __future__ import annotations

from pathlib import Path

from .._docs import inject_docs

doc_plot = inject_docs(
    doc_ax_show_save="""\
ax
    Axes to draw into; a new figure is made when ``None``.
show
    ``True`` calls ``plt.show()`` and returns ``None``.
save
    ``True``, a suffix string (scanpy style, written under
    ``sc.settings.figdir``) or a ``pathlib.Path``.""",
    doc_returns_axes="The matplotlib ``Axes`` (``None`` when ``show=True``).",
)
"""Decorator filling ``{doc_ax_show_save}`` and ``{doc_returns_axes}`` in a plot's docstring."""


def new_axes(ax, figsize):
    """``ax`` or a fresh figure's axes (never the pyplot current figure)."""
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def finish(ax, name, show, save):
    """Save and/or show the figure of ``ax``; return ``ax`` unless shown.

    ``save=True`` writes ``sc.settings.figdir / f"{name}.{file_format_figs}"``;
    a string is appended to that name (``save="_pbmc.pdf"`` ->
    ``figures/<name>_pbmc.pdf``), as in scanpy; a ``pathlib.Path`` is used as
    the exact destination. ``show=True`` calls ``plt.show()`` and returns
    ``None``; the default ``show=None`` never shows and returns the Axes.
    """
    import matplotlib.pyplot as plt

    if save:
        path = _save_path(name, save)
        path.parent.mkdir(parents=True, exist_ok=True)
        ax.figure.savefig(path, dpi=150, bbox_inches="tight")
    if show:
        plt.show()
        return None
    return ax


def _save_path(name, save):
    if isinstance(save, Path):
        return save
    from scanpy import settings

    suffix = "" if save is True else str(save)
    fmt = settings.file_format_figs
    filename = f"{name}{suffix}"
    if Path(filename).suffix.lstrip(".") not in ("png", "pdf", "svg", "jpg", "jpeg", "eps", "tif", "tiff"):
        filename = f"{filename}.{fmt}"
    return Path(settings.figdir) / filename
