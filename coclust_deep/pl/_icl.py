"""``pl.icl``: the ICL of latent block models over the (g, m) grid."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._utils import colorbar, doc_plot, finish, new_axes


def _as_table(table, key):
    from anndata import AnnData

    if isinstance(table, AnnData):
        entry = table.uns.get(key, {})
        if "icl_table" not in entry:
            raise KeyError(
                f"uns[{key!r}] has no 'icl_table'; run coclust_deep.tl.select_lbm(adata, key_added={key!r}) "
                "first, or pass the table returned by coclust_deep.select_lbm."
            )
        table = entry["icl_table"]
    if isinstance(table, dict):
        table = pd.DataFrame({k: np.asarray(v) for k, v in table.items()})
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            "table must be the DataFrame returned by coclust_deep.select_lbm, its dict form, "
            f"or an AnnData after tl.select_lbm; got {type(table).__name__}."
        )
    missing = {"n_row_clusters", "n_col_clusters", "icl"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks the column(s) {sorted(missing)}; pass select_lbm's table.")
    if len(table) == 0:
        raise ValueError("table is empty; fit at least one model.")
    return table


@doc_plot
def icl(table, *, key="lbm", cmap="viridis", annotate=True, ax=None, show=None, save=None):
    """Heatmap of ICL over the numbers of cell (g) and gene (m) clusters.

    The best model is outlined. Cells of the grid that were not fitted
    (``search="greedy"``) stay blank.

    Parameters
    ----------
    table
        The table returned by :func:`coclust_deep.select_lbm`, its dict form
        ``adata.uns[key]["icl_table"]``, or an AnnData after
        :func:`coclust_deep.tl.select_lbm`.
    key
        Result key when ``table`` is an AnnData.
    cmap
        Colour map.
    annotate
        Write ``ICL - best ICL`` in each cell (skipped above 400 cells).
    {doc_ax_show_save}

    Returns
    -------
    {doc_returns_axes}

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from coclust_deep import select_lbm, pl
    >>> from coclust_deep.datasets import make_lbm
    >>> X, _, _ = make_lbm(120, 60, 3, 2, family="poisson", random_state=0)
    >>> best, table = select_lbm(X, [2, 3, 4], [1, 2, 3], n_init=2, random_state=0)
    >>> ax = pl.icl(table, show=False)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('gene clusters m', 'cell clusters g')
    """
    from matplotlib.patches import Rectangle

    table = _as_table(table, key)
    grid = table.pivot_table(index="n_row_clusters", columns="n_col_clusters", values="icl", aggfunc="max")
    values = grid.to_numpy(dtype=np.float64)
    best = np.unravel_index(np.nanargmax(values), values.shape)
    made_figure = ax is None
    ax = new_axes(ax, (1.5 + 0.7 * values.shape[1], 1.2 + 0.5 * values.shape[0]))
    image = ax.imshow(np.ma.masked_invalid(values), origin="lower", aspect="auto", cmap=cmap)
    if annotate and values.size <= 400:
        top = values[best]
        middle = (np.nanmax(values) + np.nanmin(values)) / 2  # dark text on the bright half of the map
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                ax.text(j, i, f"{value - top:.0f}", ha="center", va="center", fontsize=7,
                        color="black" if value > middle else "white")
    ax.add_patch(Rectangle((best[1] - 0.5, best[0] - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
    ax.set_xticks(np.arange(values.shape[1]), labels=[str(c) for c in grid.columns])
    ax.set_yticks(np.arange(values.shape[0]), labels=[str(r) for r in grid.index])
    ax.set_xlabel("gene clusters m")
    ax.set_ylabel("cell clusters g")
    ax.set_title(f"ICL (best: g={grid.index[best[0]]}, m={grid.columns[best[1]]})")
    colorbar(ax, image, "ICL")
    return finish(ax, "icl", show, save, made_figure=made_figure)
