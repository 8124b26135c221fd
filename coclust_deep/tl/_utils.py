"""AnnData plumbing shared by every ``coclust_deep.tl`` tool.

Reading the matrix a tool works on (``layer`` / ``use_raw`` / ``mask_var``),
writing cluster labels as natsorted string categoricals, guarding result keys
against clobbering user columns, and turning results into values that
survive ``write_h5ad`` / ``read_h5ad``.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

UNASSIGNED = "unassigned"
"""Category given in ``var[key]`` to genes left out by ``mask_var``."""

# Marker stored in ``uns[key]["params"]["tool"]``: a key whose uns entry
# carries one of these was written by coclust_deep and may be overwritten.
RESULT_TOOLS = ("lbm", "select_lbm", "cocluster", "deep_cocluster")

_DOC_INPUT = """\
layer
    Use ``adata.layers[layer]`` instead of ``adata.X``.
use_raw
    Use ``adata.raw.X`` (and the genes of ``adata.raw``) instead of ``adata.X``.
mask_var
    Genes to co-cluster: the name of a boolean column of ``var`` (for
    example ``"highly_variable"``) or a boolean array over the genes.
    ``None`` uses every gene. Genes left out get the category
    ``"unassigned"`` in ``var[key_added]``.
use_highly_variable
    Shorthand for ``mask_var="highly_variable"`` (scanpy's older spelling)."""

_DOC_OUTPUT = """\
key_added
    Name of the result: ``obs[key_added]``, ``var[key_added]``,
    ``uns[key_added]`` and the posterior keys below.
overwrite
    Allow ``key_added`` to replace an existing ``obs``/``var`` column that
    was not written by a coclust_deep tool.
copy
    Return a modified copy instead of writing into ``adata``."""


def inject_docs(**parts):
    """Fill ``{name}`` fields of a docstring once (shared parameter docs)."""

    def decorator(func):
        func.__doc__ = func.__doc__.format(**parts)
        return func

    return decorator


doc_params = inject_docs(doc_input=_DOC_INPUT, doc_output=_DOC_OUTPUT)


# ---------------------------------------------------------------- input ----


def check_adata(adata, *, allow_backed=False):
    """Raise a clear error unless ``adata`` is an in-memory AnnData."""
    from anndata import AnnData

    if not isinstance(adata, AnnData):
        raise TypeError(
            f"adata must be an AnnData object, got {type(adata).__name__}; "
            "wrap a matrix with anndata.AnnData(X)."
        )
    if adata.isbacked and not allow_backed:
        raise ValueError(
            "adata is backed (opened with backed='r'); coclust_deep tools need the matrix "
            "in memory. Load it with adata = adata.to_memory() (or read_h5ad without backed=)."
        )
    return adata


@dataclass
class InputMatrix:
    """The matrix a tool fits, and where its columns sit in ``adata.var``.

    ``X`` has the selected genes only. ``var_names`` are those genes' names.
    ``var_positions[j]`` is the position in ``adata.var`` of column ``j`` of
    ``X``, or -1 when that gene exists only in ``adata.raw``.
    """

    X: object
    var_names: pd.Index
    var_positions: np.ndarray
    source: str


def get_matrix(adata, *, layer=None, use_raw=False, mask_var=None, use_highly_variable=None):
    """The data matrix for ``adata`` with ``layer`` / ``use_raw`` / ``mask_var`` applied.

    Returns an :class:`InputMatrix`. The matrix is a view or a column subset
    of the stored one (never modified); sparse stays sparse.
    """
    check_adata(adata)
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
    if hasattr(X, "to_memory"):  # anndata's backed/lazy wrappers
        X = X.to_memory()
    mask = _resolve_mask(adata, var_table, mask_var, use_highly_variable)
    var_names = var_table.index
    if mask is not None:
        if not mask.any():
            raise ValueError("mask_var selects no gene; check the mask or pass mask_var=None.")
        X = X[:, np.flatnonzero(mask)]
        var_names = var_names[mask]
    positions = adata.var_names.get_indexer(var_names)
    return InputMatrix(X=X, var_names=var_names, var_positions=positions, source=source)


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


def mask_var_description(mask_var, use_highly_variable):
    """A short h5ad-safe description of the gene selection, for ``params``."""
    if use_highly_variable:
        return "highly_variable"
    if mask_var is None:
        return "all"
    if isinstance(mask_var, str):
        return mask_var
    return "boolean array"


def is_count_matrix(X):
    """True when every stored value is a non-negative integer."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    return bool(values.size == 0 or (values.min() >= 0 and np.all(values == np.round(values))))


def pick_family(X):
    """LBM family for ``X``: 0/1 -> bernoulli, counts -> poisson, else gaussian."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    if values.size and np.all((values == 0) | (values == 1)):
        return "bernoulli"
    if is_count_matrix(X):
        return "poisson"
    return "gaussian"


# --------------------------------------------------------------- output ----


def check_key_free(adata, key, *, overwrite=False, obsm_keys=(), varm_keys=()):
    """Raise unless writing result ``key`` would only replace earlier results.

    An existing ``obs``/``var`` column or ``obsm``/``varm`` entry counts as an
    earlier result when ``uns[key]["params"]["tool"]`` marks it as written by
    a coclust_deep tool.
    """
    if not isinstance(key, str) or not key:
        raise TypeError(f"key_added must be a non-empty string, got {key!r}.")
    if overwrite or is_result_key(adata, key):
        return
    taken = [f"obs[{key!r}]" for _ in [0] if key in adata.obs.columns]
    taken += [f"var[{key!r}]" for _ in [0] if key in adata.var.columns]
    taken += [f"uns[{key!r}]" for _ in [0] if key in adata.uns]
    taken += [f"obsm[{k!r}]" for k in obsm_keys if k in adata.obsm]
    taken += [f"varm[{k!r}]" for k in varm_keys if k in adata.varm]
    if taken:
        raise ValueError(
            f"key_added={key!r} would overwrite {', '.join(taken)}, which coclust_deep did not write; "
            "choose another key_added or pass overwrite=True."
        )


def is_result_key(adata, key):
    entry = adata.uns.get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("params"), dict):
        return False
    return entry["params"].get("tool") in RESULT_TOOLS


def labels_to_categorical(labels, index, *, positions=None, n_total=None):
    """Cluster labels as a pandas Categorical of strings with natsorted categories.

    With ``positions``, ``labels[j]`` goes to row ``positions[j]`` of a column
    of length ``n_total``; the other rows get :data:`UNASSIGNED`.
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


def write_row_labels(adata, key, labels):
    """``obs[key]`` <- row labels as a natsorted string categorical."""
    adata.obs[key] = labels_to_categorical(labels, adata.obs_names)


def write_col_labels(adata, key, labels, var_positions):
    """``var[key]`` <- column labels; genes not fitted become ``"unassigned"``."""
    adata.var[key] = labels_to_categorical(
        labels, adata.var_names, positions=var_positions, n_total=adata.n_vars
    )


def expand_col_rows(values, var_positions, n_vars):
    """Place per-fitted-gene rows (e.g. posteriors) into an ``(n_vars, k)`` zero array."""
    values = np.asarray(values)
    out = np.zeros((n_vars,) + values.shape[1:], dtype=values.dtype)
    keep = var_positions >= 0
    out[var_positions[keep]] = values[keep]
    return out


def write_labels(adata, key, *, row_labels=None, col_labels=None, var_positions=None):
    """Write ``obs[key]`` and/or ``var[key]`` as natsorted string categoricals.

    ``var_positions`` (from :func:`get_matrix`) places the fitted genes; by
    default the column labels cover every gene of ``adata.var`` in order.
    """
    if row_labels is not None:
        write_row_labels(adata, key, row_labels)
    if col_labels is not None:
        if var_positions is None:
            var_positions = np.arange(adata.n_vars)
        write_col_labels(adata, key, col_labels, var_positions)


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


def input_params(*, layer, use_raw, mask_var, use_highly_variable, random_state):
    """The AnnData-side parameters shared by every tool, h5ad-safe."""
    params = {
        "use_raw": bool(use_raw),
        "mask_var": mask_var_description(mask_var, use_highly_variable),
        "random_state": random_state if isinstance(random_state, numbers.Integral) else repr(random_state),
    }
    if layer is not None:  # absent means adata.X (h5ad cannot store None)
        params["layer"] = layer
    return params
