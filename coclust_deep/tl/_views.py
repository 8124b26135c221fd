"""Extra views: image or text embeddings of the cells (``obsm``) or genes (``varm``).

Users attach them with :func:`add_view` and list them with :func:`views`;
tools read the ones they are given by key with :func:`read_views`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._mudata import INSTALL_HINT, accept_mudata, is_mudata, parent_mudata
from ._utils import check_adata, check_h5ad_name

VIEW_PREFIX = "view_"
"""Views live in ``obsm[VIEW_PREFIX + name]`` (cells) or ``varm[VIEW_PREFIX + name]`` (genes)."""

_AXES = ("obs", "var")


def _check_name(name):
    if not isinstance(name, str) or not name:
        raise ValueError(f"view name must be a non-empty string, got {name!r}.")
    return check_h5ad_name(name, "view name")


def _check_axis(axis):
    if axis not in _AXES:
        raise ValueError(f"axis must be 'obs' (one row per cell) or 'var' (one row per gene), got {axis!r}.")
    return axis


def check_view(embeddings, n_expected, *, name="embeddings", axis="obs"):
    """Validate a view matrix: 2-D, numeric, finite, one row per cell (or gene).

    Returns a float numpy array or CSR matrix; integer and boolean input
    becomes float64, float32 is kept, and the caller's array is not modified.
    """
    if isinstance(embeddings, pd.DataFrame):
        embeddings = embeddings.to_numpy()
    what = "cells (adata.n_obs)" if axis == "obs" else "genes (adata.n_vars)"
    if sp.issparse(embeddings):
        values = sp.csr_matrix(embeddings)
        data = values.data
    else:
        values = np.asarray(embeddings)
        data = values
    if values.dtype == object or values.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} has dtype {values.dtype}; views must be numeric, e.g. np.asarray(emb, dtype=np.float32)."
        )
    if values.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (one row per {axis} entry, one column per feature), got {values.ndim}-D; "
            "reshape a single feature with emb.reshape(-1, 1)."
        )
    if values.shape[0] != n_expected:
        raise ValueError(
            f"{name} has {values.shape[0]} rows but there are {n_expected} {what}; "
            f"a view needs exactly one row per {'cell' if axis == 'obs' else 'gene'}, in adata's order."
        )
    if values.shape[1] == 0:
        raise ValueError(f"{name} has no columns; a view needs at least one feature.")
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{name} contains NaN or infinite values; impute or drop them before adding the view.")
    return values


@accept_mudata
def add_view(adata, name, embeddings, *, axis="obs", key=None, overwrite=False, copy=False):
    """Attach an extra view (image or text embeddings, another modality) of the cells or genes.

    Parameters
    ----------
    adata
        Annotated data matrix (or a ``MuData`` with ``mod=``, see below).
    name
        Name of the view; stored under ``obsm["view_" + name]`` (``axis="obs"``)
        or ``varm["view_" + name]`` (``axis="var"``).
    embeddings
        ``(n_obs, k)`` or ``(n_vars, k)`` numeric matrix (numpy, scipy.sparse
        or DataFrame), rows in adata's order, finite values only (a DataFrame
        whose index is not a default ``RangeIndex`` has its rows matched to
        adata's by ``obs_names``/``var_names``); or an
        ``AnnData`` (for example a MuData modality, ``mdata["prot"]``) whose
        ``.X`` (or ``obsm[key]`` / ``varm[key]``) is taken, its rows matched to
        adata's by ``obs_names`` (``var_names``); or, when ``adata`` is a
        MuData modality given with ``mod=``, the spec ``"mod:key"`` naming
        another modality's ``X`` or ``obsm[key]`` (``"prot:X"``).
    axis
        ``"obs"``: one row per cell; ``"var"``: one row per gene.
    key
        With an AnnData ``embeddings``: ``None`` or ``"X"`` takes its ``.X``;
        another string takes its ``obsm[key]`` (``axis="obs"``) or
        ``varm[key]`` (``axis="var"``).
    mod
        When ``adata`` is a ``MuData``: the modality that receives the view.
    overwrite
        Replace an existing view of that name.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes
    ``adata.obsm["view_<name>"]`` or ``adata.varm["view_<name>"]``.

    Examples
    --------
    >>> import numpy as np, anndata as ad
    >>> from coclust_deep import tl
    >>> adata = ad.AnnData(np.ones((4, 3)))
    >>> tl.add_view(adata, "image", np.random.default_rng(0).normal(size=(4, 8)))
    >>> protein = ad.AnnData(np.arange(8.0).reshape(4, 2), obs=adata.obs)  # e.g. mdata["prot"]
    >>> tl.add_view(adata, "protein", protein)
    >>> tl.views(adata)["key"].tolist()
    ['obsm/view_image', 'obsm/view_protein']
    """
    check_adata(adata)
    _check_name(name)
    _check_axis(axis)
    n_expected = adata.n_obs if axis == "obs" else adata.n_vars
    embeddings = view_source(adata, embeddings, axis=axis, key=key)
    values = check_view(embeddings, n_expected, name=f"view {name!r}", axis=axis)
    adata = adata.copy() if copy else adata
    store = adata.obsm if axis == "obs" else adata.varm
    stored = VIEW_PREFIX + name
    if stored in store and not overwrite:
        raise ValueError(f"{axis}m[{stored!r}] already exists; pass overwrite=True to replace the view.")
    store[stored] = values
    return adata if copy else None


def view_source(adata, embeddings, *, axis="obs", key=None):
    """The matrix behind ``embeddings``, aligned to ``adata``'s cells (``axis="obs"``) or genes.

    Arrays, sparse matrices and DataFrames with a default ``RangeIndex`` pass
    through (checked later by :func:`check_view`); a DataFrame with named rows
    and an AnnData (its ``.X`` or ``obsm``/``varm[key]``) have their rows
    matched by name; a ``"mod:key"`` string names a modality of the
    MuData that ``adata`` belongs to (only inside a tool run with ``mod=``).
    """
    from anndata import AnnData

    if is_mudata(embeddings):
        raise TypeError(f"embeddings is a whole MuData; pass one of its modalities, e.g. "
                        f"embeddings=mdata[{next(iter(embeddings.mod), 'prot')!r}].")
    if isinstance(embeddings, str):
        spec = embeddings
        embeddings, spec_key = _modality_from_spec(spec, axis)
        if key is not None and spec_key is not None and key != spec_key:
            raise ValueError(f"the view spec {spec!r} names its matrix and key={key!r} names another; "
                             "pass one of them.")
        key = spec_key if spec_key is not None else key
    if isinstance(embeddings, AnnData):
        return _from_anndata(adata, embeddings, axis, key)
    if key is not None:
        raise ValueError("key= picks a matrix of an AnnData given as embeddings; drop it for an array.")
    if isinstance(embeddings, pd.DataFrame) and not isinstance(embeddings.index, pd.RangeIndex):
        # named rows are matched by name; only a default RangeIndex means "in adata's order"
        embeddings = _matched_by_name(adata, embeddings, embeddings.index.astype(str), axis,
                                      "the DataFrame given as embeddings")
    if not (isinstance(embeddings, (np.ndarray, pd.DataFrame, list, tuple)) or sp.issparse(embeddings)
            or hasattr(embeddings, "__array__")):
        raise TypeError(
            f"embeddings must be a 2-D array, sparse matrix, DataFrame or AnnData, got {type(embeddings).__name__}."
        )
    return embeddings


def _modality_from_spec(spec, axis):
    mdata = parent_mudata()
    mod, _, key = spec.partition(":")
    if mdata is None:
        raise ValueError(
            f"the view spec {spec!r} names a MuData modality; pass the MuData with mod= "
            f"(e.g. tl.add_view(mdata, name, {spec!r}, mod='rna')) or the modality's AnnData itself."
        )
    if axis != "obs":
        raise ValueError(f"the view spec {spec!r} reads another modality, which shares cells, not genes; "
                         "use axis='obs'.")
    if mod not in mdata.mod:
        raise KeyError(f"the view spec {spec!r} names no modality of the MuData; it has {list(mdata.mod)}.")
    return mdata.mod[mod], (key or None)


def _from_anndata(adata, source, axis, key):
    if key is None or key == "X":
        if source.X is None:
            raise ValueError("the AnnData given as embeddings has no .X; pass key= naming one of its "
                             f"{axis}m entries ({sorted(getattr(source, axis + 'm').keys())}).")
        values = source.X
    else:
        if not isinstance(key, str):
            raise TypeError(f"key must be 'X' or a string key of {axis}m, got {type(key).__name__}.")
        store = getattr(source, axis + "m")
        if key not in store:
            raise KeyError(f"key={key!r} is not in the {axis}m of the AnnData given as embeddings "
                           f"(keys: {sorted(store.keys())}).")
        values = store[key]
    if hasattr(values, "to_memory"):
        values = values.to_memory()
    theirs = source.obs_names if axis == "obs" else source.var_names
    return _matched_by_name(adata, values, theirs, axis, "the AnnData given as embeddings")


def _matched_by_name(adata, values, theirs, axis, what_gave):
    """The rows of ``values`` (named ``theirs``) reordered to adata's ``obs_names`` (``var_names``)."""
    ours = adata.obs_names if axis == "obs" else adata.var_names
    if theirs.equals(ours):
        return values
    where = theirs.get_indexer(ours) if theirs.is_unique else np.full(ours.size, -1)
    missing = int(np.sum(where < 0))
    if missing or not theirs.is_unique:
        what = "cells" if axis == "obs" else "genes"
        raise ValueError(
            f"{what_gave} lacks {missing} of the {ours.size} {what} of adata (matched by "
            f"{axis}_names{', which are not unique there' if not theirs.is_unique else ''}); subset both to "
            "the shared ones first (e.g. mudata.pp.intersect_obs(mdata))."
        )
    return values.iloc[where] if isinstance(values, pd.DataFrame) else values[where]


def views(adata):
    """List the views attached with :func:`add_view`.

    Parameters
    ----------
    adata
        Annotated data matrix.

    Returns
    -------
    DataFrame with one row per view: ``name``, ``axis`` (``"obs"``/``"var"``),
    ``key`` (``"obsm/view_<name>"``), ``n_features`` and ``dtype``.
    """
    check_adata(adata, allow_backed=True)
    rows = []
    for axis, store in (("obs", adata.obsm), ("var", adata.varm)):
        for key in store.keys():
            if key.startswith(VIEW_PREFIX):
                value = store[key]
                rows.append(
                    {
                        "name": key[len(VIEW_PREFIX):],
                        "axis": axis,
                        "key": f"{axis}m/{key}",
                        "n_features": int(value.shape[1]),
                        "dtype": str(value.dtype),
                    }
                )
    return pd.DataFrame(rows, columns=["name", "axis", "key", "n_features", "dtype"])


def get_view(adata, name, *, axis=None):
    """The validated matrix of view ``name`` (what estimators and deep models read).

    ``axis=None`` finds the view on either axis; the name must then be
    unique (a ``ValueError`` otherwise). Raises ``KeyError`` listing the
    available views when it is absent.

    Parameters
    ----------
    adata
        Annotated data matrix.
    name
        Name given to :func:`add_view` (the key without its ``"view_"`` prefix).
    axis
        ``"obs"`` (``obsm``), ``"var"`` (``varm``) or ``None`` (either).
    """
    check_adata(adata, allow_backed=True)
    _check_name(name)
    axes = _AXES if axis is None else (_check_axis(axis),)
    key = VIEW_PREFIX + name
    found = [a for a in axes if key in (adata.obsm if a == "obs" else adata.varm)]
    if not found:
        available = views(adata)
        listed = ", ".join(f"{n} ({a})" for n, a in zip(available["name"], available["axis"])) or "none"
        raise KeyError(f"no view named {name!r}; available views: {listed}. Add one with tl.add_view.")
    if len(found) > 1:
        raise ValueError(f"view {name!r} exists for both cells and genes; pass axis='obs' or axis='var'.")
    a = found[0]
    store = adata.obsm if a == "obs" else adata.varm
    n_expected = adata.n_obs if a == "obs" else adata.n_vars
    return check_view(store[key], n_expected, name=f"view {name!r}", axis=a)


def read_views(adata, keys, axis, *, var_positions=None):
    """The views a tool was given, validated, as ``({name: matrix}, [stored keys])``.

    Tools with ``obs_views=``/``var_views=`` parameters read their extra
    inputs with this. ``keys`` is ``None``, one key or a list of keys of
    ``adata.obsm`` (``axis="obs"``) or ``adata.varm`` (``axis="var"``); the
    name given to :func:`add_view` works too (``"image"`` for
    ``obsm["view_image"]``). A view's name is its key without the
    ``"view_"`` prefix. Inside a tool given a MuData and ``mod=``, a spec
    ``"mod:key"`` reads another modality's ``X`` (``"prot:X"``, or just
    ``"prot:"``; view name ``"prot"``) or ``obsm[key]`` (name ``"prot_key"``),
    its cells matched by name. With ``var_positions`` (from
    :func:`~coclust_deep.tl._utils.get_matrix`) gene views keep the rows of
    the fitted genes only, in the fitted matrix's order.
    """
    axis = _check_axis(axis)
    store = adata.obsm if axis == "obs" else adata.varm
    n_expected = adata.n_obs if axis == "obs" else adata.n_vars
    if keys is None:
        keys = []
    elif isinstance(keys, str):
        keys = [keys]
    elif not isinstance(keys, (list, tuple)):
        raise TypeError(f"{axis}_views must be a list of keys, got {type(keys).__name__}.")
    found, used = {}, []
    for key in keys:
        if isinstance(key, str) and ":" in key and key not in store and parent_mudata() is not None:
            mod, _, part = key.partition(":")  # another modality's X or obsm[part]
            stored, name = key, mod if part in ("", "X") else f"{mod}_{part}"
            matrix = view_source(adata, key, axis=axis)
        else:
            stored = _stored_key(store, key, axis)
            name = stored[len(VIEW_PREFIX):] if stored.startswith(VIEW_PREFIX) else stored
            matrix = store[stored]
        if name in found:
            raise ValueError(f"{axis}_views names the view {name!r} twice.")
        values = check_view(matrix, n_expected, name=f"{axis}m[{stored!r}]", axis=axis)
        if var_positions is not None:
            if np.any(var_positions < 0):
                raise ValueError("var_views need genes of adata.var; with use_raw=True some fitted genes "
                                 "exist only in adata.raw. Drop use_raw or the var views.")
            values = values[var_positions]
        found[name] = values
        used.append(stored)
    return found, used


def _stored_key(store, key, axis):
    """Resolve a view given by its obsm/varm key, or by the name given to :func:`add_view`."""
    if not isinstance(key, str):
        raise TypeError(f"{axis}_views must list {axis}m keys (strings), got {key!r}.")
    if ":" in key and key not in store:
        hint = ("" if parent_mudata() is not None else
                f" To read another modality, pass the MuData with mod= ({INSTALL_HINT}).")
        raise KeyError(f"{axis}_views: {key!r} is not in adata.{axis}m; a 'mod:key' spec names another "
                       f"modality of the MuData the tool runs on.{hint}")
    for candidate in (key, VIEW_PREFIX + key):
        if candidate in store:
            return candidate
    raise KeyError(f"{axis}_views: {key!r} is not in adata.{axis}m (keys: {sorted(store.keys())}); "
                   f"attach it with coclust_deep.tl.add_view(adata, name, emb, axis={axis!r}).")
