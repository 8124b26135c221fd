"""``tl.lbm``: latent block model co-clustering written into AnnData."""
from __future__ import annotations

import numpy as np

from .._validation import check_choice
from ..lbm._em import auto_family_of
from ..lbm._families import FAMILIES as _LBM_FAMILIES
from ._skeleton import Result, Tool, log_info
from ._utils import get_matrix, warn_counts_elsewhere

FAMILIES = ("auto", *_LBM_FAMILIES)

LBM_PARTS = ("row_labels", "column_labels", "row_posterior", "column_posterior")
"""What an LBM result writes (``tl.lbm``, ``tl.select_lbm``, ``tl.cocluster(method="lbm")``)."""

LBM = Tool("lbm", writes=LBM_PARTS)


@LBM.document
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
        ``"poisson"`` (counts; with cell and gene effects unless
        ``poisson_effects=False``), ``"nb"`` (over-dispersed counts such as
        UMIs: negative binomial with cell and gene effects and a dispersion per
        gene), ``"bernoulli"`` (0/1), ``"categorical"`` (a few integer levels,
        e.g. genotype calls 0/1/2 or binned expression), ``"gaussian"``
        (continuous, e.g. log-normalised) or ``"auto"``: Bernoulli when every
        value is 0 or 1, Poisson when every value is a non-negative integer,
        Gaussian otherwise. The choice is logged (scanpy ``info`` level) and
        stored in ``uns[key_added]["family"]``. When ``"auto"`` reads a
        non-count ``adata.X`` (no ``layer``/``use_raw``) while a layer holds
        counts, a warning names that layer.
    {doc_input}
    {doc_key_added}
    {doc_overwrite_copy}
    random_state
        Seed of the estimator's initialisations.
    **estimator_kwargs
        Passed to :class:`~coclust_deep.LatentBlockModel` (``algorithm``,
        ``n_init``, ``max_iter``, ``tol``, ``init``, ``backend``, ...).

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes:

    {doc_writes}
    ``adata.uns[key_added]``
        Also ``family`` (the one fitted; ``params["family_requested"]`` is
        what was asked), ``block_params`` (dict of arrays: ``p``, ``lambda``,
        ``mean``/``var`` of shape ``(g, m)``; ``theta``, one dispersion per
        fitted gene, for ``"nb"``; ``alpha`` ``(g, m, n_levels)`` for
        ``"categorical"``, each block's distribution over the levels: the
        estimator's ``params_["alpha"]`` with the cluster axes first, as
        every cluster-indexed ``uns`` entry has them), ``block_means`` ``(g, m)``, ``icl_exact`` (exact
        ICL where the family has conjugate priors, else absent),
        ``row_proportions``, ``column_proportions``, ``icl``, ``elbo``,
        ``elbo_history``, ``n_iter``, ``converged``, ``backend``,
        ``n_vars_fitted``.

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
    LBM.check(adata, key_added, overwrite=overwrite, allow_backed=True, copy=copy)
    check_choice(family, "family", FAMILIES)
    # 2. the estimator
    from ..lbm import LatentBlockModel

    # 3. copy
    adata = adata.copy() if copy else adata
    # 4. read inputs
    data = get_matrix(
        adata, layer=layer, use_raw=use_raw, mask_var=mask_var, use_highly_variable=use_highly_variable,
        lazy=True,
    )
    # 5. compute
    model = LatentBlockModel(
        n_row_clusters, n_col_clusters, family=resolve_family(family, data, "tl.lbm"),
        random_state=random_state, **estimator_kwargs,
    )
    model.fit(data.X)
    # 6. write results
    params = {**model.get_params(), "family_requested": family}
    LBM.write(adata, key_added, lbm_result(model, data), data=data, params=params)
    # 7.
    return adata if copy else None


def resolve_family(family, data, tool):
    """The LBM family to fit: ``family``, or for ``"auto"`` the one the estimator's ``"auto"`` reads off ``data``."""
    if family != "auto":
        return family
    picked = auto_family_of(data.X)
    log_info(f"{tool}: family='auto' picked {picked!r} for {data.source}")
    # auto picks gaussian only for values that are not non-negative integers
    warn_counts_elsewhere(data, tool, f"family={picked!r}", x_is_counts=picked != "gaussian")
    return picked


def lbm_result(model, data):
    """The :class:`~coclust_deep.tl._skeleton.Result` of a fitted ``LatentBlockModel``.

    ``data`` is the :class:`~coclust_deep.tl._utils.InputMatrix` it was fitted on.
    """
    return Result(
        row_labels=model.row_labels_,
        column_labels=model.column_labels_,
        row_posterior=model.row_posterior_,
        column_posterior=model.column_posterior_,
        uns={
            "family": model.family_,
            **({} if model.icl_exact_ is None else {"icl_exact": float(model.icl_exact_)}),
            "block_params": {name: np.moveaxis(v, 1, 2) if name == "alpha" else np.asarray(v)
                             for name, v in model.params_.items()},
            "block_means": np.asarray(model.block_means_),
            "row_proportions": np.asarray(model.row_proportions_),
            "column_proportions": np.asarray(model.column_proportions_),
            "icl": float(model.icl_),
            "elbo": float(model.elbo_),
            "elbo_history": np.asarray(model.elbo_history_, dtype=np.float64),
            "n_iter": int(model.n_iter_),
            "converged": bool(model.converged_),
            "backend": str(getattr(model, "backend_", "")),
            "n_vars_fitted": int(len(data.var_names)),
        },
        by_cluster=LBM_BY_CLUSTER,
    )


LBM_BY_CLUSTER = {
    "block_params": ("row", "column"),
    "block_means": ("row", "column"),
    "row_proportions": ("row",),
    "column_proportions": ("column",),
}
"""The ``uns`` entries of an LBM result indexed by cluster (renumbered with the labels)."""
