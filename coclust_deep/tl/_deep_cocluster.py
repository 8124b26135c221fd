"""``tl.deep_cocluster``: deep co-clustering of cells and genes, written into AnnData."""
from __future__ import annotations

import numpy as np

from ._utils import (
    check_adata,
    check_key_free,
    doc_params,
    expand_col_rows,
    get_matrix,
    h5ad_safe,
    input_params,
    write_labels,
)
from ._views import VIEW_PREFIX

def _view_key(store, key, axis):
    """Resolve a view given by its obsm/varm key, or by the name given to tl.add_view."""
    if not isinstance(key, str):
        raise TypeError(f"{axis}_views must list {axis}m keys (strings), got {key!r}.")
    for candidate in (key, VIEW_PREFIX + key):
        if candidate in store:
            return candidate
    raise KeyError(f"{axis}_views: {key!r} is not in adata.{axis}m (keys: {sorted(store.keys())}); "
                   f"attach it with coclust_deep.tl.add_view(adata, name, emb, axis={axis!r}).")


def _as_list(keys, name):
    if keys is None:
        return []
    if isinstance(keys, str):
        return [keys]
    if not isinstance(keys, (list, tuple)):
        raise TypeError(f"{name} must be a list of keys, got {type(keys).__name__}.")
    return list(keys)


def _read_views(adata, keys, axis, positions=None):
    store = adata.obsm if axis == "obs" else adata.varm
    views, used = {}, []
    for key in _as_list(keys, f"{axis}_views"):
        stored = _view_key(store, key, axis)
        name = stored[len(VIEW_PREFIX):] if stored.startswith(VIEW_PREFIX) else stored
        if name in views:
            raise ValueError(f"{axis}_views names the view {name!r} twice.")
        values = store[stored]
        if hasattr(values, "to_numpy"):  # DataFrame in obsm
            values = values.to_numpy()
        if positions is not None:
            if np.any(positions < 0):
                raise ValueError("var_views need genes of adata.var; with use_raw=True some fitted genes "
                                 "exist only in adata.raw. Drop use_raw or the var views.")
            values = values[positions]
        views[name] = values
        used.append(stored)
    return views, used


@doc_params
def deep_cocluster(
    adata,
    n_row_clusters,
    n_col_clusters,
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
        Numbers of cell and gene clusters.
{doc_input}
    obs_views
        Keys of ``adata.obsm`` holding extra views of the cells (image or
        text embeddings, protein counts); the name given to
        :func:`coclust_deep.tl.add_view` also works. Each gets its own encoder.
    var_views
        Keys of ``adata.varm`` holding extra views of the genes.
{doc_output}
    random_state
        Seed of the model (same seed, same result on CPU).
    **kw
        Further :class:`~coclust_deep.deep.DeepCoclustering` parameters
        (``likelihood="nb"`` on raw counts, ``epochs``, ``latent_dim``,
        ``device``, ``verbose`` ...).

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes

    * ``obs[key_added]``, ``var[key_added]``: cell and gene clusters
      (natsorted string categoricals; ``"unassigned"`` outside ``mask_var``);
    * ``obsm["X_" + key_added]``: cell embeddings, usable as
      ``sc.pp.neighbors(adata, use_rep="X_" + key_added)``;
    * ``varm["X_" + key_added]``: gene embeddings (zeros for unassigned genes);
    * ``obsm[key_added + "_row_posterior"]``, ``varm[key_added + "_col_posterior"]``:
      Student-t soft assignments;
    * ``uns[key_added]``: ``params`` (``tool="deep_cocluster"`` and every model
      parameter), ``history`` (loss terms per epoch), ``block_means``,
      ``view_contributions``, ``n_epochs`` and ``interrupted``.

    Examples
    --------
    >>> import scanpy as sc
    >>> from coclust_deep import tl
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> tl.deep_cocluster(adata, 6, 4, use_raw=True, pretrain_epochs=5, epochs=5, verbose=False)
    >>> adata.obsm["X_deep"].shape
    (700, 32)
    """
    check_adata(adata)
    try:
        from ..deep import DeepCoclustering
    except ImportError as err:
        raise ImportError("tl.deep_cocluster needs PyTorch: `pip install coclust_deep[deep]` "
                          "(or `pip install torch`).") from err
    key = key_added
    emb_key = "X_" + str(key)
    row_post, col_post = f"{key}_row_posterior", f"{key}_col_posterior"
    check_key_free(adata, key, overwrite=overwrite, obsm_keys=[emb_key, row_post],
                   varm_keys=[emb_key, col_post])
    model = DeepCoclustering(n_row_clusters, n_col_clusters, random_state=random_state, **kw)

    adata = adata.copy() if copy else adata
    data = get_matrix(adata, layer=layer, use_raw=use_raw, mask_var=mask_var,
                      use_highly_variable=use_highly_variable)
    row_views, row_keys = _read_views(adata, obs_views, "obs")
    col_views, col_keys = _read_views(adata, var_views, "var", positions=data.var_positions)
    model.fit(data.X, row_views=row_views or None, col_views=col_views or None)

    write_labels(adata, key, row_labels=model.row_labels_, col_labels=model.column_labels_,
                 var_positions=data.var_positions)
    adata.obsm[emb_key] = model.row_embedding_.astype(np.float32)
    adata.varm[emb_key] = expand_col_rows(model.column_embedding_.astype(np.float32),
                                          data.var_positions, adata.n_vars)
    adata.obsm[row_post] = model.row_soft_assignments_
    adata.varm[col_post] = expand_col_rows(model.column_soft_assignments_, data.var_positions, adata.n_vars)

    params = {"tool": "deep_cocluster", "obs_views": row_keys, "var_views": col_keys}
    params.update(model.get_params(deep=False))
    params.update(input_params(layer=layer, use_raw=use_raw, mask_var=mask_var,
                               use_highly_variable=use_highly_variable, random_state=random_state))
    history = {name: np.asarray(values) for name, values in model.history_.items()}
    adata.uns[key] = h5ad_safe({
        "params": params,
        "history": history,
        "block_means": model.block_means_,
        "view_contributions": model.view_contributions_,
        "n_epochs": model.n_epochs_,
        "interrupted": model.interrupted_,
    })
    return adata if copy else None
