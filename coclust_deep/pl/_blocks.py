"""``pl.blocks`` (the matrix reordered by co-clusters) and ``pl.block_means``."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._blocks import block_means as hard_block_means
from .._docs import inject_docs
from .._validation import NONE, Interval, check_param, check_seed
from ..tl._skeleton import require_coclustering
from ..tl._utils import UNASSIGNED, check_adata, get_fitted_matrix
from ._utils import PLOT_DOC_PARTS, colorbar, finish, new_axes

doc_blocks = inject_docs(**PLOT_DOC_PARTS, doc_annotations="""\
cell_names
    An ``obs`` column (cell types, samples, ...): each cell cluster's label
    gets the column's most common value among its cells and that value's
    share, e.g. ``"0 CD14+ Monocyte (92%)"``.
top_genes
    Add the first ``top_genes`` genes of each gene module to its label (the
    ranking of :func:`coclust_deep.tl.gene_modules`: ``uns[key]["gene_modules"]``
    when present, else computed on the fly without writing into ``adata``).
hide_gene_clusters
    Gene clusters to leave out: a list of names, or ``"largest"`` for the
    largest one (often a big background module of weakly varying genes).""")


def _result(adata, key, caller="pl.blocks"):
    check_adata(adata)
    require_coclustering(adata, key, caller)
    return adata.obs[key], adata.var[key]


def _hidden(col_labels, hide_gene_clusters):
    """The gene-cluster names to leave out (``"largest"`` resolved)."""
    if hide_gene_clusters is None:
        return set()
    names = [c for c in col_labels.cat.categories if c != UNASSIGNED]
    sizes = col_labels.value_counts()
    if isinstance(hide_gene_clusters, str) and hide_gene_clusters == "largest":
        wanted = {max(names, key=lambda c: (sizes[c], -names.index(c)))}
    else:
        if not isinstance(hide_gene_clusters, str) and not np.iterable(hide_gene_clusters):
            raise TypeError(f"hide_gene_clusters must be None, 'largest', a gene-cluster name or a list of "
                            f"names, got {type(hide_gene_clusters).__name__} {hide_gene_clusters!r}.")
        wanted = [hide_gene_clusters] if isinstance(hide_gene_clusters, str) else list(hide_gene_clusters)
        wanted = {str(c) for c in wanted}
        unknown = sorted(wanted - set(names))
        if unknown:
            raise ValueError(f"hide_gene_clusters names {unknown}, which are not gene clusters of the result "
                             f"(they are {names}); pass some of those or 'largest'.")
    # empty categories draw nothing, so they do not count as kept
    if not any(sizes[c] > 0 for c in names if c not in wanted):
        raise ValueError("hide_gene_clusters would hide every gene cluster; keep at least one.")
    return wanted


def _cell_names(adata, row_labels, cell_names, names):
    """Tick labels of the cell clusters ``names``: the cluster, and the majority of ``obs[cell_names]``."""
    if cell_names is None:
        return [str(c) for c in names]
    if not isinstance(cell_names, str) or cell_names not in adata.obs.columns:
        raise KeyError(f"cell_names={cell_names!r} is not a column of adata.obs; pass a column such as cell "
                       f"types (columns: {list(adata.obs.columns)[:10]}...).")
    import pandas as pd

    table = pd.crosstab(row_labels, adata.obs[cell_names].astype(str))
    labels = []
    for c in names:
        counts = table.loc[c] if c in table.index else None
        if counts is None or counts.sum() == 0:
            labels.append(str(c))
            continue
        labels.append(f"{c} {counts.idxmax()} ({counts.max() / counts.sum():.0%})")
    return labels


def _module_genes(adata, key, n_genes, layer=None, use_raw=None):
    """``{gene cluster: [genes, best first]}``: stored by ``tl.gene_modules``, or computed without writing."""
    from ..tl._gene_modules import module_ranking

    table = adata.uns.get(key, {}).get("gene_modules")
    if table is None or not hasattr(table, "columns"):
        table, _, _ = module_ranking(adata, key, n_top=1, layer=layer, use_raw=use_raw)
    top = table[table["top_cell_cluster"].astype(bool)]
    return {str(c): list(g["gene"].astype(str))[:n_genes] for c, g in top.groupby("gene_cluster", observed=True)}


def _gene_ticks(names, sizes, modules, top_genes):
    labels = []
    for c, n in zip(names, sizes):
        label = f"{c} ({n})"
        if top_genes:
            label += ": " + ", ".join(modules.get(str(c), [])[:top_genes])
        labels.append(label)
    return labels


def _ordered_sample(codes, max_items, rng, keep=None):
    """Positions sorted by cluster, at most ``max_items`` of them, every cluster kept.

    Each cluster keeps a share of ``max_items`` proportional to its size
    (at least one item), drawn without replacement and kept in input order.
    ``keep`` restricts the clusters (codes) drawn.
    """
    codes = np.asarray(codes)
    clusters = np.unique(codes) if keep is None else np.array(sorted(keep))
    n = int(np.isin(codes, clusters).sum())
    picked = []
    for c in clusters:
        members = np.flatnonzero(codes == c)
        if n > max_items:
            count = max(1, int(round(members.size * max_items / n)))
            members = np.sort(rng.choice(members, size=min(count, members.size), replace=False))
        picked.append(members)
    sizes = np.array([p.size for p in picked])
    return np.concatenate(picked), clusters, sizes


@doc_blocks
def blocks(
    adata,
    key="lbm",
    *,
    layer=None,
    use_raw=None,
    max_rows=1000,
    max_cols=2000,
    genes_per_cluster=None,
    hide_gene_clusters=None,
    cell_names=None,
    top_genes=0,
    cmap="viridis",
    vmin=None,
    vmax=None,
    log=False,
    colorbar_label=None,
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
    genes_per_cluster
        Draw at most this many genes of each gene cluster: its best-ranked
        genes (see ``top_genes``), in rank order. Shrinks a large background
        cluster to the width of the others.
    {doc_annotations}
    cmap, vmin, vmax
        Colour map and limits; the limits default to the 1st and 99th
        percentiles of the displayed values.
    log
        Display ``log1p`` of the values (for counts).
    colorbar_label
        Label of the colour bar; default: what is drawn
        (``"log1p(layers/counts)"``, ``"X"``, ...).
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
    >>> ax = pl.blocks(adata, key="lbm", cell_names="bulk_labels", top_genes=3, log=True, show=False)
    >>> ax.get_yticklabels()[0].get_text()  # doctest: +ELLIPSIS
    '0 ... (...%)'
    """
    row_labels, col_labels = _result(adata, key)
    for name, value, constraints in (("max_rows", max_rows, [Interval("int", 1)]),
                                     ("max_cols", max_cols, [Interval("int", 1)]),
                                     ("top_genes", top_genes, [Interval("int", 0)]),
                                     ("vmin", vmin, [NONE, Interval("real")]), ("vmax", vmax, [NONE, Interval("real")]),
                                     ("genes_per_cluster", genes_per_cluster, [NONE, Interval("int", 1)])):
        check_param("pl.blocks", name, value, constraints)
    data = get_fitted_matrix(adata, key, layer=layer, use_raw=use_raw)
    rng = check_seed(random_state, "pl.blocks")
    hidden = _hidden(col_labels, hide_gene_clusters)
    categories = list(col_labels.cat.categories)
    shown = {categories.index(c) for c in categories if c != UNASSIGNED and c not in hidden}
    col_codes = col_labels.cat.codes.to_numpy()[data.genes]
    if genes_per_cluster is not None or top_genes:
        modules = _module_genes(adata, key, adata.n_vars, layer=layer, use_raw=use_raw)
    else:
        modules = {}
    if genes_per_cluster is not None:
        position = {name: i for i, name in enumerate(adata.var_names[data.genes])}
        picks = [np.array([position[g] for g in modules.get(categories[c], [])[:genes_per_cluster]], dtype=int)
                 for c in sorted(shown)]
        picks = [p for p in picks if p.size]
        col_pick = np.concatenate(picks)
        col_clusters = np.array([col_codes[p[0]] for p in picks])
        col_sizes = np.array([p.size for p in picks])
    else:
        col_pick, col_clusters, col_sizes = _ordered_sample(col_codes, max_cols, rng, keep=shown)
    row_order, row_clusters, row_sizes = _ordered_sample(row_labels.cat.codes.to_numpy(), max_rows, rng)
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

    made_figure = ax is None
    ax = new_axes(ax, (8, 6))
    image = ax.imshow(sub, aspect="auto", interpolation="nearest", cmap=cmap, vmin=vmin, vmax=vmax)
    for edge in np.cumsum(row_sizes)[:-1]:
        ax.axhline(edge - 0.5, color=line_color, linewidth=0.8)
    for edge in np.cumsum(col_sizes)[:-1]:
        ax.axvline(edge - 0.5, color=line_color, linewidth=0.8)
    row_names = row_labels.cat.categories[row_clusters]
    col_names = col_labels.cat.categories[col_clusters]
    full_sizes = col_labels.value_counts()
    ax.set_yticks(np.cumsum(row_sizes) - row_sizes / 2 - 0.5,
                  labels=_cell_names(adata, row_labels, cell_names, row_names))
    ax.set_xticks(np.cumsum(col_sizes) - col_sizes / 2 - 0.5,
                  labels=_gene_ticks(col_names, [int(full_sizes[c]) for c in col_names], modules, top_genes),
                  rotation=90)  # narrow clusters sit side by side
    ax.set_ylabel(f"cells by obs[{key!r}] ({row_order.size} of {adata.n_obs} shown)")
    hidden_note = f"; hidden: {', '.join(sorted(hidden))}" if hidden else ""
    ax.set_xlabel(f"genes by var[{key!r}], cluster (size) ({col_order.size} of {data.genes.size} shown{hidden_note})")
    drawn = f"log1p({data.source})" if log else data.source
    ax.set_title(f"{key}: {drawn} reordered by co-clusters")
    colorbar(ax, image, drawn if colorbar_label is None else colorbar_label)
    return finish(ax, "blocks", show, save, made_figure=made_figure)


@doc_blocks
def block_means(
    adata, key="lbm", *, cell_names=None, top_genes=0, hide_gene_clusters=None, cmap="magma", annotate=True,
    log=False, colorbar_label=None, ax=None, show=None, save=None,
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
    {doc_annotations}
    cmap
        Colour map.
    annotate
        Write each mean in its cell (skipped above 400 blocks).
    log
        Colour by ``log10`` of the means (for Poisson rates spanning decades).
    colorbar_label
        Label of the colour bar; default ``"block mean"`` (``"log10 block
        mean"`` with ``log=True``).
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
    >>> ax = pl.block_means(adata, cell_names="bulk_labels", top_genes=2, log=True, show=False)
    >>> ax.get_xticklabels()[0].get_text()  # size and top genes of the largest gene cluster  # doctest: +ELLIPSIS
    '0 (...): ..., ...'
    """
    row_labels, col_labels = _result(adata, key, "pl.block_means")
    check_param("pl.block_means", "top_genes", top_genes, [Interval("int", 0)])
    hidden = _hidden(col_labels, hide_gene_clusters)
    means = adata.uns.get(key, {}).get("block_means")
    if means is None:
        row_names = list(row_labels.cat.categories)
        col_names = [c for c in col_labels.cat.categories if c != UNASSIGNED and c not in hidden]
        means = _means_from_data(adata, key, row_labels, col_labels)
        means = means[:, [list(c for c in col_labels.cat.categories if c != UNASSIGNED).index(c) for c in col_names]]
    else:
        means = np.asarray(means, dtype=np.float64)
        if means.ndim != 2:
            raise ValueError(f"uns[{key!r}]['block_means'] must be a 2-D array (cell x gene clusters), got "
                             f"shape {means.shape}; rerun the tool to refresh the result.")
        rows = _stored_positions(row_labels, means.shape[0], key, "obs")
        cols = _stored_positions(col_labels, means.shape[1], key, "var")
        cols = {c: j for c, j in cols.items() if c not in hidden}
        row_names, col_names = list(rows), list(cols)
        means = means[np.ix_(list(rows.values()), list(cols.values()))]
    row_counts = row_labels.value_counts().reindex(row_names).to_numpy()
    col_counts = col_labels.value_counts().reindex(col_names).to_numpy()
    means = np.asarray(means, dtype=np.float64)
    shown = np.log10(np.maximum(means, 1e-12)) if log else means
    modules = _module_genes(adata, key, top_genes) if top_genes else {}
    width = 1.5 + 0.45 * means.shape[1] + (0.6 if cell_names else 0)
    made_figure = ax is None
    ax = new_axes(ax, (width, 1.2 + 0.4 * means.shape[0] + 0.08 * 12 * bool(top_genes)))
    image = ax.imshow(shown, aspect="auto", interpolation="nearest", cmap=cmap)
    if annotate and means.size <= 400:
        middle = (np.nanmax(shown) + np.nanmin(shown)) / 2
        for (i, j), value in np.ndenumerate(means):
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=7,
                    color="black" if shown[i, j] > middle else "white")
    names = _cell_names(adata, row_labels, cell_names, row_names)
    ax.set_yticks(np.arange(means.shape[0]), labels=[f"{name} [{n}]" for name, n in zip(names, row_counts)])
    ax.set_xticks(np.arange(means.shape[1]), labels=_gene_ticks(col_names, col_counts, modules, top_genes),
                  rotation=90)
    ax.set_ylabel(f"cell cluster (obs[{key!r}]) [size]")
    ax.set_xlabel(f"gene cluster (var[{key!r}]) (size)" + (": top genes" if top_genes else "")
                  + (f"; hidden: {', '.join(sorted(hidden))}" if hidden else ""))
    ax.set_title(f"{key}: block means" + (" (log10)" if log else ""))
    default_label = "log10 block mean" if log else "block mean"
    colorbar(ax, image, default_label if colorbar_label is None else colorbar_label)
    return finish(ax, "block_means", show, save, made_figure=made_figure)


def _stored_positions(labels, n, key, table):
    """``{category: index into the stored means}`` for the non-empty clusters of ``labels``.

    The stored means are indexed by cluster number. Categories named by
    those numbers map to them (a cluster the fit left empty has means but
    no category); other names (``rename_categories``) map by position, which
    needs one category per stored cluster, in the stored order.
    """
    sizes = labels.value_counts()
    names = [c for c in labels.cat.categories if c != UNASSIGNED and sizes[c] > 0]
    try:
        numbers = [int(c) for c in names]
    except (TypeError, ValueError):
        numbers = None
    if numbers is not None and all(0 <= i < n for i in numbers):
        return dict(zip(names, numbers))
    if len(names) == n:
        return dict(zip(names, range(n)))
    raise ValueError(
        f"uns[{key!r}]['block_means'] has {n} cluster(s) along {table}[{key!r}], which has the non-empty "
        f"categories {names}: they are neither cluster numbers below {n} nor one category per stored "
        "cluster in the same order; rerun the tool to refresh the result, or rename the categories "
        f"(rename_categories) without adding or removing any."
    )


def _means_from_data(adata, key, row_labels, col_labels):
    """Block means of the fitted matrix from hard partitions (results without uns means)."""
    data = get_fitted_matrix(adata, key)
    return hard_block_means(data.X[:, data.columns], row_labels.cat.codes.to_numpy(),
                       col_labels.cat.codes.to_numpy()[data.genes], len(row_labels.cat.categories),
                       len(col_labels.cat.categories))
