"""AnnData plumbing shared by every ``coclust_deep.tl`` tool and ``pl`` plot.

Reading: :func:`check_adata`, :func:`get_matrix` (the matrix a tool fits,
with ``layer`` / ``use_raw`` / ``mask_var`` applied), :func:`get_fitted_matrix`
(the matrix an existing result was fitted on), :func:`pick_family`.
Writing: :func:`labels_to_categorical`, :func:`expand_column_rows` and
:func:`h5ad_safe`, the primitives that :class:`coclust_deep.tl._skeleton.Tool`
writes results with. The tool skeleton itself lives in ``_skeleton.py``.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

UNASSIGNED = "unassigned"
"""Category given in ``var[key]`` to genes left out by ``mask_var``."""


# ---------------------------------------------------------------- input ----


def check_adata(adata, *, allow_backed=False):
    """Raise a clear error unless ``adata`` is an AnnData, in memory unless ``allow_backed``."""
    from anndata import AnnData

    if not isinstance(adata, AnnData):
        from ._mudata import is_mudata

        if is_mudata(adata):
            raise TypeError(
                f"adata is a MuData with modalities {list(adata.mod)}; tl tools take it with mod= naming "
                "the modality to use (e.g. tl.lbm(mdata, 4, 3, mod='rna')); other functions take the "
                "modality itself, e.g. mdata['rna']."
            )
        raise TypeError(
            f"adata must be an AnnData object, got {type(adata).__name__}; "
            "wrap a matrix with anndata.AnnData(X)."
        )
    if adata.isbacked and not allow_backed:
        raise ValueError(
            "adata is backed (opened with backed='r'); this tool needs the matrix in memory. Load it "
            "with adata = adata.to_memory() (or read_h5ad without backed=). tl.lbm, tl.select_lbm and "
            "tl.cocluster with an LBM, info, modularity or double k-means method read a backed X by row blocks."
        )
    return adata


def check_h5ad_name(name, what):
    """Raise unless ``name`` can be an h5ad key: a ``"/"`` would be read back as nested groups."""
    if "/" in name:
        raise ValueError(f"{what} {name!r} contains '/', which h5ad files read back as nested groups; "
                         "use another character, e.g. '_'.")
    return name


@dataclass
class InputMatrix:
    """The matrix a tool fits, and where its columns sit in ``adata.var``.

    ``X`` has the selected genes only. ``var_names`` are those genes' names.
    ``var_positions[j]`` is the position in ``adata.var`` of column ``j`` of
    ``X``, or -1 when that gene exists only in ``adata.raw``. ``source`` says
    where ``X`` was read (``"X"``, ``"raw"``, ``"layers/<name>"``) and
    ``params`` how, h5ad-safe, for ``uns[key]["params"]``.
    """

    X: object
    var_names: pd.Index
    var_positions: np.ndarray
    source: str
    params: dict = field(default_factory=dict)
    adata: object = field(default=None, repr=False)
    """The AnnData read (for :func:`warn_counts_elsewhere`, which looks at its other layers)."""


def get_matrix(adata, *, layer=None, use_raw=False, mask_var=None, use_highly_variable=None, lazy=False):
    """The data matrix for ``adata`` with ``layer`` / ``use_raw`` / ``mask_var`` applied.

    Returns an :class:`InputMatrix`. The matrix is a view or a column subset
    of the stored one (never modified); sparse stays sparse.

    With ``lazy=True`` (tools whose estimators read X by row blocks), a dask
    array in ``X``/``layers``/``raw`` is passed on as it is, and a backed
    AnnData (``backed="r"``) has its on-disk matrix read as a dask array of
    row blocks by anndata's own lazy reader (:func:`lazy_matrix`): X is
    never loaded. Otherwise both raise a ValueError that says how to load X.
    """
    check_adata(adata, allow_backed=lazy)
    if layer is not None and use_raw:
        raise ValueError("Pass either layer= or use_raw=True, not both.")
    if use_raw:
        if adata.raw is None:
            raise ValueError(
                "use_raw=True but adata.raw is None; pass use_raw=False to use adata.X, "
                "or set adata.raw = adata before filtering genes."
            )
        X, var_table, source = adata.raw.X, adata.raw.var, "raw"
    elif layer is not None:
        if not isinstance(layer, str):
            raise TypeError(f"layer must be a string key of adata.layers, got {type(layer).__name__}.")
        if layer not in adata.layers:
            raise KeyError(
                f"layer {layer!r} is not in adata.layers (available: {sorted(adata.layers.keys())}); "
                "pass one of those or layer=None for adata.X."
            )
        X, var_table, source = adata.layers[layer], adata.var, f"layers/{layer}"
    else:
        if adata.X is None:
            raise ValueError("adata.X is None; pass layer= naming the matrix to use.")
        X, var_table, source = adata.X, adata.var, "X"
    if lazy and adata.isbacked and not _in_memory(X):
        X = lazy_matrix(adata.file[{"X": "X", "raw": "raw/X"}.get(source, source)])
    elif hasattr(X, "to_memory"):  # anndata's backed/lazy wrappers
        X = X.to_memory()
    if not lazy and _is_dask(X):
        raise ValueError(
            f"{source} is a dask array, and this tool needs the matrix in memory: load it first "
            f"(e.g. adata.X = adata.X.compute()). tl.lbm, tl.select_lbm and tl.cocluster with an "
            "LBM, info, modularity or double k-means method read it by row blocks instead."
        )
    named = [(adata.var_names, "adata.var_names", "call adata.var_names_make_unique()")]
    if use_raw:
        named.append((var_table.index, "adata.raw.var_names", "rebuild adata.raw from unique names"))
    for names, where, fix in named:
        if not names.is_unique:  # genes are matched by name (masks, raw, results placed over var)
            repeated = names[names.duplicated()].unique()[:3].tolist()
            raise ValueError(f"{where} are not unique (e.g. {repeated}); {fix} first.")
    mask = _resolve_mask(adata, var_table, mask_var, use_highly_variable)
    var_names = var_table.index
    if mask is not None:
        if not mask.any():
            raise ValueError("mask_var selects no gene; check the mask or pass mask_var=None.")
        X = X[:, np.flatnonzero(mask)]
        var_names = var_names[mask]
    positions = adata.var_names.get_indexer(var_names)
    params = {"use_raw": bool(use_raw), "mask_var": _describe_mask(mask_var, use_highly_variable)}
    if layer is not None:  # absent means adata.X (h5ad cannot store None)
        params["layer"] = layer
    return InputMatrix(X=X, var_names=var_names, var_positions=positions, source=source, params=params,
                       adata=adata)


def _is_dask(X):
    return type(X).__module__.split(".")[0] == "dask"


def _in_memory(X):
    return isinstance(X, np.ndarray) or sp.issparse(X) or _is_dask(X)


def lazy_matrix(elem, *, rows=None):
    """A stored matrix (h5ad or zarr element: dense, CSR or CSC) as a dask array of row blocks.

    anndata's own lazy reader (``anndata.experimental.read_elem_lazy``, or
    ``read_elem_as_dask`` before anndata 0.12) reads the blocks; sparse
    blocks stay sparse. ``rows`` per block defaults to what fits dask's
    ``array.chunk-size`` (dense: d values per row; sparse: the mean stored
    values per row, with their indices).

    Examples
    --------
    >>> import anndata as ad, h5py, numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.h5ad")
    >>> ad.AnnData(np.ones((6, 3), dtype=np.float32)).write_h5ad(path)
    >>> with h5py.File(path, "r") as f:
    ...     X = lazy_matrix(f["X"], rows=4)
    >>> X.chunks
    ((4, 2), (3,))
    """
    import dask
    from anndata import experimental

    reader = getattr(experimental, "read_elem_lazy", None) or getattr(experimental, "read_elem_as_dask", None)
    if reader is None:
        raise ImportError("reading a backed AnnData by blocks needs anndata >= 0.11; pip install -U anndata.")
    encoding = elem.attrs.get("encoding-type", "array")
    if encoding not in ("array", "csr_matrix", "csc_matrix"):
        raise ValueError(f"{elem.name} holds a {encoding!r}, not a dense or sparse matrix.")
    shape = tuple(int(v) for v in (elem.attrs["shape"] if encoding != "array" else elem.shape))
    if rows is None:
        budget = dask.utils.parse_bytes(dask.config.get("array.chunk-size"))
        if encoding == "array":
            row_bytes = shape[1] * elem.dtype.itemsize
        else:
            per_value = elem["data"].dtype.itemsize + elem["indices"].dtype.itemsize
            nnz = int(elem["indptr"][-1]) if encoding == "csr_matrix" else int(elem["data"].shape[0])
            row_bytes = max(1.0, nnz / max(shape[0], 1)) * per_value
        rows = int(max(1, min(shape[0], budget // max(row_bytes, 1))))
    if encoding == "csc_matrix":  # stored by columns: anndata reads it in column blocks
        return reader(elem, chunks=(-1, max(1, min(shape[1], 1000))))
    return reader(elem, chunks=(rows, -1))


@dataclass
class FittedMatrix:
    """The matrix a stored result was fitted on, and where its clustered genes sit in it.

    ``X`` is the stored matrix itself (every gene of its source; nothing is
    copied or sliced). ``genes`` are the positions in ``adata.var`` of the
    genes clustered in ``var[key]`` (not ``"unassigned"``), and
    ``columns[j]`` is the column of ``X`` holding gene ``genes[j]``.
    """

    X: object
    source: str
    genes: np.ndarray
    columns: np.ndarray


def get_fitted_matrix(adata, key, *, layer=None, use_raw=None):
    """The matrix that result ``key`` was fitted on (for plots and summaries).

    ``layer`` and ``use_raw`` default to those recorded in
    ``uns[key]["params"]``; pass them to read another matrix with the same
    genes. Raises ``ValueError`` when a clustered gene is missing from it.
    """
    params = adata.uns.get(key, {}).get("params", {})
    if use_raw is None:
        use_raw = bool(params.get("use_raw", False)) and layer is None
    if layer is None and not use_raw:
        layer = params.get("layer")
    if key not in adata.var.columns:
        raise KeyError(f"var[{key!r}] is absent; the result {key!r} clustered no genes, or was not written yet.")
    data = get_matrix(adata, layer=layer, use_raw=use_raw)
    genes = np.flatnonzero(adata.var[key].to_numpy() != UNASSIGNED)
    columns = data.var_names.get_indexer(adata.var_names[genes])
    if np.any(columns < 0):
        raise ValueError(
            f"{int(np.sum(columns < 0))} genes clustered in var[{key!r}] are missing from {data.source}; "
            "pass the layer/use_raw the result was fitted on."
        )
    return FittedMatrix(X=data.X, source=data.source, genes=genes, columns=columns)


def _resolve_mask(adata, var_table, mask_var, use_highly_variable):
    if use_highly_variable is not None:
        if mask_var is not None:
            raise ValueError("Pass either mask_var= or use_highly_variable=, not both.")
        if not use_highly_variable:
            return None
        mask_var = "highly_variable"
    if mask_var is None:
        return None
    n = var_table.shape[0]
    if isinstance(mask_var, str):
        if mask_var in var_table.columns:
            column = var_table[mask_var]
        elif mask_var in adata.var.columns:  # raw genes matched to adata.var by name
            column = adata.var[mask_var].reindex(var_table.index, fill_value=False)
        else:
            raise KeyError(
                f"mask_var={mask_var!r} is not a column of var (columns: {list(var_table.columns)}); "
                "run sc.pp.highly_variable_genes first or pass a boolean array."
            )
        values = column.to_numpy()
        if values.dtype != bool:
            raise TypeError(f"var[{mask_var!r}] must be boolean to serve as mask_var, got {values.dtype}.")
        return values
    values = np.asarray(mask_var)
    if values.dtype != bool or values.shape != (n,):
        raise ValueError(
            f"mask_var must be a boolean array with one entry per gene ({n}), "
            f"got dtype {values.dtype} and shape {values.shape}."
        )
    return values


def _describe_mask(mask_var, use_highly_variable):
    """A short h5ad-safe description of the gene selection, for ``params``."""
    if use_highly_variable:
        return "highly_variable"
    if mask_var is None:
        return "all"
    if isinstance(mask_var, str):
        return mask_var
    return "boolean array"


def pick_family(X):
    """LBM family for ``X``: 0/1 -> bernoulli, counts -> poisson, else gaussian.

    The estimator's ``family="auto"`` rule (:func:`coclust_deep.lbm._em.auto_family_of`);
    a dask array is read once, by row blocks (the pass is remembered for the
    fit, see :func:`coclust_deep._lazy.lazy_margins`).
    """
    from ..lbm._em import auto_family_of

    return auto_family_of(X)


def looks_like_counts(X, max_rows=200):
    """Whether a sample of ``X``'s rows holds only non-negative integers (cheap; never densifies X).

    ``max_rows`` evenly spaced rows are read (only their stored values when
    sparse), so a "yes" can miss a non-integer elsewhere; a "no" is certain.
    ``None`` for a matrix that is not in memory (dask, backed), which is not read.
    """
    if not (isinstance(X, np.ndarray) or sp.issparse(X)) or X.ndim != 2 or X.shape[0] == 0:
        return None
    rows = np.unique(np.linspace(0, X.shape[0] - 1, min(X.shape[0], max_rows)).astype(np.int64))
    block = sp.csr_matrix(X)[rows] if sp.issparse(X) else X[rows]
    values = block.data if sp.issparse(block) else np.asarray(block)
    if values.dtype.kind == "b":
        return True
    if values.dtype.kind not in "iuf":
        return False
    from ..lbm._families import auto_family

    return auto_family([values]) != "gaussian"  # the rule family="auto" applies: 0/1 or non-negative integers


def counts_layer(adata):
    """The name of an in-memory layer that holds counts ("counts" first, as scanpy's tutorials name it), or None."""
    names = sorted(adata.layers.keys(), key=lambda name: name != "counts")
    return next((name for name in names if looks_like_counts(adata.layers[name])), None)


def warn_counts_elsewhere(data, tool, chosen, *, x_is_counts=None):
    """Warn when an automatic model choice read non-count ``adata.X`` while a layer holds counts.

    The usual scanpy object has log-normalised X and raw counts in a layer;
    the count models fit those counts far better, and nothing else would
    tell the user (the choice is only logged). Only for ``data`` read from
    ``adata.X`` (no ``layer``/``use_raw`` given). ``chosen`` names what the
    automatic choice fell back to, e.g. ``"family='gaussian'"``.
    """
    if data.source != "X" or data.adata is None:
        return
    if x_is_counts is None:
        x_is_counts = looks_like_counts(data.X)
    if x_is_counts is not False:
        return
    found = counts_layer(data.adata)
    if found is None:
        return
    import warnings

    from .._logging import user_stacklevel

    warnings.warn(f"{tool}: adata.X is not counts (it has negative or non-integer values), so the automatic choice "
                  f"is {chosen}; layer {found!r} holds counts: pass layer={found!r} for the count model.",
                  UserWarning, stacklevel=user_stacklevel())


# --------------------------------------------------------------- output ----


def labels_to_categorical(labels, *, positions=None, n_total=None):
    """Cluster labels as a pandas Categorical of strings with natsorted categories.

    With ``positions``, ``labels[j]`` goes to row ``positions[j]`` of a column
    of length ``n_total`` (a negative position drops it); the other rows get
    :data:`UNASSIGNED`.
    """
    from natsort import natsorted

    strings = np.asarray(labels).astype(np.int64).astype(str)
    if positions is not None:
        full = np.full(n_total, UNASSIGNED, dtype=object)
        keep = positions >= 0
        full[positions[keep]] = strings[keep]
        strings = full
    categories = [str(c) for c in natsorted(set(strings) - {UNASSIGNED})]
    if positions is not None and np.any(strings == UNASSIGNED):
        categories.append(UNASSIGNED)
    return pd.Categorical(strings, categories=categories)


def expand_column_rows(values, var_positions, n_vars):
    """Place per-fitted-gene rows (posteriors, embeddings) into an ``(n_vars, k)`` zero array."""
    values = np.asarray(values)
    out = np.zeros((n_vars,) + values.shape[1:], dtype=values.dtype)
    keep = var_positions >= 0
    out[var_positions[keep]] = values[keep]
    return out


def h5ad_safe(value):
    """Recursively convert ``value`` into something ``write_h5ad`` stores and reads back.

    ``None`` entries are dropped from dicts, tuples/lists become numpy arrays
    (or string arrays when mixed), numpy scalars become Python scalars and
    objects that are neither become their ``repr`` string.
    """
    if isinstance(value, dict):
        return {str(k): h5ad_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, pd.DataFrame):
        return {str(c): h5ad_safe(value[c].to_numpy()) for c in value.columns}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, range):
        return np.arange(value.start, value.stop, value.step)
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return _list_to_array(list(value.ravel())).reshape(value.shape)
        return value
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, np.ndarray) for v in value):  # e.g. init=(row_labels, col_labels)
            return {str(i): h5ad_safe(v) for i, v in enumerate(value)}
        return _list_to_array(list(value))
    if hasattr(value, "get_params"):  # an estimator passed as a parameter
        return type(value).__name__
    return repr(value)


def _list_to_array(items):
    items = [v for v in items if v is not None]
    if all(isinstance(v, (bool, np.bool_)) for v in items) and items:
        return np.asarray(items, dtype=bool)
    if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in items):
        return np.asarray(items, dtype=np.float64 if any(isinstance(v, float) for v in items) else np.int64)
    return np.asarray([str(v) for v in items], dtype=str)


