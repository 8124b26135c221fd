"""``tl.gene_modules`` and ``tl.score_modules``: gene clusters read as biology.

A co-clustering result (``tl.lbm``, ``tl.select_lbm``, ``tl.cocluster``,
``tl.deep_cocluster``, ...) partitions the genes; these two functions turn each
gene cluster into a *module*: its genes ranked by how specifically they are
expressed in each cell cluster, a ``{module: [top genes]}`` dict that scanpy's
``sc.pl.dotplot`` / ``matrixplot`` / ``heatmap`` take as ``var_names``, and
one score per module and cell (``sc.tl.score_genes``) for UMAPs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._mudata import accept_mudata
from ._skeleton import require_coclustering
from ._utils import UNASSIGNED, check_adata, get_fitted_matrix

TABLE_COLUMNS = ("gene_cluster", "cell_cluster", "rank", "gene", "score", "mean_in", "mean_out", "log2fc",
                 "frac_in", "frac_out", "top_cell_cluster")


def _result_labels(adata, key, caller="tl.gene_modules"):
    check_adata(adata)
    require_coclustering(adata, key, caller)
    cells, genes = adata.obs[key], adata.var[key]
    # labels rewritten by hand (e.g. .astype(str)) are read as categories, without touching adata
    return tuple(v if isinstance(v.dtype, pd.CategoricalDtype) else v.astype("category") for v in (cells, genes))


def _cluster_statistics(X, codes, n_clusters):
    """Per cell cluster and gene: mean, Welch's t and fraction of non-zero values, inside and outside.

    ``X`` is cells x genes (dense or sparse, never densified); ``codes`` the
    cell-cluster code of every cell. Returns a dict of ``(n_clusters, n_genes)``
    arrays. Dense genes are centred first, so that the variances keep their
    digits under a large offset (sparse data, counts or log-expression, keep
    their zeros and are summed as they are).
    """
    n = codes.size
    R = sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_clusters, n))
    sizes = np.asarray(R.sum(axis=1)).ravel()
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
        shift = np.zeros(X.shape[1])
        sums, squares, nonzero = (np.asarray((R @ a).todense()) for a in (X, X.multiply(X), X != 0))
    else:
        X = np.asarray(X, dtype=np.float64)
        shift = X.mean(axis=0)
        centred = X - shift
        sums, squares, nonzero = R @ centred, R @ (centred * centred), R @ (X != 0).astype(np.float64)
    inside = np.maximum(sizes, 1)[:, None]
    outside = np.maximum(n - sizes, 1)[:, None]
    has_outside = (n - sizes > 0)[:, None]
    mean_in = sums / inside  # of the centred values
    mean_out = np.where(has_outside, (sums.sum(axis=0) - sums) / outside, 0.0)
    # E[x^2] - E[x]^2 on centred values; clip the rounding at 0 (the score only ranks)
    var_in = np.maximum(squares / inside - mean_in**2, 0.0)
    var_out = np.where(has_outside, np.maximum((squares.sum(axis=0) - squares) / outside - mean_out**2, 0.0), 0.0)
    spread = np.sqrt(var_in / inside + var_out / outside)
    tiny = np.finfo(np.float64).tiny
    return {
        "mean_in": mean_in + shift,
        "mean_out": np.where(has_outside, mean_out + shift, 0.0),
        "frac_in": nonzero / inside,
        "frac_out": np.where(has_outside, (nonzero.sum(axis=0) - nonzero) / outside, 0.0),
        # Welch's t statistic, as scanpy's rank_genes_groups(method="t-test"); 0 when nothing varies
        "score": np.where(spread > tiny, (mean_in - mean_out) / np.maximum(spread, tiny), 0.0) * has_outside,
    }


def _check_n_top(n_top):
    if isinstance(n_top, bool) or not isinstance(n_top, (int, np.integer)) or n_top < 1:
        raise ValueError(f"n_top must be an int >= 1, got {n_top!r}.")


def module_ranking(adata, key, *, n_top=5, layer=None, use_raw=None):
    """What :func:`gene_modules` writes, computed without writing: ``(table, top_genes, top_cells)``.

    ``pl.blocks``/``pl.block_means`` call this when ``uns[key]`` holds no
    modules yet, so that a plot never modifies ``adata``.
    """
    cells, genes = _result_labels(adata, key)
    _check_n_top(n_top)
    data = get_fitted_matrix(adata, key, layer=layer, use_raw=use_raw)
    X = data.X[:, data.columns]
    codes = cells.cat.codes.to_numpy()
    if np.any(codes < 0):
        raise ValueError(f"obs[{key!r}] has cells without a cluster (NaN); gene modules need every cell labelled.")
    cell_names = list(cells.cat.categories)
    stats = _cluster_statistics(X, codes, len(cell_names))
    signed = bool((X.data if sp.issparse(X) else np.asarray(X)).min(initial=0.0) < 0)
    gene_labels = genes.to_numpy()[data.genes]
    gene_names = adata.var_names[data.genes].to_numpy()
    frames, top_genes, top_cells = [], {}, {}
    for module in [c for c in genes.cat.categories if c != UNASSIGNED]:
        members = np.flatnonzero(gene_labels == module)
        if members.size == 0:
            continue
        best = int(np.argmax(stats["mean_in"][:, members].mean(axis=1)))
        top_cells[str(module)] = str(cell_names[best])
        for k, cell_cluster in enumerate(cell_names):
            t_scores = stats["score"][k, members]
            order = np.lexsort((np.arange(members.size), -t_scores))  # stable: ties keep gene order
            picked = members[order]
            frame = pd.DataFrame({
                "gene_cluster": str(module),
                "cell_cluster": str(cell_cluster),
                "rank": np.arange(1, members.size + 1),
                "gene": gene_names[picked],
                **{name: stats[name][k, picked] for name in ("score", "mean_in", "mean_out")},
                "log2fc": (np.full(members.size, np.nan) if signed else
                           np.log2((stats["mean_in"][k, picked] + 1e-9) / (stats["mean_out"][k, picked] + 1e-9))),
                **{name: stats[name][k, picked] for name in ("frac_in", "frac_out")},
                "top_cell_cluster": k == best,
            })
            frames.append(frame)
            if k == best:
                top_genes[str(module)] = [str(g) for g in gene_names[picked[:n_top]]]
    table = pd.concat(frames, ignore_index=True)
    for column in ("gene_cluster", "cell_cluster"):
        levels = [c for c in (genes.cat.categories if column == "gene_cluster" else cell_names) if c != UNASSIGNED]
        table[column] = pd.Categorical(table[column], categories=[str(c) for c in levels])
    return table, top_genes, top_cells


@accept_mudata
def gene_modules(adata, key="lbm", *, n_top=5, layer=None, use_raw=None, score=False, copy=False,
                 **score_kwargs):
    """Rank the genes of each gene cluster by their enrichment in each cell cluster.

    For a co-clustering result ``key``, every gene cluster (module) gets its
    genes ranked, within each cell cluster, by Welch's t statistic of the
    gene's values in that cell cluster against all other cells (the score
    ``sc.tl.rank_genes_groups(method="t-test")`` ranks by). Each module's
    *top cell cluster* is the one where its genes have the highest mean
    (the largest block mean); its ``n_top`` best-ranked genes there form the
    module's entry in a ``{module: [genes]}`` dict that ``sc.pl.dotplot``,
    ``sc.pl.matrixplot`` and ``sc.pl.heatmap`` take as ``var_names``.

    Parameters
    ----------
    adata
        Annotated data matrix holding a result with gene clusters in
        ``var[key]`` and cell clusters in ``obs[key]``; or a ``MuData`` with
        ``mod=``.
    key
        The result's ``key_added``.
    n_top
        Genes per module in the dict (fewer when a module is smaller).
    layer, use_raw
        The matrix to read; by default the one the result was fitted on (from
        ``uns[key]["params"]``). Any genes x cells values work: counts,
        log-normalised or scaled data.
    score
        Also run :func:`score_modules` (one ``sc.tl.score_genes`` score per
        module in ``obs``); ``**score_kwargs`` go to it.
    copy
        Return a modified copy instead of writing into ``adata``.
    mod
        When ``adata`` is a ``MuData``: the modality holding the result.
    **score_kwargs
        Parameters of :func:`score_modules` (``genes``, ``key_added``,
        ``random_state``, ...); only with ``score=True`` (a ``TypeError``
        otherwise).

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes:

    ``adata.uns[key]["gene_modules"]``
        A tidy DataFrame, one row per (gene cluster, cell cluster, gene):
        ``gene_cluster``, ``cell_cluster``, ``rank`` (1 = most enriched, within
        the gene cluster and cell cluster), ``gene``, ``score`` (Welch's t),
        ``mean_in``/``mean_out`` (mean in the cell cluster / in the other
        cells), ``log2fc`` (``log2`` of their ratio, +1e-9 each; NaN for data
        with negative values), ``frac_in``/``frac_out`` (fractions of non-zero
        values) and ``top_cell_cluster`` (whether this is the module's top cell
        cluster; ``table[table.top_cell_cluster]`` ranks each module once).
        Sorted by gene cluster, cell cluster and rank.
    ``adata.uns[key]["module_genes"]``
        ``{gene cluster: [its n_top genes in its top cell cluster]}``, for
        ``sc.pl.dotplot(adata, adata.uns[key]["module_genes"], groupby=key)``.
    ``adata.uns[key]["module_top_cell_cluster"]``
        ``{gene cluster: its top cell cluster}``.

    Both survive ``write_h5ad``/``read_h5ad``; rerunning the tool that wrote
    ``key`` replaces them with the rest of its result.

    Examples
    --------
    >>> import scanpy as sc
    >>> from coclust_deep import tl
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> tl.lbm(adata, 4, 3, use_raw=True, family="poisson", poisson_effects=True, n_init=2)
    >>> tl.gene_modules(adata, "lbm", n_top=3)
    >>> sorted(adata.uns["lbm"]["module_genes"])
    ['0', '1', '2']
    >>> table = adata.uns["lbm"]["gene_modules"]
    >>> table.columns[:4].tolist()
    ['gene_cluster', 'cell_cluster', 'rank', 'gene']
    """
    _check_n_top(n_top)
    _result_labels(adata, key)
    adata = adata.copy() if copy else adata
    _store_modules(adata, key, module_ranking(adata, key, n_top=n_top, layer=layer, use_raw=use_raw))
    if score:
        score_modules(adata, key, **score_kwargs)
    elif score_kwargs:
        raise TypeError(f"gene_modules got {sorted(score_kwargs)}, which only apply with score=True.")
    return adata if copy else None


def _store_modules(adata, key, ranking):
    """Write :func:`module_ranking`'s ``(table, top_genes, top_cells)`` into ``uns[key]``."""
    entry = adata.uns.setdefault(key, {})
    entry["gene_modules"], entry["module_genes"], entry["module_top_cell_cluster"] = ranking


@accept_mudata
def score_modules(adata, key="lbm", *, genes="top", n_top=None, key_added=None, use_raw=None, layer=None,
                  overwrite=False, copy=False, random_state=0, **score_genes_kwargs):
    """One ``sc.tl.score_genes`` score per gene module, for every cell.

    Parameters
    ----------
    adata
        Annotated data matrix holding a co-clustering result ``key``; or a
        ``MuData`` with ``mod=``.
    key
        The result's ``key_added``.
    genes
        ``"top"``: score each module on its top genes from
        :func:`gene_modules` (computed with ``n_top`` if absent or if ``n_top``
        is given); ``"all"``: on every gene of the module.
    n_top
        Genes per module with ``genes="top"`` (default: those already in
        ``uns[key]["module_genes"]``, else :func:`gene_modules`'s default).
    key_added
        Prefix of the ``obs`` columns; default ``key + "_module_"``, so module
        ``"3"`` of ``tl.lbm`` lands in ``obs["lbm_module_3"]``.
    use_raw, layer
        Passed to ``sc.tl.score_genes`` (its default reads ``adata.raw`` when
        present). The score is meant for log-normalised expression.
    overwrite
        Allow replacing ``obs`` columns that an earlier call did not write.
    copy
        Return a modified copy instead of writing into ``adata``.
    random_state
        Seed of the control genes of ``sc.tl.score_genes``.
    **score_genes_kwargs
        Further ``sc.tl.score_genes`` arguments (``ctrl_size``, ``n_bins``).
    mod
        When ``adata`` is a ``MuData``: the modality holding the result.

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes
    ``adata.obs[key_added + module]`` for every module and
    ``adata.uns[key]["module_scores"]`` (``{module: obs column}``).

    Examples
    --------
    >>> import scanpy as sc
    >>> from coclust_deep import tl
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> tl.lbm(adata, 4, 3, use_raw=True, family="poisson", poisson_effects=True, n_init=2)
    >>> tl.score_modules(adata, "lbm", n_top=10)
    >>> [c for c in adata.obs.columns if c.startswith("lbm_module_")]
    ['lbm_module_0', 'lbm_module_1', 'lbm_module_2']
    """
    import scanpy as sc

    cells, gene_labels = _result_labels(adata, key, "tl.score_modules")
    if genes not in ("top", "all"):
        raise ValueError(f"genes must be 'top' or 'all', got {genes!r}.")
    prefix = f"{key}_module_" if key_added is None else key_added
    if not isinstance(prefix, str) or not prefix:
        raise TypeError(f"key_added must be a non-empty string, got {key_added!r}.")
    if use_raw and adata.raw is None:
        raise ValueError("use_raw=True but adata.raw is None; pass use_raw=False (or layer=) to score on adata.X.")
    adata = adata.copy() if copy else adata
    ranking = None  # new modules, written only once the obs columns are known to be free
    if genes == "top":
        if n_top is not None or "module_genes" not in adata.uns.get(key, {}):
            ranking = module_ranking(adata, key, **({} if n_top is None else {"n_top": n_top}))
        top_genes = adata.uns[key]["module_genes"] if ranking is None else ranking[1]
        sets = {str(m): list(g) for m, g in top_genes.items()}
    else:
        sets = {str(m): list(adata.var_names[(gene_labels == m).to_numpy()])
                for m in gene_labels.cat.categories if m != UNASSIGNED}
    columns = {module: f"{prefix}{module}" for module in sets}
    earlier = set(dict(adata.uns.get(key, {}).get("module_scores", {})).values())
    taken = [c for c in columns.values() if c in adata.obs.columns and c not in earlier]
    if taken and not overwrite:
        raise ValueError(f"obs already has {taken}, which score_modules did not write; pass key_added= "
                         "another prefix or overwrite=True.")
    if ranking is not None:
        _store_modules(adata, key, ranking)
    for column in earlier - set(columns.values()):
        if column in adata.obs.columns:
            del adata.obs[column]
    for module, gene_list in sets.items():
        source = {"layer": layer} if layer is not None else {"use_raw": use_raw}
        sc.tl.score_genes(adata, gene_list, score_name=columns[module], random_state=random_state,
                          **source, **score_genes_kwargs)
    adata.uns.setdefault(key, {})["module_scores"] = columns
    return adata if copy else None
