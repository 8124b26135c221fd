"""Numba CPU backend: fused, parallel, cache-compiled half-steps.

Same functions as :mod:`.numpy_backend` (the reference).  ``prepare`` puts
``X`` in the layout the kernels read: a C-contiguous float32/float64 array, or
a :class:`CSR` tuple ``(indptr, indices, data, shape)`` with canonical dtypes.
Posterior arithmetic and all sums are float64 whatever the dtype of ``X``.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import NamedTuple

import numba
import numpy as np
import scipy.sparse as sp

from ._config import get_config
from .contract import GIVEN, SAMPLE, EStepResult, check_fixed, check_levels, mode_code

name = "numba"

# Rows are split into several chunks per thread, each with its own partial
# sums; CSR chunks hold equal shares of the stored values.
_CHUNKS_PER_THREAD = 8


class CSR(NamedTuple):
    """CSR arrays in the one fixed order ``(indptr, indices, data)``, plus shape."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def nnz(self):
        return int(self.indptr[-1])


class CSRT(NamedTuple):
    """The transpose of a :class:`CSR` matrix, without a copy.

    Its rows are the columns of ``base``; the column half-step reads ``base``
    row by row and scatters (see ``csr_column_sums``).
    """

    base: CSR

    @property
    def shape(self):
        return (self.base.shape[1], self.base.shape[0])

    @property
    def dtype(self):
        return self.base.data.dtype

    @property
    def nnz(self):
        return self.base.nnz


def _float_dtype(dtype):
    return dtype if dtype in (np.float32, np.float64) else np.float64


def _csr_from_scipy(X):
    X = X.tocsr()
    if not X.has_canonical_format:  # duplicates would break (x*x) T
        X = X.copy()
        X.sum_duplicates()
    # int32 unless the indices are int64 already or the offsets need it: an int64 indptr over int32
    # indices (anndata's blocks) is cast down rather than copying every index to int64
    wide = X.indices.dtype == np.int64 or (X.indptr.dtype == np.int64 and X.nnz >= np.iinfo(np.int32).max)
    index_dtype = np.int64 if wide else np.int32
    return CSR(
        np.ascontiguousarray(X.indptr, dtype=index_dtype),
        np.ascontiguousarray(X.indices, dtype=index_dtype),
        np.ascontiguousarray(X.data, dtype=_float_dtype(X.data.dtype)),
        (int(X.shape[0]), int(X.shape[1])),
    )


def prepare(X):
    """Return ``X`` in the layout the kernels read (dense C array or :class:`CSR`).

    Dense input stays float32 or float64 (other dtypes become float64); CSR
    input is summed over duplicates and gets int32 or int64 indices.
    """
    if isinstance(X, (CSR, CSRT)):
        return X
    if sp.issparse(X):
        return _csr_from_scipy(X)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got an array of shape {X.shape}.")
    return np.ascontiguousarray(X, dtype=_float_dtype(X.dtype))


def transpose(Xp):
    """What the column half-step reads: ``X.T`` for the kernels.

    Dense: a row-major copy of ``X.T`` made once per fit.  CSR: a
    :class:`CSRT` marker around the same arrays (no copy), because scattering
    over the rows of ``X`` beats gathering through a CSR copy of ``X.T``.
    """
    Xp = prepare(Xp)
    if isinstance(Xp, CSR):
        return CSRT(Xp)
    if isinstance(Xp, CSRT):
        return Xp.base
    return np.ascontiguousarray(Xp.T)


def to_scipy(Xp):
    """The scipy ``csr_matrix`` (sharing memory) or array behind a prepared ``X``."""
    if isinstance(Xp, CSR):
        return sp.csr_matrix((Xp.data, Xp.indices, Xp.indptr), shape=Xp.shape)
    if isinstance(Xp, CSRT):
        return to_scipy(Xp.base).T.tocsr()
    return Xp


def _f64(a, label, shape):
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{label} must have shape {shape}, got {a.shape}.")
    return a


def _pad_columns(T, multiple):
    """float64 C copy of ``T`` with zero columns up to a multiple of ``multiple``.

    The kernels keep four column-cluster sums in registers; padding removes
    the remainder loop and costs a few zero multiplies.
    """
    d, m = T.shape
    padded = np.zeros((d, -(-m // multiple) * multiple))
    padded[:, :m] = T
    return padded


_NO_LABELS = np.empty(0, dtype=np.int64)


def _one_hot_labels(T, allowed=True):
    """Cluster labels of the rows of a one-hot float64 ``T``; empty when ``T`` is not one-hot or not ``allowed``.

    With them the CSR kernels add each stored value once instead of
    multiplying it by every column of ``T`` (:func:`._numba_csr.one_hot_labels`).
    Kept off for the squared sums ``(X*X) T``, where fused multiply-adds would
    round ``x*x`` differently from the plain kernel.
    """
    if not allowed:
        return _NO_LABELS
    from ._numba_csr import one_hot_labels

    return one_hot_labels(T)


def _n_chunks(n, threads):
    return max(1, min(n, 1 if threads == 1 else _CHUNKS_PER_THREAD * threads))


@contextmanager
def _threads_for(n_values):
    """Below ``parallel_min_values`` (see :mod:`._config`) run on one thread; restore numba's count after."""
    before = numba.get_num_threads()
    serial = n_values < get_config()["parallel_min_values"]
    try:
        if serial:
            numba.set_num_threads(1)
        yield 1 if serial else before
    finally:
        numba.set_num_threads(before)


def _column_sums(Xp, S, with_sq, threads, n_levels=0):
    """``X^T S`` (and ``(X*X)^T S``) from the rows of ``Xp``: (d, g') arrays, g' >= g (CSR pads ``S``).

    With ``n_levels`` the one-hot sums, (d, (H-1) g), and ``V`` is a placeholder.
    """
    if isinstance(Xp, CSR):
        from ._numba_csr import csr_column_level_sums, csr_column_sums, csr_column_sums_one_hot

        if n_levels:
            U = csr_column_level_sums(Xp.indptr, Xp.indices, Xp.data, np.ascontiguousarray(S, dtype=np.float64),
                                      S.shape[1], n_levels, Xp.shape[1], threads)
            return U.sum(axis=0), np.zeros((1, 1))
        S = _pad_columns(S, 4)
        labels = _one_hot_labels(S, not with_sq)
        if labels.shape[0]:
            U = csr_column_sums_one_hot(Xp.indptr, Xp.indices, Xp.data, labels, S.shape[1], Xp.shape[1], threads)
            return U.sum(axis=0), np.zeros((1, S.shape[1]))
        U, V = csr_column_sums(Xp.indptr, Xp.indices, Xp.data, S, with_sq, Xp.shape[1], threads)
        return U.sum(axis=0), V.sum(axis=0)
    from ._numba_dense import dense_column_level_sums, dense_column_sums

    S = np.ascontiguousarray(S, dtype=np.float64)
    if n_levels:
        return dense_column_level_sums(Xp, S, n_levels, threads).sum(axis=0), np.zeros((1, 1))
    U, V = dense_column_sums(Xp, S, with_sq, threads)
    return np.ascontiguousarray(U.sum(axis=0).T), np.ascontiguousarray(V.sum(axis=0).T)


def _finish(U, V, has_B, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed, S, threads):
    from ._numba_csr import finish_rows

    return finish_rows(U, V, has_B, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed, S,
                       _n_chunks(U.shape[0], threads))


def _width(m, levels):
    """Columns of ``U = X T`` for ``m`` column clusters: ``m``, or ``(H-1) m`` with ``levels=H``; and ``H`` (0: none)."""
    n_levels = 0 if levels is None else check_levels(levels)
    return (m if levels is None else (n_levels - 1) * m), n_levels


def _step_args(n, g, width, A, B, w, z, row_weight, mode, uniforms, fixed, levels):
    """The kernels' arguments, with placeholders for absent terms, checked against (n, g, width)."""
    A = _f64(A, "A", (g, width))
    has_B = B is not None
    if has_B and levels is not None:
        raise ValueError("levels and B exclude each other: one-hot levels have no squared term")
    B = _f64(B, "B", (g, width)) if has_B else np.zeros((g, width))
    w = _f64(w, "w", (g,))
    has_z = z is not None
    if has_z != (row_weight is not None):
        raise ValueError("z and row_weight must be given together (or both left as None).")
    z = _f64(z, "z", (g,)) if has_z else np.zeros(g)
    r = _f64(row_weight, "row_weight", (n,)) if has_z else np.zeros(n)
    if mode == SAMPLE:
        if uniforms is None:
            raise ValueError("mode='sample' needs one uniform draw per row")
        uniforms = _f64(uniforms, "uniforms", (n,))
    else:
        uniforms = np.zeros(1)
    fixed = check_fixed(fixed, n, g)
    has_fixed = fixed is not None
    fixed = fixed if has_fixed else np.zeros(1, dtype=np.int64)
    return A, B, has_B, w, z, r, has_z, uniforms, fixed, has_fixed


def _n_values(Xp):
    return Xp.nnz if isinstance(Xp, (CSR, CSRT)) else Xp.shape[0] * Xp.shape[1]


def _checked_T(Xp, T, levels):
    """``(T, m, width, n_levels)`` for prepared ``Xp`` times ``T`` (d, m), the shape checked."""
    n, d = Xp.shape
    T = np.asarray(T)
    if T.ndim != 2 or T.shape[0] != d:
        raise ValueError(f"T must have shape ({d}, m) for X of shape {(n, d)}, got {T.shape}.")
    return (T, T.shape[1], *_width(T.shape[1], levels))


def _run(Xp, T, A, B, w, z, row_weight, mode, uniforms, S, fixed=None, levels=None):
    n, d = Xp.shape
    T, m, width, n_levels = _checked_T(Xp, T, levels)
    A, B, has_B, w, z, r, has_z, uniforms, fixed, has_fixed = _step_args(n, S.shape[1], width, A, B, w, z,
                                                                         row_weight, mode, uniforms, fixed, levels)
    n_values = _n_values(Xp)
    if isinstance(Xp, CSRT):
        with _threads_for(n_values) as threads:
            U, V = _column_sums(Xp.base, T, has_B, threads, n_levels)
            parts = _finish(U, V, has_B, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed, S, threads)
    elif isinstance(Xp, CSR):
        from ._numba_csr import csr_half_step

        T = _pad_columns(T, 4)
        labels = _one_hot_labels(T, not has_B and n_levels == 0)
        with _threads_for(n_values) as threads:
            parts = csr_half_step(Xp.indptr, Xp.indices, Xp.data, T, A, B, has_B, w, z, r, has_z, mode,
                                  uniforms, fixed, has_fixed, n_levels, m, S, _n_chunks(n, threads), labels)
    else:
        from ._numba_dense import dense_half_step

        # plain: T transposed and padded (contiguous rows of X); levels: T itself
        Tt = np.ascontiguousarray(_pad_columns(T, 4).T) if levels is None else _f64(T, "T", (d, m))
        with _threads_for(n_values) as threads:
            parts = dense_half_step(Xp, Tt, A, B, has_B, w, z, r, has_z, mode, uniforms, fixed, has_fixed,
                                    n_levels, S, _n_chunks(n, threads))
    SXT, SX2T, log_norm = parts
    return SXT.sum(axis=0), (SX2T.sum(axis=0) if has_B else None), float(log_norm.sum())


def row_estep(X, T, A, B, w, z=None, row_weight=None, mode=0, uniforms=None, fixed=None, levels=None):
    """One fused half-step of block EM over the rows of ``X`` (see :mod:`.contract`)."""
    Xp = prepare(X)
    mode = mode_code(mode)
    A = np.asarray(A)
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D (g, m) array, got shape {A.shape}.")
    S = np.empty((Xp.shape[0], A.shape[0]))
    SXT, SX2T, log_norm = _run(Xp, T, A, B, w, z, row_weight, mode, uniforms, S, fixed, levels)
    return EStepResult(S, SXT, SX2T, log_norm)


def block_stats(X, S, T, squared=False, levels=None):
    """``S^T X T`` (one-hot blocks with ``levels``) and, if ``squared``, ``S^T (X*X) T``."""
    Xp = prepare(X)
    S = _f64(S, "S", (Xp.shape[0], np.shape(S)[-1]))
    g = S.shape[1]
    width = np.shape(T)[1] * (1 if levels is None else check_levels(levels) - 1)
    B = np.zeros((g, width)) if squared else None
    SXT, SX2T, _ = _run(Xp, T, np.zeros((g, width)), B, np.zeros(g), None, None, GIVEN, None, S,
                        levels=levels)
    return SXT, SX2T


def column_sums(X, S, squared=False, levels=None):
    """``X^T S`` (one-hot blocks with ``levels``) and, if ``squared``, ``(X*X)^T S`` (else None), float64.

    The projections of the column half-step read from the rows of ``X``,
    without a transposed copy: rows are scattered into a (d x g) accumulator
    per thread, as the CSR column half-step does (:class:`CSRT`). Sums over
    blocks of rows add up, so the dask backend maps this over row blocks and
    finishes the column posteriors once with :func:`finish_estep`.
    """
    Xp = prepare(X)
    if isinstance(Xp, CSRT):
        raise ValueError("column_sums reads the rows of X; pass X, not its transpose.")
    S = _f64(S, "S", (Xp.shape[0], np.shape(S)[-1]))
    if levels is not None and squared:
        raise ValueError("levels and squared exclude each other: one-hot levels have no squared term")
    width, n_levels = _width(S.shape[1], levels)
    with _threads_for(_n_values(Xp)) as threads:
        U, V = _column_sums(Xp, S, squared, threads, n_levels)
    return np.ascontiguousarray(U[:, :width]), (np.ascontiguousarray(V[:, :width]) if squared else None)


def finish_estep(U, V, A, B, w, z=None, row_weight=None, mode=0, uniforms=None, fixed=None):
    """The half-step once ``U = X T`` (and ``V = (X*X) T`` when ``B`` is given) are known.

    Same result as :func:`row_estep` on the ``X`` that ``U`` came from;
    ``U`` is (n, width) with n the rows being assigned and width ``A``'s columns.
    """
    mode = mode_code(mode)
    A = np.asarray(A)
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D (g, m) array, got shape {A.shape}.")
    g, width = A.shape
    U = np.asarray(U, dtype=np.float64)
    n = U.shape[0]
    U = _f64(U, "U", (n, width))
    if (B is not None) != (V is not None):
        raise ValueError("V = (X*X) T goes with B: pass both or neither.")
    V = _f64(V, "V", (n, width)) if B is not None else np.zeros((n, 1))
    A, B, has_B, w, z, r, has_z, uniforms, fixed, has_fixed = _step_args(n, g, width, A, B, w, z, row_weight,
                                                                         mode, uniforms, fixed, None)
    S = np.empty((n, g))
    with _threads_for(n * g * width) as threads:
        SXT, SX2T, log_norm = _finish(U, V, has_B, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed, S,
                                      threads)
    return EStepResult(S, SXT.sum(axis=0), SX2T.sum(axis=0) if has_B else None, float(log_norm.sum()))


def project(X, T, levels=None):
    """``U = X T`` (one-hot blocks with ``levels``) as a float64 (n, m) array (see :mod:`.contract`)."""
    Xp = prepare(X)
    n, d = Xp.shape
    T, m, width, n_levels = _checked_T(Xp, T, levels)
    with _threads_for(_n_values(Xp)) as threads:
        if isinstance(Xp, CSRT):
            return np.ascontiguousarray(_column_sums(Xp.base, T, False, threads, n_levels)[0][:, :width])
        if isinstance(Xp, CSR):
            from ._numba_csr import csr_project

            Tk = _pad_columns(T, 4) if levels is None else _f64(T, "T", (d, m))
            return csr_project(Xp.indptr, Xp.indices, Xp.data, Tk, n_levels, m, width, _n_chunks(n, threads))
        from ._numba_dense import dense_project

        Tk = np.ascontiguousarray(_pad_columns(T, 4).T) if levels is None else _f64(T, "T", (d, m))
        return dense_project(Xp, Tk, n_levels, width, _n_chunks(n, threads))


def nb_size_terms(X, row_size, theta):
    """Per-column negative-binomial size terms and their derivatives (see :mod:`.contract`)."""
    from ._numba_nb import csr_size_terms, dense_size_terms

    Xp = prepare(X)
    if isinstance(Xp, CSRT):
        raise ValueError("nb_size_terms reads X by rows (cells x genes), not its transpose.")
    n, d = Xp.shape
    s = _f64(row_size, "row_size", (n,))
    theta = _f64(theta, "theta", (d,))
    with _threads_for(_n_values(Xp)) as threads:
        if isinstance(Xp, CSR):
            out = csr_size_terms(Xp.indptr, Xp.indices, Xp.data, s, theta, threads)
        else:
            out = dense_size_terms(Xp, s, theta, threads)
    value, first, second = out.sum(axis=0)
    return value, first, second


def to_numpy(a):
    """Results of this backend are already numpy arrays."""
    return a
