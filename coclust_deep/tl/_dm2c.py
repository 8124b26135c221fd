"""``tl.dm2c``: one clustering of cells profiled in two unpaired modalities (two AnnData, or a MuData)."""
from __future__ import annotations

import numbers

import numpy as np

from ._mudata import is_mudata
from ._skeleton import Result, Tool, size_order
from ._utils import get_matrix
from ._views import read_views

DM2C_TOOL = Tool("dm2c", writes=("row_labels", "row_embedding"))

def _modalities(data, other, mod):
    """``(adata_a, adata_b, mdata, mod)`` from the two call forms."""
    if is_mudata(data):
        if other is not None:
            raise TypeError("tl.dm2c(mdata, n_clusters, mod=(...)) takes the MuData alone; the modalities are "
                            "chosen with mod=.")
        if mod is None:
            mod = tuple(data.mod)
            if len(mod) != 2:
                raise ValueError(f"the MuData holds {len(mod)} modalities {list(mod)}; name the two to cluster "
                                 "with mod=('rna', 'protein').")
        if not isinstance(mod, (tuple, list)) or len(mod) != 2 or mod[0] == mod[1]:
            raise ValueError(f"mod must name two different modalities of the MuData, got {mod!r}.")
        missing = [m for m in mod if m not in data.mod]
        if missing:
            raise KeyError(f"mod {missing} are not modalities of the MuData (it has {list(data.mod)}).")
        adata_a, adata_b = data.mod[mod[0]], data.mod[mod[1]]
        shared = adata_a.obs_names.intersection(adata_b.obs_names)
        if len(shared):
            raise ValueError(
                f"modalities {mod[0]!r} and {mod[1]!r} share {len(shared)} cells (e.g. {shared[0]!r}); DM2C is "
                "for cells each seen in one modality only. Drop the shared cells from one modality, or use a "
                "paired method (e.g. tl.deep_cocluster with the second modality as an obs view).")
        return adata_a, adata_b, data, tuple(mod)
    if mod is not None:
        raise TypeError("mod= applies to a MuData; with two AnnData objects pass tl.dm2c(adata_a, adata_b, ...).")
    if other is None:
        raise TypeError("tl.dm2c needs two AnnData objects (tl.dm2c(adata_a, adata_b, n_clusters)) or a MuData "
                        "(tl.dm2c(mdata, n_clusters, mod=(...))).")
    if other is data:
        raise ValueError("adata_a and adata_b are the same object; DM2C clusters two different sets of cells.")
    return data, other, None, None


@DM2C_TOOL.document
def dm2c(
    adata_a,
    adata_b=None,
    n_clusters=None,
    *,
    mod=None,
    layer_a=None,
    layer_b=None,
    use_raw_a=False,
    use_raw_b=False,
    mask_var_a=None,
    mask_var_b=None,
    view_a=None,
    view_b=None,
    key_added="dm2c",
    overwrite=False,
    copy=False,
    random_state=0,
    **kw,
):
    """Cluster cells seen in one of two modalities, with no pairing (:class:`coclust_deep.deep.DM2C`).

    For example cells profiled by RNA in one experiment and by surface
    proteins (or ATAC) in another: one autoencoder per modality,
    cycle-consistent generators between the latent spaces trained against
    one critic per space, and k-means on the common space (modality A's
    latent space, where modality B's cells are mapped). Cluster ``"3"``
    means the same cluster in both modalities. Needs torch
    (``pip install coclust_deep[deep]``); a MuData needs mudata
    (``pip install coclust_deep[mudata]``).

    Call forms: ``tl.dm2c(adata_a, adata_b, n_clusters)`` with two AnnData
    objects, or ``tl.dm2c(mdata, n_clusters, mod=("rna", "protein"))`` with
    a MuData whose two modalities share no cell (``mod`` may be omitted when
    the MuData has exactly two).

    Parameters
    ----------
    adata_a
        Cells of modality A (the common space is A's latent space), or a MuData.
    adata_b
        Cells of modality B; with a MuData, this position holds ``n_clusters``.
    n_clusters
        Number of clusters, shared by both modalities.
    mod
        With a MuData: the names of modalities A and B in ``mdata.mod``.
    layer_a, layer_b
        Use ``adata.layers[layer]`` of modality A/B instead of its ``X``.
        Raw counts (non-negative integers) get a negative-binomial likelihood,
        anything else a Gaussian (override with ``likelihood_a=``/``likelihood_b=``).
    use_raw_a, use_raw_b
        Use ``adata.raw.X`` of modality A/B.
    mask_var_a, mask_var_b
        Features of modality A/B to use: a boolean ``var`` column name (e.g.
        ``"highly_variable"``) or a boolean array; ``None`` uses every feature.
    view_a, view_b
        Read modality A/B from ``adata.obsm[view]`` (a key, or a name given
        to :func:`~coclust_deep.tl.add_view`) instead of a matrix over
        ``var``: for example CITE-seq proteins kept in ``obsm["protein"]``.
        Excludes ``layer``/``use_raw``/``mask_var`` of that modality.
    {doc_key_added}
    {doc_overwrite_copy}
    random_state
        Seed of the model (same seed, same result on CPU).
    **kw
        Further :class:`~coclust_deep.deep.DM2C` parameters (``epochs``,
        ``latent_dim``, ``likelihood_a``, ``adversarial``, ``readout``, ``device``,
        ``verbose``, ...).

    Returns
    -------
    ``None``, or with ``copy=True`` the modified copies ``(adata_a, adata_b)``
    (a MuData: its modified copy). Writes into each modality's AnnData:

    {doc_writes}
    ``adata.uns[key_added]``
        Also ``modality`` (``"a"`` or ``"b"``), ``likelihood`` (the one fitted
        to this modality), ``history`` (loss terms and critic monitors per
        epoch, the same in both), ``cluster_centers`` (in the common space;
        with ``readout="matched"``, this modality's own),
        ``n_epochs`` and ``interrupted``. ``params`` holds this modality's
        input options.
    ``mdata.obs[key_added]``, ``mdata.obsm["X_" + key_added]``
        With a MuData: the labels and common-space embeddings of every cell of
        both modalities, in ``mdata.obs_names`` order (``mdata.update()`` is
        called first; cells of other modalities get no label and zero rows);
        ``mdata.uns[key_added]`` records the tool and ``mod``.

    Examples
    --------
    >>> import anndata as ad
    >>> from coclust_deep import tl
    >>> from coclust_deep.datasets import make_unpaired_digits
    >>> X_a, X_b, y_a, y_b = make_unpaired_digits(n_classes=3, random_state=0)
    >>> pixels, projected = ad.AnnData(X_a), ad.AnnData(X_b)
    >>> tl.dm2c(pixels, projected, 3, pretrain_epochs=10, epochs=20, verbose=False)
    >>> pixels.obs["dm2c"].cat.categories.tolist(), projected.obsm["X_dm2c"].shape[1]
    (['0', '1', '2'], 10)
    """
    if is_mudata(adata_a) and n_clusters is None and isinstance(adata_b, numbers.Integral):
        adata_b, n_clusters = None, adata_b  # tl.dm2c(mdata, n_clusters, mod=...)
    adata_a, adata_b, mdata, mod = _modalities(adata_a, adata_b, mod)
    if n_clusters is None:
        raise TypeError("tl.dm2c needs n_clusters, the number of clusters shared by both modalities.")
    for adata in (adata_a, adata_b):
        DM2C_TOOL.check(adata, key_added, overwrite=overwrite)
    if mdata is not None and not overwrite:
        _check_mudata_key(mdata, key_added)
    try:
        from ..deep import DM2C
    except ImportError as err:
        raise ImportError("tl.dm2c needs PyTorch: `pip install coclust_deep[deep]` (or `pip install torch`).") from err
    model = DM2C(n_clusters, random_state=random_state, **kw)

    if copy:
        if mdata is not None:
            mdata = mdata.copy()
            adata_a, adata_b = mdata.mod[mod[0]], mdata.mod[mod[1]]
        else:
            adata_a, adata_b = adata_a.copy(), adata_b.copy()
    inputs = [_modality_input(adata, view, layer, use_raw, mask_var, side)
              for adata, view, layer, use_raw, mask_var, side in (
                  (adata_a, view_a, layer_a, use_raw_a, mask_var_a, "a"),
                  (adata_b, view_b, layer_b, use_raw_b, mask_var_b, "b"))]
    (X_a, names_a, data_a, extra_a), (X_b, names_b, data_b, extra_b) = inputs
    model.fit(X_a, X_b, feature_names_a=names_a, feature_names_b=names_b)

    shared_uns = {
        "history": {name: np.asarray(values) for name, values in model.history_.items()},
        "n_epochs": model.n_epochs_,
        "interrupted": model.interrupted_,
    }
    params = model.get_params(deep=False)
    order = size_order(np.r_[model.labels_a_, model.labels_b_], model.n_clusters)
    for side, adata, data, extra, labels, embedding, centres in (
            ("a", adata_a, data_a, extra_a, model.labels_a_, model.embedding_a_, model.cluster_centers_),
            ("b", adata_b, data_b, extra_b, model.labels_b_, model.embedding_b_, model.cluster_centers_b_)):
        uns = {"modality": side, "likelihood": model.likelihoods_[side], **shared_uns,
               "cluster_centers": np.asarray(centres)}
        if mod is not None:
            uns["mod"] = mod[0 if side == "a" else 1]
        # one numbering for both modalities (by the clusters' sizes over all cells): label "k" means one thing
        result = Result(row_labels=labels, row_embedding=embedding.astype(np.float32), uns=uns,
                        by_cluster={"cluster_centers": ("row", None)}, row_order=order)
        DM2C_TOOL.write(adata, key_added, result, data=data, params={**params, **extra})
        # every cluster in both categoricals, in one order: scanpy colours by category position,
        # so a label missing from one modality would shift the colours of the others there
        adata.obs[key_added] = adata.obs[key_added].cat.set_categories(_categories(model.n_clusters))
    if mdata is not None:
        _write_mudata(mdata, mod, key_added, model, order)
    if copy:
        return mdata if mdata is not None else (adata_a, adata_b)
    return None


def _modality_input(adata, view, layer, use_raw, mask_var, side):
    """``(X, feature names, InputMatrix or None, extra params)`` of one modality: a view or a matrix over var."""
    if view is None:
        data = get_matrix(adata, layer=layer, use_raw=use_raw, mask_var=mask_var)
        return data.X, [str(v) for v in data.var_names], data, {}
    if layer is not None or use_raw or mask_var is not None:
        raise ValueError(f"view_{side}= reads modality {side.upper()} from adata.obsm; drop layer_{side}, "
                         f"use_raw_{side} and mask_var_{side}, which choose a matrix over adata.var.")
    if not isinstance(view, str):
        raise TypeError(f"view_{side} must be one key of adata.obsm, got {type(view).__name__}.")
    try:
        found, used = read_views(adata, view, "obs")
    except KeyError as err:  # read_views words its errors for obs_views=; name the argument given here
        message = str(err.args[0]) if err.args else ""
        if not message.startswith("obs_views"):
            raise
        raise KeyError(f"view_{side} (modality {side.upper()}){message[len('obs_views'):]}") from None
    (X,) = found.values()
    return X, None, None, {f"view_{side}": used[0]}


def _check_mudata_key(mdata, key):
    """``mdata.obs[key]``/``obsm["X_" + key]`` may only be replaced when an earlier tl.dm2c wrote them."""
    taken = [f"{attr}[{name!r}]" for attr, name in (("obs", key), ("obsm", "X_" + key))
             if name in getattr(mdata, attr)]
    ours = mdata.uns.get(key, {}).get("tool") == DM2C_TOOL.name if isinstance(mdata.uns.get(key), dict) else False
    if taken and not ours:
        raise ValueError(f"key_added={key!r} would overwrite mdata.{', mdata.'.join(taken)}, which coclust_deep did "
                         "not write; choose another key_added or pass overwrite=True.")


def _categories(n_clusters):
    """``"0"``, ..., ``str(n_clusters - 1)``: the shared numbering, empty clusters included."""
    return [str(k) for k in range(n_clusters)]


def _write_mudata(mdata, mod, key, model, order):
    """The labels and embeddings of both modalities over ``mdata.obs_names`` (global view)."""
    import pandas as pd

    mdata.update()
    index = mdata.obs_names
    new_of_old = np.argsort(order)  # the numbering written into each modality
    labels = pd.Series(pd.NA, index=index, dtype=object)
    embedding = np.zeros((mdata.n_obs, model.embedding_a_.shape[1]), dtype=np.float32)
    for name, values, z in ((mod[0], model.labels_a_, model.embedding_a_),
                            (mod[1], model.labels_b_, model.embedding_b_)):
        rows = index.get_indexer(mdata.mod[name].obs_names)
        labels.iloc[rows] = new_of_old[values].astype(str)
        embedding[rows] = z
    mdata.obs[key] = pd.Categorical(labels, categories=_categories(model.n_clusters))  # as in each modality
    mdata.obsm["X_" + key] = embedding
    mdata.uns[key] = {"tool": DM2C_TOOL.name, "mod": list(mod)}
