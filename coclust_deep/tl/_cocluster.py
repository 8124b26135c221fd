"""``tl.cocluster``: any co-clustering estimator of coclust_deep, written into AnnData."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from ..kernels import is_dask_array
from ._lbm import lbm_result, resolve_family
from ._skeleton import PARTS, Result, Tool, log_info
from ._utils import counts_layer, get_matrix

COCLUSTER = Tool("cocluster", writes=(), may_write=PARTS)

# method name -> class name in coclust_deep (classic estimators are looked up
# lazily so that a method whose estimator is missing fails only when asked for).
METHODS = {
    "lbm": "LatentBlockModel",
    "info": "InfoCoclustering",
    "modularity": "ModularityCoclustering",
    "spectral_cocluster": "SpectralCoclustering",
    "spectral_bicluster": "SpectralBiclustering",
    "double_kmeans": "DoubleKMeans",
}
# Methods whose biclusters overlap (no partition): written as boolean memberships.
BICLUSTER_METHODS = {
    "cheng_church": "ChengChurch",
}


def _estimator_class(method):
    import coclust_deep

    names = {**METHODS, **BICLUSTER_METHODS}
    if method not in names:
        raise ValueError(
            f"method must be one of {sorted(names)} or an unfitted coclust_deep/scikit-learn "
            f"co-clustering estimator, got {method!r}."
        )
    cls = getattr(coclust_deep, names[method], None)
    if cls is None:
        raise ImportError(
            f"method={method!r} needs coclust_deep.{names[method]}, which this installation lacks; "
            "upgrade coclust_deep or choose another method."
        )
    return cls


def _lazy_estimators():
    """Estimator classes that fit a dask array by row blocks."""
    from ..classic._base import HardBlockCoclustering
    from ..lbm import LatentBlockModel

    return (LatentBlockModel, HardBlockCoclustering)


def _set_cluster_numbers(estimator, n_row_clusters, n_col_clusters):
    """Pass (g, m) in whichever parameter names the estimator uses."""
    names = estimator.get_params(deep=False)
    update = {}
    if "n_row_clusters" in names:
        if n_row_clusters is not None:
            update["n_row_clusters"] = n_row_clusters
        if n_col_clusters is not None:
            update["n_col_clusters"] = n_col_clusters
    elif "n_clusters" in names:
        if n_row_clusters is not None or n_col_clusters is not None:
            g = n_row_clusters if n_row_clusters is not None else n_col_clusters
            m = n_col_clusters if n_col_clusters is not None else n_row_clusters
            if g == m:
                update["n_clusters"] = g
            elif "n_components" in names or type(estimator).__name__ == "SpectralBiclustering":
                update["n_clusters"] = (g, m)  # checkerboard: (rows, columns)
            else:
                raise ValueError(
                    f"{type(estimator).__name__} finds the same number of row and column clusters; "
                    f"pass n_row_clusters == n_col_clusters (got {g} and {m})."
                )
    elif n_row_clusters is not None or n_col_clusters is not None:
        if "n_biclusters" in names:
            raise ValueError(f"{type(estimator).__name__} finds overlapping biclusters, not row and column "
                             "clusters; leave n_row_clusters/n_col_clusters as None and pass n_biclusters=.")
        raise ValueError(f"{type(estimator).__name__} takes no number of clusters; leave them as None.")
    return estimator.set_params(**update)


@COCLUSTER.document
def cocluster(
    adata,
    method="spectral_cocluster",
    n_row_clusters=None,
    n_col_clusters=None,
    *,
    layer=None,
    use_raw=False,
    mask_var=None,
    use_highly_variable=None,
    key_added=None,
    overwrite=False,
    copy=False,
    random_state=0,
    **estimator_kwargs,
):
    """Co-cluster cells and genes with any coclust_deep co-clustering estimator.

    Parameters
    ----------
    adata
        Annotated data matrix.
    method
        ``"spectral_cocluster"`` (Dhillon 2001), ``"spectral_bicluster"``
        (Kluger 2003 checkerboard), ``"info"`` (information-theoretic,
        Dhillon 2003), ``"modularity"`` (Ailem 2015), ``"double_kmeans"``,
        ``"lbm"`` or ``"cheng_church"`` (Cheng & Church 2000: overlapping
        biclusters, written as boolean memberships; pass ``n_biclusters=``,
        ``delta=``); or an unfitted estimator instance (cloned, never
        modified) exposing ``row_labels_`` and ``column_labels_`` after
        ``fit``, or only ``rows_`` and ``columns_`` (overlapping biclusters).
    n_row_clusters, n_col_clusters
        Numbers of cell and gene clusters, passed as the estimator's
        ``n_row_clusters``/``n_col_clusters`` or ``n_clusters``. ``None``
        keeps the estimator's default.
    {doc_input}
    key_added
        Name of the result (every key listed under Returns is built from it).
        ``None`` (default) uses the method name (the class name, lowercased,
        for an estimator instance).
    {doc_overwrite_copy}
    random_state
        Seed passed to estimators that take one (an estimator instance keeps
        its own ``random_state``).
    **estimator_kwargs
        Further estimator parameters. On a backed (or dask-backed) AnnData,
        ``"info"`` and ``"double_kmeans"`` start from ``init="spectral"``
        unless ``init=`` is given: their default ``"k-means++"`` needs X in
        memory. ``uns[key_added]["params"]["init"]`` records the start used.

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes:

    {doc_writes}
    ``adata.uns[key_added]``
        Also ``params["method"]`` and, when the estimator has them,
        ``criterion`` (its ``criterion_`` or ``modularity_``),
        ``criterion_history``, ``n_iter`` and ``block_means``. The spectral
        methods write their singular-vector embeddings. ``method="lbm"``
        writes everything :func:`coclust_deep.tl.lbm` writes
        (``family="auto"`` by default, picked from the data as there).
        Partitions are written as labels (and, for diagonal co-clusterings
        such as ``"modularity"`` and ``"spectral_cocluster"``, cell cluster
        ``k`` pairs with gene cluster ``k``, both numbered by the cells'
        cluster sizes). Overlapping biclusters (``"cheng_church"``) are
        written as ``obsm``/``varm[key_added + "_biclusters"]`` only, with
        ``uns[key_added]["residues"]`` (mean squared residue of each) and
        ``uns[key_added]["bicluster_sizes"]`` (``n_cells``, ``n_genes``).
        Estimators that take no sparse input (``"cheng_church"``) get a dense
        copy of a sparse matrix.

    Examples
    --------
    >>> import scanpy as sc
    >>> from coclust_deep import tl
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> tl.cocluster(adata, "spectral_cocluster", 6, 6, use_raw=True)
    >>> adata.obs["spectral_cocluster"].nunique() <= 6
    True
    """
    if isinstance(method, str):
        estimator = _estimator_class(method)()
        method_name = method
    elif hasattr(method, "fit") and hasattr(method, "get_params"):
        estimator = clone(method)
        method_name = type(method).__name__
    else:
        raise TypeError(f"method must be a method name or an unfitted estimator, got {type(method).__name__}.")
    key = key_added if key_added is not None else method_name.lower()
    # the estimators that read X by row blocks take a backed or dask-backed AnnData
    lazy = isinstance(estimator, _lazy_estimators())
    COCLUSTER.check(adata, key, overwrite=overwrite, allow_backed=lazy, copy=copy)

    estimator = _set_cluster_numbers(estimator, n_row_clusters, n_col_clusters)
    own_params = estimator.get_params(deep=False)
    extra = dict(estimator_kwargs)
    by_name = isinstance(method, str)  # an instance keeps its own seed and family unless overridden
    if "random_state" in own_params and by_name:
        extra.setdefault("random_state", random_state)
    family = extra.pop("family", "auto" if by_name else own_params["family"]) if "family" in own_params else None
    estimator.set_params(**extra)

    adata = adata.copy() if copy else adata
    data = get_matrix(
        adata, layer=layer, use_raw=use_raw, mask_var=mask_var, use_highly_variable=use_highly_variable,
        lazy=lazy,
    )
    if family is not None:  # an LBM: "auto" picks the family from the data, as in tl.lbm
        estimator.set_params(family=resolve_family(family, data, "tl.cocluster"))
    X = data.X
    if by_name and "init" not in extra and is_dask_array(X) and own_params.get("init") == "k-means++":
        # k-means++ seeds on rows in memory; the spectral start is computed by row blocks
        estimator.set_params(init="spectral")
    if sp.issparse(X) and not _takes_sparse(estimator):
        log_info(f"tl.cocluster: {type(estimator).__name__} takes dense input; densifying {data.source}")
        X = X.toarray()
    try:
        estimator.fit(X)
    except ValueError as err:
        if "negative values" not in str(err).lower():
            raise
        # the estimator's own advice (shift X) is meaningless for scaled data; name the AnnData fixes
        raise ValueError(_negative_input_message(adata, type(estimator).__name__, data.source)) from err

    is_lbm = hasattr(estimator, "elbo_history_") and hasattr(estimator, "params_")
    result = lbm_result(estimator, data) if is_lbm else _result(estimator)
    params = {**estimator.get_params(deep=False), "method": method_name}
    COCLUSTER.write(adata, key, result, data=data, params=params)
    return adata if copy else None


def _negative_input_message(adata, name, source):
    """What to pass instead of a matrix with negative values (e.g. ``sc.pp.scale``'s z-scores)."""
    where = {"X": "adata.X", "raw": "adata.raw.X"}.get(source, f"adata.layers[{source[len('layers/'):]!r}]")
    layer = counts_layer(adata)
    fixes = [f"layer={layer!r} (non-negative integers)" if layer is not None else
             "layer= naming a layer of counts (save them with adata.layers['counts'] = adata.X.copy() "
             "before normalising and scaling)"]
    if adata.raw is not None and source != "raw":
        fixes.append("use_raw=True")
    return (f"tl.cocluster: {name} needs non-negative data (counts or weights), but {where} has negative "
            "values, as scaled or centred data has (e.g. after sc.pp.scale). Pass " + " or ".join(fixes) + ".")


def _result(estimator):
    """The :class:`~coclust_deep.tl._skeleton.Result` of any fitted co-clustering estimator."""
    rows = getattr(estimator, "row_labels_", None)
    cols = getattr(estimator, "column_labels_", None)
    if rows is None and cols is None and getattr(estimator, "rows_", None) is not None:
        return _bicluster_result(estimator)
    if rows is None or cols is None:
        raise TypeError(
            f"{type(estimator).__name__} exposes no row_labels_/column_labels_ after fit, "
            "so its result cannot be written as a partition of cells and genes."
        )
    result = Result(row_labels=np.asarray(rows), column_labels=np.asarray(cols),
                    by_cluster={"block_means": ("row", "column")}, paired=_is_diagonal(estimator))
    for side in ("posterior", "embedding"):  # written in pairs only, so both sides stay comparable
        row_value = getattr(estimator, f"row_{side}_", None)
        column_value = getattr(estimator, f"column_{side}_", None)
        if row_value is not None and column_value is not None:
            setattr(result, f"row_{side}", np.asarray(row_value))
            setattr(result, f"column_{side}", np.asarray(column_value))
    means = getattr(estimator, "block_means_", None)
    if means is not None and np.all(np.isfinite(means)):
        result.uns["block_means"] = np.asarray(means, dtype=np.float64)
    for attr in ("criterion_", "modularity_"):
        value = getattr(estimator, attr, None)
        if value is not None and np.isscalar(value) and np.isfinite(value):
            result.uns["criterion"] = float(value)
            break
    history = getattr(estimator, "criterion_history_", None)
    if history is not None:
        result.uns["criterion_history"] = np.asarray(history, dtype=np.float64)
    n_iter = getattr(estimator, "n_iter_", None)
    if n_iter is not None and np.isscalar(n_iter):
        result.uns["n_iter"] = int(n_iter)
    return result


def _is_diagonal(estimator):
    """Whether bicluster ``k`` is row cluster ``k`` x column cluster ``k`` (diagonal co-clustering).

    Then the two partitions are renumbered together, so the pairs survive.
    """
    rows, cols = getattr(estimator, "rows_", None), getattr(estimator, "columns_", None)
    if rows is None or cols is None:
        return False
    rows, cols = np.asarray(rows), np.asarray(cols)
    labels_r, labels_c = np.asarray(estimator.row_labels_), np.asarray(estimator.column_labels_)
    k = rows.shape[0]
    if cols.shape[0] != k or rows.shape[1] != labels_r.size or cols.shape[1] != labels_c.size:
        return False
    return all(np.array_equal(rows[i], labels_r == i) and np.array_equal(cols[i], labels_c == i) for i in range(k))


def _takes_sparse(estimator):
    try:
        return bool(estimator.__sklearn_tags__().input_tags.sparse)
    except AttributeError:  # an estimator without scikit-learn >= 1.6 tags: let it decide
        return True


def _bicluster_result(estimator):
    """Overlapping biclusters (``rows_``, ``columns_``) as boolean cells x biclusters memberships."""
    rows = np.asarray(estimator.rows_, dtype=bool)
    cols = np.asarray(estimator.columns_, dtype=bool)
    uns = {"bicluster_sizes": {"n_cells": rows.sum(axis=1), "n_genes": cols.sum(axis=1)}}
    residues = getattr(estimator, "residues_", None)
    if residues is not None:
        uns["residues"] = np.asarray(residues, dtype=np.float64)
    return Result(row_biclusters=rows.T, column_biclusters=cols.T, uns=uns)
