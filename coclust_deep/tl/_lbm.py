"""``tl.lbm``: latent block model co-clustering written into AnnData."""
from __future__ import annotations

import numpy as np

from .._validation import check_choice
from ..lbm import FAMILIES as LBM_FAMILIES
from ._utils import (
    check_adata,
    check_key_free,
    doc_params,
    expand_col_rows,
    get_matrix,
    h5ad_safe,
    input_params,
    pick_family,
    write_labels,
)

FAMILIES = ("auto", *LBM_FAMILIES)


def posterior_keys(key):
    """``(obsm key, varm key)`` of the row and column posteriors of result ``key``."""
    return f"{key}_row_posterior", f"{key}_col_posterior"


@doc_params
def lbm(
    adata,
    n_row_clusters,
    n_col_clusters,
    *,
    family="auto",
    layer=None,
    use_raw=False,
    mask_var=None,
    use_highly_variable=None,
    key_added="lbm",
    overwrite=False,
    copy=False,
    random_state=0,
    **estimator_kwargs,
):
    """Co-cluster cells and genes with a latent block model (LBM).

    Fits :class:`coclust_deep.LatentBlockModel` to the cells x genes matrix
    and writes cell clusters to ``obs``, gene clusters to ``var`` and the
    fitted model to ``uns``, like :func:`scanpy.tl.leiden`.

    Parameters
    ----------
    adata
        Annotated data matrix (dense or sparse ``X``).
    n_row_clusters
        Number of cell clusters ``g``.
    n_col_clusters
        Number of gene clusters ``m``.
    family
        ``"poisson"`` (counts), ``"bernoulli"`` (0/1), ``"gaussian"``
        (continuous, e.g. log-normalised) or ``"auto"``: Bernoulli when every
        value is 0 or 1, Poisson when every value is a non-negative integer,
        Gaussian otherwise. The choice is logged (scanpy ``info`` level) and
        stored in ``uns[key_added]["family"]``.
{doc_input}
{doc_output}
    random_state
        Seed of the estimator's initialisations.
    **estimator_kwargs
        Passed to :class:`~coclust_deep.LatentBlockModel` (``algorithm``,
        ``n_init``, ``max_iter``, ``tol``, ``init``, ``backend``, ...).

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes:

    ``adata.obs[key_added]``
        Cell clusters, categorical with string categories ``"0"``..``"g-1"``.
    ``adata.var[key_added]``
        Gene clusters ``"0"``..``"m-1"``; genes outside ``mask_var`` get
        ``"unassigned"``.
    ``adata.obsm[key_added + "_row_posterior"]``
        ``(n_obs, g)`` posterior probabilities of the cell clusters.
    ``adata.varm[key_added + "_col_posterior"]``
        ``(n_vars, m)`` posterior probabilities of the gene clusters (rows of
        zeros for unassigned genes).
    ``adata.uns[key_added]``
        ``params`` (every estimator parameter plus ``layer``, ``use_raw``,
        ``mask_var``, ``tool``), ``family`` (the one fitted),
        ``block_params`` (dict of ``(g, m)`` arrays: ``p``, ``lambda`` or
        ``mean``/``var``), ``block_means`` ``(g, m)``, ``row_proportions``,
        ``col_proportions``, ``icl``, ``elbo``, ``elbo_history``, ``n_iter``,
        ``converged``, ``backend``, ``n_vars_fitted``.

    Examples
    --------
    >>> import scanpy as sc
    >>> from coclust_deep import tl
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> tl.lbm(adata, 4, 3, use_raw=True, n_init=2)
    >>> adata.obs["lbm"].cat.categories.tolist()
    ['0', '1', '2', '3']
    >>> sorted(adata.uns["lbm"])[:3]
    ['backend', 'block_means', 'block_params']
    """
    # 1. validate options
    check_adata(adata)
    check_choice(family, "family", FAMILIES)
    row_key, col_key = posterior_keys(key_added)
    check_key_free(adata, key_added, overwrite=overwrite, obsm_keys=[row_key], varm_keys=[col_key])
    # 2. the estimator (imported here so that tl loads fast)
    from ..lbm import LatentBlockModel

    # 3.-4. copy, read inputs
    adata = adata.copy() if copy else adata
    data = get_matrix(
        adata, layer=layer, use_raw=use_raw, mask_var=mask_var, use_highly_variable=use_highly_variable
    )
    fitted_family = pick_family(data.X) if family == "auto" else family
    if family == "auto":
        _log_info(f"tl.lbm: family='auto' picked {fitted_family!r} for {data.source}")
    # 5. compute
    model = LatentBlockModel(
        n_row_clusters, n_col_clusters, family=fitted_family, random_state=random_state, **estimator_kwargs
    )
    model.fit(data.X)
    # 6. write results
    params = {"tool": "lbm", "family_requested": family}
    params.update(input_params(
        layer=layer, use_raw=use_raw, mask_var=mask_var,
        use_highly_variable=use_highly_variable, random_state=random_state,
    ))
    write_lbm_result(adata, model, key_added, data, params)
    _log_info(
        f"tl.lbm: {model.row_labels_.max() + 1} cell x {model.column_labels_.max() + 1} gene clusters "
        f"added as obs/var[{key_added!r}]"
    )
    # 7.
    return adata if copy else None


def write_lbm_result(adata, model, key, data, params):
    """Write a fitted ``LatentBlockModel`` into ``adata`` under ``key``.

    ``data`` is the :class:`~coclust_deep.tl._utils.InputMatrix` it was fitted
    on; ``params`` the tool-side parameters (merged with the estimator's).
    """
    row_key, col_key = posterior_keys(key)
    write_labels(
        adata, key, row_labels=model.row_labels_, col_labels=model.column_labels_,
        var_positions=data.var_positions,
    )
    adata.obsm[row_key] = np.asarray(model.row_posterior_)
    adata.varm[col_key] = expand_col_rows(model.column_posterior_, data.var_positions, adata.n_vars)
    all_params = dict(model.get_params())
    all_params.update(params)
    adata.uns[key] = h5ad_safe(
        {
            "params": all_params,
            "family": model.family,
            "block_params": {name: np.asarray(v) for name, v in model.params_.items()},
            "block_means": np.asarray(model.block_means_),
            "row_proportions": np.asarray(model.row_proportions_),
            "col_proportions": np.asarray(model.column_proportions_),
            "icl": float(model.icl_),
            "elbo": float(model.elbo_),
            "elbo_history": np.asarray(model.elbo_history_, dtype=np.float64),
            "n_iter": int(model.n_iter_),
            "converged": bool(model.converged_),
            "backend": str(getattr(model, "backend_", "")),
            "n_vars_fitted": int(len(data.var_names)),
        }
    )


def _log_info(message):
    from scanpy import logging as logg

    logg.info(message)
