"""Input checks shared by every public entry point.

Each check raises ``TypeError``/``ValueError`` naming the problem and the fix,
and never modifies the caller's data: a canonical copy is made only when the
input is not already in the layout the kernels read.
"""
from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .kernels import is_dask_array, is_gpu_array

_FLOATS = (np.float32, np.float64)


def _check_dtype(dtype, name):
    if dtype == object or dtype.kind not in "biuf":
        raise TypeError(
            f"{name} has dtype {dtype}; convert it to a numeric (int, float or bool) "
            "array first, e.g. np.asarray(X, dtype=float)."
        )


def check_matrix(X, *, name="X", allow_gpu=True):
    """Validate a 2-D data matrix and return it as float C-array or CSR matrix.

    Accepts numpy arrays, array-likes (lists, pandas DataFrames), any
    scipy.sparse matrix or array (converted to ``csr_matrix`` with sorted,
    de-duplicated indices) and, with ``allow_gpu``, cupy arrays (returned as is
    after the same checks).  float32 is kept; other numeric dtypes become
    float64.  The input is copied only when conversion is needed.
    """
    if X is None:
        raise TypeError(f"{name} is None; pass a 2-D array or sparse matrix.")
    if allow_gpu and is_gpu_array(X):
        return _check_gpu_matrix(X, name)
    if is_dask_array(X):
        return _check_dask_matrix(X, name)
    if sp.issparse(X):
        _check_dtype(X.dtype, name)
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {X.ndim}-D.")
        Xc = X.tocsr() if X.format != "csr" else X
        if not isinstance(Xc, sp.csr_matrix):
            Xc = sp.csr_matrix(Xc)
        if Xc.dtype not in _FLOATS:
            Xc = Xc.astype(np.float64)
        if not Xc.has_canonical_format:
            Xc = Xc.copy() if Xc is X else Xc
            Xc.sum_duplicates()
        _check_shape(Xc.shape, name)
        if not np.all(np.isfinite(Xc.data)):
            raise ValueError(f"{name} contains NaN or infinite values; remove or impute them first.")
        return Xc
    if hasattr(X, "dtypes") and hasattr(X, "to_numpy"):  # pandas DataFrame
        for dt in np.atleast_1d(X.dtypes):
            _check_dtype(np.dtype(dt) if not hasattr(dt, "kind") else dt, name)
        X = X.to_numpy()
    arr = np.asarray(X)
    _check_dtype(arr.dtype, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D matrix (rows x columns), got an array with {arr.ndim} "
            "dimension(s); reshape a single row with X.reshape(1, -1)."
        )
    _check_shape(arr.shape, name)
    if arr.dtype not in _FLOATS:
        arr = arr.astype(np.float64)
    arr = np.ascontiguousarray(arr)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; remove or impute them first.")
    return arr


def _check_shape(shape, name):
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {shape}); it needs at least one row and one column.")


def _check_gpu_matrix(X, name):
    import cupy as cp  # only reached for cupy input

    _check_dtype(X.dtype, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got {X.ndim}-D.")
    _check_shape(X.shape, name)
    data = X.data if hasattr(X, "format") else X
    if not bool(cp.isfinite(data).all()):
        raise ValueError(f"{name} contains NaN or infinite values; remove or impute them first.")
    if X.dtype not in _FLOATS:
        X = X.astype(cp.float64)
    return X


def _check_dask_matrix(X, name):
    """Checks on a dask array; finiteness costs one pass over the chunks."""
    _check_dtype(X.dtype, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got {X.ndim}-D.")
    _check_shape(X.shape, name)
    if X.dtype not in _FLOATS:
        X = X.astype(np.float64)
    if not bool(np.isfinite(X).all().compute()):
        raise ValueError(f"{name} contains NaN or infinite values; remove or impute them first.")
    return X


def stored_values(X):
    """The stored values of ``X`` (``data`` for sparse, everything for dense)."""
    return X.data if hasattr(X, "format") else X


def check_n_clusters(value, name, upper, upper_name):
    """An int in ``[1, upper]``; ``upper`` is the number of rows or columns."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    value = int(value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}.")
    if value > upper:
        raise ValueError(
            f"{name}={value} is more clusters than the {upper} {upper_name} of X; "
            f"choose {name} <= {upper}."
        )
    return value


def check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}.")
    return value


def check_positive_int(value, name, minimum=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")
    return int(value)


def check_nonneg_float(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def check_labels(labels, n, name):
    """A 1-D int label vector of length ``n``."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array of length {n}, got shape {arr.shape}.")
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer cluster labels, got dtype {arr.dtype}.")
    return arr.astype(np.int64)
