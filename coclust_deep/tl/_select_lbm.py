"""``tl.select_lbm``: ICL model selection over a (g, m) grid, written into AnnData."""
from __future__ import annotations

from .._validation import check_choice
from ._lbm import FAMILIES, LBM_PARTS, lbm_result, resolve_family
from ._skeleton import Tool, log_info
from ._utils import get_matrix

SELECT_LBM = Tool("select_lbm", writes=LBM_PARTS)


@SELECT_LBM.document
def select_lbm(
    adata,
    n_row_clusters=range(2, 7),
    n_col_clusters=range(2, 7),
    *,
    family="auto",
    criterion="icl",
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
    criterion
        ``"icl"`` (BIC-like, every family) or ``"icl_exact"`` (conjugate priors:
        Bernoulli, Poisson, categorical); see :func:`coclust_deep.select_lbm`.
    {doc_input}
    {doc_key_added}
    {doc_overwrite_copy}
    random_state
        Seed of the estimators' initialisations.
    **estimator_kwargs
        Passed to every :class:`~coclust_deep.LatentBlockModel` of the grid,
        or to :func:`coclust_deep.select_lbm` (``search``, ``verbose``: the
        progress bar, on by default; with ``sc.settings.verbosity = 2`` each
        fitted pair is logged). A warning says when the best pair lies on the
        edge of the grid.

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes, for the
    selected model:

    {doc_writes}
    ``adata.uns[key_added]``
        Everything :func:`coclust_deep.tl.lbm` writes there, and
        ``icl_table``: dict of equal-length arrays ``n_row_clusters``,
        ``n_col_clusters``, ``icl``, ``icl_exact`` (families with conjugate
        priors), ``elbo``, ``n_iter`` (one entry per grid
        point; ``pd.DataFrame(adata.uns[key]["icl_table"])`` rebuilds the
        table, which :func:`coclust_deep.pl.icl` plots). ``params`` also holds
        ``n_row_clusters_grid`` and ``n_col_clusters_grid``.

    Examples
    --------
    >>> import scanpy as sc
    >>> from coclust_deep import tl
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> tl.select_lbm(adata, [2, 3], [2, 3], use_raw=True, n_init=1, verbose=False)
    >>> len(adata.uns["lbm"]["icl_table"]["icl"])
    4
    """
    SELECT_LBM.check(adata, key_added, overwrite=overwrite, allow_backed=True, copy=copy)
    check_choice(family, "family", FAMILIES)
    check_choice(criterion, "criterion", ("icl", "icl_exact"))
    row_grid, col_grid = _read_once(n_row_clusters), _read_once(n_col_clusters)  # checked by select_lbm
    from ..lbm import select_lbm as select_lbm_estimator

    adata = adata.copy() if copy else adata
    data = get_matrix(
        adata, layer=layer, use_raw=use_raw, mask_var=mask_var, use_highly_variable=use_highly_variable,
        lazy=True,
    )
    best, table = select_lbm_estimator(
        data.X,
        n_row_clusters=row_grid,
        n_col_clusters=col_grid,
        family=resolve_family(family, data, "tl.select_lbm"),
        criterion=criterion,
        random_state=random_state,
        **estimator_kwargs,
    )
    log_info(f"tl.select_lbm: {criterion} picked g={best.n_row_clusters}, m={best.n_col_clusters} "
             f"of {len(table)} models")
    result = lbm_result(best, data)
    result.uns["icl_table"] = table
    params = {
        **best.get_params(),
        "family_requested": family,
        "criterion": criterion,
        "n_row_clusters_grid": row_grid,
        "n_col_clusters_grid": col_grid,
    }
    SELECT_LBM.write(adata, key_added, result, data=data, params=params)
    return adata if copy else None


def _read_once(values):
    """A list of an iterable's items (a generator is read once); a single value as a list of one."""
    if hasattr(values, "__iter__") and not isinstance(values, (str, bytes)):
        return list(values)
    return [values]
