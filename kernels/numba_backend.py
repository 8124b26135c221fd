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
from .contract import GIVEN, SAMPLE, EStepResult, mode_code

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


def _column_sums(Xp, S, with_sq, threads):
    """``X^T S`` (and ``(X*X)^T S``) from the rows of ``Xp``: (d, g') arrays, g' >= g (CSR pads ``S``)."""
    if isinstance(Xp, CSR):
        from ._numba_csr import csr_column_sums

        U, V = csr_column_sums(Xp.indptr, Xp.indices, Xp.data, _pad_columns(S, 4), with_sq, Xp.shape[1],
                               threads)
        return U.sum(axis=0), V.sum(axis=0)
    from ._numba_dense import dense_column_sums

    U, V = dense_column_sums(Xp, np.ascontiguousarray(S, dtype=np.float64), with_sq, threads)
    return np.ascontiguousarray(U.sum(axis=0).T), np.ascontiguousarray(V.sum(axis=0).T)


def _finish(U, V, has_B, A, B, w, z, r, has_z, mode, uniforms, S, threads):
    from ._numba_csr import finish_rows

    return finish_rows(U, V, has_B, A, B, w, z, r, has_z, mode, uniforms, S, _n_chunks(U.shape[0], threads))


def _step_args(n, g, m, A, B, w, z, row_weight, mode, uniforms):
    """The kernels' float64 arguments, with placeholders for absent terms, checked against (n, g, m)."""
    A = _f64(A, "A", (g, m))
    has_B = B is not None
    B = _f64(B, "B", (g, m)) if has_B else np.zeros((g, m))
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
    return A, B, has_B, w, z, r, has_z, uniforms


def _run(Xp, T, A, B, w, z, row_weight, mode, uniforms, S):
    n, d = Xp.shape
    T = np.asarray(T)
    if T.ndim != 2 or T.shape[0] != d:
        raise ValueError(f"T must have shape ({d}, m) for X of shape {(n, d)}, got {T.shape}.")
    A, B, has_B, w, z, r, has_z, uniforms = _step_args(n, S.shape[1], T.shape[1], A, B, w, z, row_weight, mode,
                                                       uniforms)
    n_values = Xp.nnz if isinstance(Xp, (CSR, CSRT)) else n * d
    if isinstance(Xp, CSRT):
        with _threads_for(n_values) as threads:
            U, V = _column_sums(Xp.base, T, has_B, threads)
            parts = _finish(U, V, has_B, A, B, w, z, r, has_z, mode, uniforms, S, threads)
    elif isinstance(Xp, CSR):
        from ._numba_csr import csr_half_step

        T = _pad_columns(T, 4)
        with _threads_for(n_values) as threads:
            parts = csr_half_step(Xp.indptr, Xp.indices, Xp.data, T, A, B, has_B, w, z, r,
                                  has_z, mode, uniforms, S, _n_chunks(n, threads))
    else:
        from ._numba_dense import dense_half_step

        Tt = np.ascontiguousarray(_pad_columns(T, 4).T)
        with _threads_for(n_values) as threads:
            parts = dense_half_step(Xp, Tt, A, B, has_B, w, z, r, has_z, mode, uniforms, S,
                                    _n_chunks(n, threads))
    SXT, SX2T, log_norm = parts
    return SXT.sum(axis=0), (SX2T.sum(axis=0) if has_B else None), float(log_norm.sum())


def row_estep(X, T, A, B, w, z=None, row_weight=None, mode=0, uniforms=None):
    """One fused half-step of block EM over the rows of ``X`` (see :mod:`.contract`)."""
    Xp = prepare(X)
    mode = mode_code(mode)
    A = np.asarray(A)
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D (g, m) array, got shape {A.shape}.")
    S = np.empty((Xp.shape[0], A.shape[0]))
    SXT, SX2T, log_norm = _run(Xp, T, A, B, w, z, row_weight, mode, uniforms, S)
    return EStepResult(S, SXT, SX2T, log_norm)


def block_stats(X, S, T, squared=False):
    """``S^T X T`` and, if ``squared``, ``S^T (X*X) T`` for given posteriors."""
    Xp = prepare(X)
    S = _f64(S, "S", (Xp.shape[0], np.shape(S)[-1]))
    g = S.shape[1]
    m = np.shape(T)[1]
    B = np.zeros((g, m)) if squared else None
    SXT, SX2T, _ = _run(Xp, T, np.zeros((g, m)), B, np.zeros(g), None, None, GIVEN, None, S)
    return SXT, SX2T


def column_sums(X, S, squared=False):
    """``X^T S`` and, if ``squared``, ``(X*X)^T S`` (else None), float64 (d, g), read from the rows of ``X``.

    The projections of the column half-step without a transposed copy of
    ``X``: rows are scattered into a (d x g) accumulator per thread, as the
    CSR column half-step does (:class:`CSRT`). Sums over blocks of rows add
    up, so the dask backend maps this over row blocks and finishes the
    column posteriors once with :func:`finish_estep`.
    """
    Xp = prepare(X)
    if isinstance(Xp, CSRT):
        raise ValueError("column_sums reads the rows of X; pass X, not its transpose.")
    S = _f64(S, "S", (Xp.shape[0], np.shape(S)[-1]))
    g = S.shape[1]
    n_values = Xp.nnz if isinstance(Xp, CSR) else Xp.shape[0] * Xp.shape[1]
    with _threads_for(n_values) as threads:
        U, V = _column_sums(Xp, S, squared, threads)
    return np.ascontiguousarray(U[:, :g]), (np.ascontiguousarray(V[:, :g]) if squared else None)


def finish_estep(U, V, A, B, w, z=None, row_weight=None, mode=0, uniforms=None):
    """The half-step once ``U = X T`` (and ``V = (X*X) T`` when ``B`` is given) are known.

    Same result as :func:`row_estep` on the ``X`` that ``U`` came from;
    ``U`` is (n, m) with n the rows being assigned.
    """
    mode = mode_code(mode)
    A = np.asarray(A)
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D (g, m) array, got shape {A.shape}.")
    g, m = A.shape
    U = np.asarray(U, dtype=np.float64)
    n = U.shape[0]
    U = _f64(U, "U", (n, m))
    if (B is not None) != (V is not None):
        raise ValueError("V = (X*X) T goes with B: pass both or neither.")
    V = _f64(V, "V", (n, m)) if B is not None else np.zeros((n, 1))
    A, B, has_B, w, z, r, has_z, uniforms = _step_args(n, g, m, A, B, w, z, row_weight, mode, uniforms)
    S = np.empty((n, g))
    with _threads_for(n * g * m) as threads:
        SXT, SX2T, log_norm = _finish(U, V, has_B, A, B, w, z, r, has_z, mode, uniforms, S, threads)
    return EStepResult(S, SXT.sum(axis=0), SX2T.sum(axis=0) if has_B else None, float(log_norm.sum()))


def to_numpy(a):
    """Results of this backend are already numpy arrays."""
    return a
