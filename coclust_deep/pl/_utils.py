"""Shared ending of every ``pl`` function: scanpy's ``show=`` / ``save=``."""
from __future__ import annotations

from pathlib import Path


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
