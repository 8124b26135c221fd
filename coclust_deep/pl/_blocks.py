"""``pl.blocks`` (the matrix reordered by co-clusters) and ``pl.block_means``."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..tl._utils import UNASSIGNED, check_adata, get_fitted_matrix
from ._utils import doc_plot, finish, new_axes


def _result(adata, key):
    check_adata(adata)
    if key not in adata.obs.columns or key not in adata.var.columns:
        raise KeyError(
            f"no co-clustering result {key!r} in obs/var; run coclust_deep.tl.lbm(adata, ..., "
            f"key_added={key!r}) (or tl.cocluster) first, or pass key= naming an existing result."
        )
    return adata.obs[key], adata.var[key]


def _ordered_sample(codes, max_items, rng):
    """Positions sorted by cluster, at most ``max_items`` of them, every cluster kept.

    Each cluster keeps a share of ``max_items`` proportional to its size
    (at least one item), drawn without replacement and kept in input order.
    """
    codes = np.asarray(codes)
    clusters = np.unique(codes)
    n = codes.size
    picked = []
    for c in clusters:
        members = np.flatnonzero(codes == c)
        if n > max_items:
            keep = max(1, int(round(members.size * max_items / n)))
            members = np.sort(rng.choice(members, size=min(keep, members.size), replace=False))
        picked.append(members)
    sizes = np.array([p.size for p in picked])
    return np.concatenate(picked), clusters, sizes


@doc_plot
def blocks(
    adata,
    key="lbm",
    *,
    layer=None,
    use_raw=None,
    max_rows=1000,
    max_cols=2000,
    cmap="viridis",
    vmin=None,
    vmax=None,
    log=False,
    line_color="white",
    random_state=0,
    ax=None,
    show=None,
    save=None,
):
    """Heatmap of the data matrix with cells and genes reordered by their co-clusters.

    Rows are grouped by ``obs[key]`` and columns by ``var[key]`` (genes
    ``"unassigned"`` by ``mask_var`` are left out); lines mark block
    boundaries. Large matrices are subsampled for display, keeping every
    cluster and its relative size; sparse X is sliced before densifying, so
    only the displayed submatrix is ever dense.

    Parameters
    ----------
    adata
        Annotated data matrix holding a result of ``tl.lbm``/``tl.cocluster``.
    key
        The result's ``key_added``.
    layer, use_raw
        The matrix to draw; ``None`` uses the one the result was fitted on
        (from ``uns[key]["params"]``).
    max_rows, max_cols
        At most this many cells and genes are drawn.
    cmap, vmin, vmax
        Colour map and limits; the limits default to the 1st and 99th
        percentiles of the displayed values.
    log
        Display ``log1p`` of the values (for counts).
    line_color
        Colour of the block boundaries.
    random_state
        Seed of the display subsample.
    {doc_ax_show_save}

    Returns
    -------
    {doc_returns_axes}

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import scanpy as sc
    >>> from coclust_deep import tl, pl
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> tl.lbm(adata, 4, 3, use_raw=True, family="poisson", poisson_effects=True, n_init=2)
    >>> ax = pl.blocks(adata, key="lbm")
    """
    row_labels, col_labels = _result(adata, key)
    data = get_fitted_matrix(adata, key, layer=layer, use_raw=use_raw)
    rng = np.random.default_rng(random_state)
    row_order, row_clusters, row_sizes = _ordered_sample(row_labels.cat.codes.to_numpy(), max_rows, rng)
    col_codes = col_labels.cat.codes.to_numpy()[data.genes]
    col_pick, col_clusters, col_sizes = _ordered_sample(col_codes, max_cols, rng)
    col_order = data.columns[col_pick]
    X = data.X
    sub = X[row_order][:, col_order] if sp.issparse(X) else np.asarray(X)[np.ix_(row_order, col_order)]
    sub = sub.toarray() if sp.issparse(sub) else np.asarray(sub)
    if log:
        if sub.min() < 0:
            raise ValueError("log=True needs non-negative values; use log=False for centred or scaled data.")
        sub = np.log1p(sub)
    if vmin is None:
        vmin = float(np.percentile(sub, 1))
    if vmax is None:
        vmax = float(np.percentile(sub, 99))
    if vmax <= vmin:
        vmax = vmin + 1.0

    ax = new_axes(ax, (7, 6))
    image = ax.imshow(sub, aspect="auto", interpolation="nearest", cmap=cmap, vmin=vmin, vmax=vmax)
    for edge in np.cumsum(row_sizes)[:-1]:
        ax.axhline(edge - 0.5, color=line_color, linewidth=0.8)
    for edge in np.cumsum(col_sizes)[:-1]:
        ax.axvline(edge - 0.5, color=line_color, linewidth=0.8)
    row_names = row_labels.cat.categories[row_clusters]
    col_names = col_labels.cat.categories[col_clusters]
    ax.set_yticks(np.cumsum(row_sizes) - row_sizes / 2 - 0.5, labels=list(row_names))
    ax.set_xticks(np.cumsum(col_sizes) - col_sizes / 2 - 0.5, labels=list(col_names))
    ax.set_ylabel(f"cells by obs[{key!r}] ({row_order.size} of {adata.n_obs} shown)")
    ax.set_xlabel(f"genes by var[{key!r}] ({col_order.size} of {data.genes.size} shown)")
    ax.set_title(f"{key}: matrix reordered by co-clusters ({'log1p ' if log else ''}{data.source})")
    ax.figure.colorbar(image, ax=ax, fraction=0.04)
    return finish(ax, "blocks", show, save)


@doc_plot
def block_means(
    adata, key="lbm", *, cmap="magma", annotate=True, log=False, ax=None, show=None, save=None
):
    """Heatmap of the fitted block means (cell clusters x gene clusters).

    Parameters
    ----------
    adata
        Annotated data matrix holding a result of ``tl.lbm``/``tl.select_lbm``
        (``uns[key]["block_means"]``; for other results the means are computed
        from ``X`` and the partitions).
    key
        The result's ``key_added``.
    cmap
        Colour map.
    annotate
        Write each mean in its cell (skipped above 400 blocks).
    log
        Colour by ``log10`` of the means (for Poisson rates spanning decades).
    {doc_ax_show_save}

    Returns
    -------
    {doc_returns_axes}
    """
    row_labels, col_labels = _result(adata, key)
    row_names = list(row_labels.cat.categories)
    col_names = [c for c in col_labels.cat.categories if c != UNASSIGNED]
    row_counts = row_labels.value_counts().reindex(row_names).to_numpy()
    col_counts = col_labels.value_counts().reindex(col_names).to_numpy()
    means = adata.uns.get(key, {}).get("block_means")
    if means is None:
        means = _means_from_data(adata, key, row_labels, col_labels)
    else:
        # uns means are indexed by cluster number; a cluster the fit left
        # empty has a row/column of means but no category.
        means = np.asarray(means, dtype=np.float64)
        try:
            means = means[np.ix_([int(c) for c in row_names], [int(c) for c in col_names])]
        except (ValueError, IndexError):
            raise ValueError(
                f"uns[{key!r}]['block_means'] (shape {means.shape}) does not match the clusters in "
                f"obs/var[{key!r}]; rerun the tool to refresh the result."
            ) from None
    means = np.asarray(means, dtype=np.float64)
    shown = np.log10(np.maximum(means, 1e-12)) if log else means
    ax = new_axes(ax, (1.2 + 0.45 * means.shape[1], 1.0 + 0.4 * means.shape[0]))
    image = ax.imshow(shown, aspect="auto", interpolation="nearest", cmap=cmap)
    if annotate and means.size <= 400:
        middle = (np.nanmax(shown) + np.nanmin(shown)) / 2
        for (i, j), value in np.ndenumerate(means):
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=7,
                    color="black" if shown[i, j] > middle else "white")
    ax.set_yticks(np.arange(means.shape[0]),
                  labels=[f"{c} ({n})" for c, n in zip(row_names, row_counts)])
    ax.set_xticks(np.arange(means.shape[1]), labels=[f"{c} ({n})" for c, n in zip(col_names, col_counts)],
                  rotation=90)
    ax.set_ylabel(f"cell cluster (obs[{key!r}], size)")
    ax.set_xlabel(f"gene cluster (var[{key!r}], size)")
    ax.set_title(f"{key}: block means" + (" (log10)" if log else ""))
    ax.figure.colorbar(image, ax=ax, fraction=0.05)
    return finish(ax, "block_means", show, save)


def _means_from_data(adata, key, row_labels, col_labels):
    """Block means of the fitted matrix from hard partitions (results without uns means)."""
    data = get_fitted_matrix(adata, key)
    X = data.X[:, data.columns]
    R = sp.csr_matrix((np.ones(adata.n_obs), (row_labels.cat.codes.to_numpy(), np.arange(adata.n_obs))))
    codes = col_labels.cat.codes.to_numpy()[data.genes]
    C = sp.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)))
    sums = np.asarray((R @ X @ C).todense() if sp.issparse(X) else R @ np.asarray(X) @ C)
    sizes = np.outer(np.asarray(R.sum(axis=1)).ravel(), np.asarray(C.sum(axis=0)).ravel())
    return sums / np.maximum(sizes, 1)
