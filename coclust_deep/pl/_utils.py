"""Shared parts of every ``pl`` function: the axes, the colour bar, scanpy's ``show=`` / ``save=``, their docs."""
from __future__ import annotations

from pathlib import Path

from .._docs import inject_docs

PLOT_DOC_PARTS = dict(
    doc_ax_show_save="""\
ax
    Axes to draw into; a new figure is made when ``None``. Colour bars sit in
    an inset beside ``ax`` (``ax.inset_axes``), so the axes keep their place
    and ``fig.tight_layout()`` or ``layout="constrained"`` lay them out.
show
    Show the figure (``plt.show()``) and return ``None``. ``None`` (default)
    follows ``scanpy.settings.autoshow``, as scanpy's plots do, when the
    function makes its own figure; with ``ax=`` the figure is yours, and is
    shown only with ``show=True``. ``show=False`` returns the Axes.
save
    ``True``, a suffix string (scanpy style: written to
    ``sc.settings.figdir / (name + suffix + sc.settings.plot_suffix)``, the
    format from the suffix's extension or ``sc.settings.file_format_figs``)
    or a ``pathlib.Path`` (the exact file). ``None`` follows
    ``scanpy.settings.autosave``. The path is logged as scanpy does
    (``saving figure to file ...``).""",
    doc_returns_axes="The matplotlib ``Axes``, or ``None`` when the figure is shown.",
)
"""Docstring parts every plot shares (``{doc_ax_show_save}``, ``{doc_returns_axes}``)."""

doc_plot = inject_docs(**PLOT_DOC_PARTS)
"""Decorator filling ``{doc_ax_show_save}`` and ``{doc_returns_axes}`` in a plot's docstring."""

_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "tif", "tiff")


def new_axes(ax, figsize):
    """``ax`` or a fresh figure's axes (never the pyplot current figure)."""
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def colorbar(ax, mappable, label):
    """A labelled colour bar in an inset right of ``ax``: the axes keep their place and size.

    ``figure.colorbar(ax=ax)`` would steal space from ``ax`` (and from it again
    on every call); an inset moves nothing, and ``tight_layout`` and
    constrained layout include it in ``ax``'s extent.
    """
    cax = ax.inset_axes([1.02, 0.0, 0.03, 1.0])
    bar = ax.figure.colorbar(mappable, cax=cax)
    bar.set_label(label)
    return bar


def finish(ax, name, show, save, *, made_figure=True):
    """Save and/or show the figure of ``ax`` as scanpy's ``savefig_or_show`` does.

    ``save=None`` follows ``sc.settings.autosave`` and ``show=None``
    ``sc.settings.autoshow`` when the plot made its own figure
    (``made_figure``; axes passed by the caller are shown only on request). ``save=True`` writes
    ``sc.settings.figdir / f"{name}{plot_suffix}.{file_format_figs}"``; a
    string is appended to ``name`` (``save="_pbmc.pdf"`` ->
    ``figures/<name>_pbmc.pdf``); a ``pathlib.Path`` is the exact file. The
    path is logged at scanpy's warning level (``saving figure to file ...``),
    as scanpy does. Returns ``None`` when shown, else ``ax``.
    """
    import matplotlib.pyplot as plt
    from scanpy import logging as logg
    from scanpy import settings

    save = settings.autosave if save is None else save
    show = (settings.autoshow and made_figure) if show is None else show
    if save:
        path = _save_path(name, save)
        path.parent.mkdir(parents=True, exist_ok=True)
        logg.warning(f"saving figure to file {path}")
        ax.figure.savefig(path, dpi=_dpi(), bbox_inches="tight")
    if show:
        plt.show()
        return None
    return ax


def _dpi():
    """scanpy's rule: ``rcParams["savefig.dpi"]`` unless it is below 150 (or ``"figure"``)."""
    from matplotlib import rcParams

    dpi = rcParams["savefig.dpi"]
    return dpi if not isinstance(dpi, str) and dpi >= 150 else 150


def _save_path(name, save):
    if isinstance(save, Path):
        return save
    from scanpy import settings

    suffix = "" if save is True else str(save)
    filename = f"{name}{suffix}"
    ext = Path(filename).suffix.lstrip(".")
    if ext in _FORMATS:
        filename = filename[: -len(ext) - 1]
    else:
        ext = settings.file_format_figs
    return Path(settings.figdir) / f"{filename}{settings.plot_suffix}.{ext}"
