"""``tl.select_lbm``: ICL model selection over a (g, m) grid, written into AnnData."""
from __future__ import annotations

from .._validation import check_choice
from ._lbm import FAMILIES, _log_info, posterior_keys, write_lbm_result
from ._utils import check_adata, check_key_free, doc_params, get_matrix, h5ad_safe, input_params, pick_family


@doc_params
def select_lbm(
    adata,
    n_row_clusters=range(2, 7),
    n_col_clusters=range(2, 7),
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
    """Choose the numbers of cell and gene clusters of an LBM by ICL.

    Fits a :class:`~coclust_deep.LatentBlockModel` for every ``(g, m)`` of
    the grid with :func:`coclust_deep.select_lbm`, keeps the one with the
    highest ICL and writes it exactly like :func:`coclust_deep.tl.lbm`, plus
    the whole grid in ``uns[key_added]["icl_table"]``.

    Parameters
    ----------
    adata
        Annotated data matrix.
    n_row_clusters, n_col_clusters
        Candidate numbers of cell and gene clusters (iterables of ints).
    family
        As in :func:`coclust_deep.tl.lbm` (``"auto"`` picks from the data).
{doc_input}
{doc_output}
    random_state
        Seed of the estimators' initialisations.
    **estimator_kwargs
        Passed to every :class:`~coclust_deep.LatentBlockModel` of the grid.

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes everything
    :func:`coclust_deep.tl.lbm` writes for the selected model, and
    ``adata.uns[key_added]["icl_table"]``: dict of equal-length arrays
    ``n_row_clusters``, ``n_col_clusters``, ``icl``, ``elbo``, ``n_iter`` (one
    entry per grid point; ``pd.DataFrame(adata.uns[key]["icl_table"])``
    rebuilds the table, which :func:`coclust_deep.pl.icl` plots).

    Examples
    --------
    >>> import scanpy as sc
    >>> from coclust_deep import tl
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> tl.select_lbm(adata, [2, 3], [2, 3], use_raw=True, n_init=1)
    >>> len(adata.uns["lbm"]["icl_table"]["icl"])
    4
    """
    check_adata(adata)
    check_choice(family, "family", FAMILIES)
    row_key, col_key = posterior_keys(key_added)
    check_key_free(adata, key_added, overwrite=overwrite, obsm_keys=[row_key], varm_keys=[col_key])
    from ..lbm import select_lbm as select_lbm_estimator

    adata = adata.copy() if copy else adata
    data = get_matrix(
        adata, layer=layer, use_raw=use_raw, mask_var=mask_var, use_highly_variable=use_highly_variable
    )
    fitted_family = pick_family(data.X) if family == "auto" else family
    if family == "auto":
        _log_info(f"tl.select_lbm: family='auto' picked {fitted_family!r} for {data.source}")
    best, table = select_lbm_estimator(
        data.X,
        n_row_clusters=list(n_row_clusters),
        n_col_clusters=list(n_col_clusters),
        family=fitted_family,
        random_state=random_state,
        **estimator_kwargs,
    )
    params = {
        "tool": "select_lbm",
        "family_requested": family,
        "n_row_clusters_grid": list(n_row_clusters),
        "n_col_clusters_grid": list(n_col_clusters),
    }
    params.update(input_params(
        layer=layer, use_raw=use_raw, mask_var=mask_var,
        use_highly_variable=use_highly_variable, random_state=random_state,
    ))
    write_lbm_result(adata, best, key_added, data, params)
    adata.uns[key_added]["icl_table"] = h5ad_safe(table)
    _log_info(
        f"tl.select_lbm: ICL picked g={best.n_row_clusters}, m={best.n_col_clusters} "
        f"out of {len(table)} models; added as obs/var[{key_added!r}]"
    )
    return adata if copy else None
