"""``tl.deep_cocluster``: deep co-clustering of cells and genes, written into AnnData."""
from __future__ import annotations

import numpy as np

from ._skeleton import PARTS, Result, Tool
from ._utils import get_matrix, warn_counts_elsewhere
from ._views import read_views

DEEP_COCLUSTER = Tool("deep_cocluster", writes=PARTS)


@DEEP_COCLUSTER.document
def deep_cocluster(
    adata,
    n_row_clusters=None,
    n_col_clusters=2,
    *,
    layer=None,
    use_raw=False,
    mask_var=None,
    use_highly_variable=None,
    obs_views=None,
    var_views=None,
    key_added="deep",
    overwrite=False,
    copy=False,
    random_state=0,
    **kw,
):
    """Deep co-clustering of cells and genes (:class:`coclust_deep.deep.DeepCoclustering`).

    Needs torch (``pip install coclust_deep[deep]``).

    Parameters
    ----------
    adata
        Annotated data matrix.
    n_row_clusters, n_col_clusters
        Numbers of cell and gene clusters. ``n_row_clusters=None`` estimates
        it (leiden at resolution 1 on the kNN graph of the pretrained cell
        embedding; recorded in ``uns[key_added]["n_row_clusters_estimation"]``).
    {doc_input}
    obs_views
        Keys of ``adata.obsm`` holding extra views of the cells (image or
        text embeddings, protein counts); the name given to
        :func:`coclust_deep.tl.add_view` also works. Each gets its own encoder.
    var_views
        Keys of ``adata.varm`` holding extra views of the genes.
    {doc_key_added}
    {doc_overwrite_copy}
    random_state
        Seed of the model (same seed, same result on CPU).
    **kw
        Further :class:`~coclust_deep.deep.DeepCoclustering` parameters
        (``epochs``, ``latent_dim``, ``device``, ``verbose`` ...). The default
        ``likelihood="auto"`` models raw counts (e.g. ``layer="counts"``) with a
        negative binomial and anything else with a Gaussian; on a non-count
        ``adata.X`` (no ``layer``/``use_raw``) while a layer holds counts, a
        warning names that layer.

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes:

    {doc_writes}
    ``adata.uns[key_added]``
        Also ``params["obs_views"]``/``params["var_views"]`` (the keys read),
        ``history`` (loss terms per epoch), ``block_means``,
        ``view_contributions``, ``n_epochs``, ``interrupted``, ``likelihood``
        (the one ``"auto"`` chose), ``n_row_clusters_estimation`` (only when
        ``n_row_clusters=None``; absent when given), ``selected_features`` (bool per gene read, the genes the
        cell encoder saw) and ``zero_count_rows`` (cells left out of training). The soft
        assignments are the Student-t ones of the DEC heads.

    Ctrl-C (KeyboardInterrupt) during training stops the call: nothing is
    written and an earlier result under ``key_added`` is kept (the estimator's
    ``fit(..., resume=True)`` is the way to continue an interrupted fit).

    Examples
    --------
    >>> import scanpy as sc
    >>> from coclust_deep import tl
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> tl.deep_cocluster(adata, 6, 4, use_raw=True, pretrain_epochs=5, epochs=5, verbose=False)
    >>> adata.obsm["X_deep"].shape
    (700, 32)
    """
    DEEP_COCLUSTER.check(adata, key_added, overwrite=overwrite)
    try:
        from ..deep import DeepCoclustering
    except ImportError as err:
        raise ImportError("tl.deep_cocluster needs PyTorch: `pip install coclust_deep[deep]` "
                          "(or `pip install torch`).") from err
    model = DeepCoclustering(n_row_clusters, n_col_clusters, random_state=random_state, **kw)

    adata = adata.copy() if copy else adata
    data = get_matrix(adata, layer=layer, use_raw=use_raw, mask_var=mask_var,
                      use_highly_variable=use_highly_variable)
    row_views, row_keys = read_views(adata, obs_views, "obs")
    col_views, col_keys = read_views(adata, var_views, "var", var_positions=data.var_positions)
    if model.likelihood == "auto":
        warn_counts_elsewhere(data, "tl.deep_cocluster", "likelihood='gaussian'")
    model.fit(data.X, row_views=row_views or None, col_views=col_views or None)

    result = Result(
        row_labels=model.row_labels_,
        column_labels=model.column_labels_,
        row_posterior=model.row_soft_assignments_,
        column_posterior=model.column_soft_assignments_,
        row_embedding=model.row_embedding_.astype(np.float32),
        column_embedding=model.column_embedding_.astype(np.float32),
        uns={
            "history": {name: np.asarray(values) for name, values in model.history_.items()},
            "block_means": model.block_means_,
            "view_contributions": model.view_contributions_,
            "n_epochs": model.n_epochs_,
            "interrupted": model.interrupted_,
            "likelihood": model.likelihood_,
            "n_row_clusters_estimation": model.n_row_clusters_estimation_,
            "selected_features": model.selected_features_,
            "zero_count_rows": model.zero_count_rows_,
        },
        by_cluster={"block_means": ("row", "column")},
    )
    params = {**model.get_params(deep=False), "obs_views": row_keys, "var_views": col_keys}
    DEEP_COCLUSTER.write(adata, key_added, result, data=data, params=params)
    return adata if copy else None
