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
    float64.  The input is copied only when conversion is needed. A dask array
    is returned lazily (cast to float64 if needed); its values are checked
    during the fit's first pass over it.
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
            # sum_duplicates sorts and merges in place, and Xc may share the caller's arrays
            # (csr_matrix of a csr_array): canonicalise a copy (rare input; one copy at most extra)
            Xc = Xc.copy()
            Xc.sum_duplicates()
        _check_shape(Xc.shape, name)
        if not np.all(np.isfinite(Xc.data)):
            raise ValueError(f"{name} contains NaN or infinite values; remove or impute them first.")
        return Xc
    if hasattr(X, "dtypes") and hasattr(X, "to_numpy"):  # pandas DataFrame
        dtypes = [np.dtype(dt) if not hasattr(dt, "kind") else dt for dt in np.atleast_1d(X.dtypes)]
        for dt in dtypes:
            _check_dtype(dt, name)
        # mixed bool/number or nullable (Int64, Float64) columns would give dtype object;
        # a missing value becomes NaN and meets the NaN check below
        float32 = all(getattr(dt, "numpy_dtype", dt) == np.float32 for dt in dtypes)  # kept, as for arrays
        X = X.to_numpy(dtype=np.float32 if float32 else np.float64, na_value=np.nan)
    try:
        arr = np.asarray(X)
    except ValueError:  # numpy: "setting an array element with a sequence ... inhomogeneous shape"
        raise ValueError(
            f"{name} could not be read as a 2-D numeric matrix: its rows have different lengths or hold "
            "sequences; give every row the same number of numbers (or pass a numpy array or scipy.sparse matrix)."
        ) from None
    _check_dtype(arr.dtype, name)
    check_rank(arr.ndim, name)
    _check_shape(arr.shape, name)
    if arr.dtype not in _FLOATS:
        arr = arr.astype(np.float64)
    arr = np.ascontiguousarray(arr)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; remove or impute them first.")
    return arr


def check_rank(ndim, name="X"):
    """Raise unless a matrix has 2 dimensions, saying how to pass one row."""
    if ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D matrix (rows x columns), got an array with {ndim} "
            "dimension(s); reshape a single row with X.reshape(1, -1)."
        )


def _check_shape(shape, name):
    # worded as scikit-learn's check_array, which its estimator checks look for
    for axis, noun in ((0, "sample(s)"), (1, "feature(s)")):
        if shape[axis] == 0:
            raise ValueError(
                f"{name} is empty: 0 {noun} (shape={tuple(shape)}) while a minimum of 1 is required; "
                "it needs at least one row and one column."
            )


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
    """Checks on a dask array that need no pass over its values.

    Its values are checked (NaN, inf, the family's support) in the fit's
    first pass over the row blocks, which names a block that fails
    (:func:`coclust_deep._lazy.lazy_margins`): reading X here would add a pass.
    """
    _check_dtype(X.dtype, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got {X.ndim}-D.")
    if any(np.isnan(size) for sizes in X.chunks for size in sizes):  # the row blocks' offsets are needed
        raise ValueError(
            f"{name} is a dask array with unknown chunk sizes (shape {X.shape}), as after boolean indexing; "
            f"compute them first: {name} = {name}.compute_chunk_sizes()."
        )
    _check_shape(X.shape, name)
    if X.dtype not in _FLOATS:
        X = X.astype(np.float64)
    return X


def stored_values(X):
    """The stored values of ``X`` (``data`` for sparse, everything for dense)."""
    return X.data if hasattr(X, "format") else X


def nonzero_entries(X):
    """``(rows, cols, values)`` of the non-zero entries of dense or sparse ``X`` (values as float64)."""
    if hasattr(X, "tocoo"):
        coo = X.tocoo()
        i, j, v = coo.row, coo.col, np.asarray(coo.data, dtype=np.float64)
    else:
        i, j = np.nonzero(X)
        v = np.asarray(X[i, j], dtype=np.float64)
    keep = v != 0
    return i[keep], j[keep], v[keep]


def check_n_clusters(value, name, upper, upper_name):
    """An int in ``[1, upper]``; ``upper`` is the number of rows or columns."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    value = int(value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}.")
    if value > upper:
        # "sample(s)"/"feature(s)": the words scikit-learn's estimator checks look for
        count = {"rows": f" ({upper} sample(s))", "columns": f" ({upper} feature(s))"}.get(upper_name, "")
        raise ValueError(
            f"{name}={value} is more clusters than the {upper} {upper_name} of X{count}; "
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


# ----------------------------------------------------------- declared parameters
# An estimator declares its constructor parameters once, as data:
#
#     _constraints = {"n_init": [Interval("int", 1)], "init": [Options(INITS), LABEL_PAIR], ...}
#
# and ``fit`` starts with ``validate_params(self)``. A value that matches no
# constraint raises TypeError when its type fits none of them (``n_init="3"``)
# and ValueError when the type fits but the value does not (``n_init=0``):
# one error type per kind of mistake (scikit-learn's InvalidParameterError is
# both at once). Checks that need the data (``n_row_clusters`` <= rows) stay
# in the estimator.


class Interval:
    """Numbers of one kind (``"int"`` or ``"real"``) between ``low`` and ``high`` (None: unbounded).

    Reals must be finite; bools are not numbers here.
    """

    def __init__(self, kind, low=None, high=None, *, closed="both"):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def type_ok(self, value):
        if isinstance(value, (bool, np.bool_)):
            return False
        return isinstance(value, numbers.Integral if self.kind == "int" else numbers.Real)

    def ok(self, value):
        if not self.type_ok(value) or not np.isfinite(value):
            return False
        low_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        high_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return low_ok and high_ok

    def __str__(self):
        noun = "an int" if self.kind == "int" else "a finite number"
        if self.low is not None and self.high is not None:
            left = "[" if self.closed in ("both", "left") else "("
            right = "]" if self.closed in ("both", "right") else ")"
            return f"{noun} in {left}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{noun} {'>=' if self.closed in ('both', 'left') else '>'} {self.low}"
        if self.high is not None:
            return f"{noun} {'<=' if self.closed in ('both', 'right') else '<'} {self.high}"
        return noun


class Options:
    """One of a set of strings; ``hints`` maps a known wrong string to a sentence."""

    def __init__(self, values, hints=None):
        self.values, self.hints = tuple(values), dict(hints or {})

    def type_ok(self, value):
        return isinstance(value, str)

    def ok(self, value):
        return isinstance(value, str) and value in self.values

    def __str__(self):
        return "one of " + ", ".join(repr(v) for v in sorted(self.values))


class InstanceOf:
    """An instance of ``types``, described as ``text``."""

    def __init__(self, types, text):
        self.types, self.text = types, text

    def type_ok(self, value):
        return isinstance(value, self.types)

    ok = type_ok

    def __str__(self):
        return self.text


class Pair:
    """A tuple or list of two values, each satisfying ``item`` (or any value when ``item`` is None)."""

    def __init__(self, item, text):
        self.item, self.text = item, text

    def type_ok(self, value):
        return (isinstance(value, (tuple, list)) and len(value) == 2
                and (self.item is None or all(self.item.type_ok(v) for v in value)))

    def ok(self, value):
        return self.type_ok(value) and (self.item is None or all(self.item.ok(v) for v in value))

    def __str__(self):
        return self.text


NONE = InstanceOf(type(None), "None")
BOOLEAN = InstanceOf((bool, np.bool_), "a bool")
RANDOM_STATE = [NONE, Interval("int", 0, 2**32 - 1), InstanceOf(np.random.RandomState, "a numpy RandomState")]
LABEL_PAIR = Pair(None, "a pair (row_labels, col_labels)")


def check_param(owner, name, value, constraints):
    """Raise TypeError/ValueError unless ``value`` satisfies one of ``constraints``."""
    if any(c.ok(value) for c in constraints):
        return value
    expected = " or ".join(str(c) for c in constraints)
    message = f"The {name!r} parameter of {owner} must be {expected}; got {value!r}"
    hints = [c.hints[value] for c in constraints if isinstance(c, Options) and isinstance(value, str)
             and value in c.hints]
    if any(c.type_ok(value) for c in constraints):
        raise ValueError(message + "." + "".join(" " + h for h in hints))
    if isinstance(value, np.random.Generator):
        raise TypeError(f"{message} (type Generator). {GENERATOR_HINT}")
    raise TypeError(f"{message} (type {type(value).__name__}).")


GENERATOR_HINT = ("np.random.Generator is not accepted anywhere in coclust_deep (scikit-learn's convention): "
                  "pass an int seed (e.g. random_state=0), None or a np.random.RandomState.")


def check_seed(random_state, owner):
    """``random_state`` (None, an int or a RandomState; TypeError otherwise) as a ``RandomState``.

    The one check of a seed outside the estimators' declared parameters
    (data generators, plots, deep models), with their message.
    """
    from sklearn.utils import check_random_state

    check_param(owner, "random_state", random_state, RANDOM_STATE)
    return check_random_state(random_state)


def validate_params(estimator):
    """Check every parameter of ``estimator`` against its class's ``_constraints``."""
    params = estimator.get_params(deep=False)
    owner = type(estimator).__name__
    for name, constraints in type(estimator)._constraints.items():
        check_param(owner, name, params[name], constraints)
