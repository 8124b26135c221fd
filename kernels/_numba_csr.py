"""Fused Numba half-step over the rows of a CSR ``X``.

Arguments always come in the order ``(indptr, indices, data)``.  Each stored
value is read once (per 4 column clusters); ``u = x_i T`` gathers rows of
``T`` (d x m, small enough to stay in cache) and :func:`finish_row` does the rest.

Hard partitions (classic co-clustering, CEM) pass a one-hot ``T``. Then
``u_il`` is the sum of the row's stored values whose column sits in cluster
``l``: with the cluster labels of the columns (:func:`one_hot_labels`) each
stored value is added once, instead of multiplied by all ``m`` columns of
``T``. The sums are taken in the order of the stored values, as
``scipy.sparse`` (the numpy reference) takes them.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._numba_posterior import finish_row


@njit(fastmath=True, cache=True, inline="always")
def _project_row(indptr, indices, data, i, T, with_sq, u, v):
    """``u = x_i T`` and, if ``with_sq``, ``v = (x_i*x_i) T`` for CSR row ``i``.

    ``T`` has a multiple of 4 columns (zero-padded by the caller), so four
    sums live in registers while the row's stored values stream past.
    """
    start = indptr[i]
    stop = indptr[i + 1]
    for l in range(0, T.shape[1], 4):
        a0 = a1 = a2 = a3 = 0.0
        if with_sq:
            b0 = b1 = b2 = b3 = 0.0
            for p in range(start, stop):
                j = indices[p]
                x = np.float64(data[p])
                xx = x * x
                a0 += x * T[j, l]
                a1 += x * T[j, l + 1]
                a2 += x * T[j, l + 2]
                a3 += x * T[j, l + 3]
                b0 += xx * T[j, l]
                b1 += xx * T[j, l + 1]
                b2 += xx * T[j, l + 2]
                b3 += xx * T[j, l + 3]
            v[l] = b0
            v[l + 1] = b1
            v[l + 2] = b2
            v[l + 3] = b3
        else:
            for p in range(start, stop):
                j = indices[p]
                x = np.float64(data[p])
                a0 += x * T[j, l]
                a1 += x * T[j, l + 1]
                a2 += x * T[j, l + 2]
                a3 += x * T[j, l + 3]
        u[l] = a0
        u[l + 1] = a1
        u[l + 2] = a2
        u[l + 3] = a3


@njit(fastmath=True, cache=True, inline="always")
def _project_row_levels(indptr, indices, data, i, T, m, n_levels, u):
    """``u[(h-1) m + l] = sum_j 1[x_ij = h] T[j, l]`` over the stored levels of row ``i``."""
    for q in range((n_levels - 1) * m):
        u[q] = 0.0
    for p in range(indptr[i], indptr[i + 1]):
        h = np.int64(data[p])
        if h > 0:
            j = indices[p]
            base = (h - 1) * m
            for l in range(m):
                u[base + l] += T[j, l]


@njit(cache=True)
def one_hot_labels(T):
    """The column of the single 1.0 in each row of ``T`` (int64), or an empty array.

    Empty when some row of ``T`` is not one-hot (soft posteriors, a row of
    zeros, a NaN): the kernels then take ``T`` itself.
    """
    d, m = T.shape
    labels = np.empty(d, dtype=np.int64)
    for j in range(d):
        nonzero = 0
        pick = 0
        for l in range(m):  # no early exit inside a row: the loop stays branch-free
            t = T[j, l]
            nonzero += t != 0.0
            if t != 0.0:
                pick = l
        if nonzero != 1 or T[j, pick] != 1.0:
            return np.empty(0, dtype=np.int64)
        labels[j] = pick
    return labels


@njit(fastmath=True, cache=True, inline="always")
def _project_row_one_hot(indptr, indices, data, i, labels, m, u):
    """``u = x_i T`` for a one-hot ``T`` given by its column ``labels``: one addition per stored value."""
    for l in range(m):
        u[l] = 0.0
    for p in range(indptr[i], indptr[i + 1]):
        u[labels[indices[p]]] += np.float64(data[p])


@njit(cache=True, inline="always")
def _chunk_rows(indptr, c, n_chunks):
    """Rows ``[lo, hi)`` of chunk ``c``: chunks hold equal shares of the stored values.

    Chunk ``c`` starts at the first row whose first stored value lies at or
    after its share ``c / n_chunks`` of nnz (equal numbers of rows when there
    are none); the chunks tile ``[0, n)``.
    """
    n = indptr.shape[0] - 1
    nnz = indptr[n]
    if nnz > 0:
        lo = np.searchsorted(indptr[:n], (c * nnz) // n_chunks)
        hi = np.searchsorted(indptr[:n], ((c + 1) * nnz) // n_chunks)
    else:
        lo = c * n // n_chunks
        hi = (c + 1) * n // n_chunks
    if c == n_chunks - 1:
        hi = n
    return lo, hi


@njit(parallel=True, fastmath=True, cache=True)
def csr_half_step(indptr, indices, data, T, A, B, has_B, w, z, r, has_z, mode, uniforms,
                  fixed, has_fixed, n_levels, n_clusters, S, n_chunks, labels):
    """Fused half-step; returns per-chunk partial ``SXT``, ``SX2T``, ``log_norm``.

    Same contract as ``dense_half_step``.  Chunks split the rows so that each
    holds about the same number of stored values (CSR rows vary in length).
    With ``n_levels > 0`` ``u`` holds the one-hot projections of the
    ``n_clusters`` (unpadded) columns of ``T``. A non-empty ``labels`` (only
    without ``B`` and levels) says that ``T`` is one-hot with these column
    labels (:func:`one_hot_labels`), and ``T`` is not read.
    """
    m = A.shape[1]  # T may carry zero padding columns beyond m; with levels m = (H-1) * n_clusters
    g = S.shape[1]
    SXT = np.zeros((n_chunks, g, m))
    SX2T = np.zeros((n_chunks, g, m))
    log_norm = np.zeros(n_chunks)
    width = max(T.shape[1], m)
    for c in prange(n_chunks):
        lo, hi = _chunk_rows(indptr, c, n_chunks)
        u = np.empty(width)
        v = np.zeros(width)
        L = np.empty(g)
        sxt = SXT[c]
        sx2t = SX2T[c]
        acc = 0.0
        if n_levels > 0:  # two loops: the plain one stays as tight as before levels existed
            for i in range(lo, hi):
                _project_row_levels(indptr, indices, data, i, T, n_clusters, n_levels, u)
                acc += finish_row(i, u, v, has_B, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed,
                                  S, L, sxt, sx2t)
        elif labels.shape[0] > 0:
            for i in range(lo, hi):
                _project_row_one_hot(indptr, indices, data, i, labels, m, u)
                acc += finish_row(i, u, v, has_B, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed,
                                  S, L, sxt, sx2t)
        else:
            for i in range(lo, hi):
                _project_row(indptr, indices, data, i, T, has_B, u, v)
                acc += finish_row(i, u, v, has_B, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed,
                                  S, L, sxt, sx2t)
        log_norm[c] = acc
    return SXT, SX2T, log_norm


@njit(parallel=True, fastmath=True, cache=True)
def csr_project(indptr, indices, data, T, n_levels, n_clusters, width, n_chunks):
    """``U = X T`` row by row (or the one-hot level projections), written out: (n, width)."""
    n = indptr.shape[0] - 1
    U = np.empty((n, width))
    for c in prange(n_chunks):
        lo, hi = _chunk_rows(indptr, c, n_chunks)
        u = np.empty(max(T.shape[1], width))
        v = np.zeros(1)
        for i in range(lo, hi):
            if n_levels > 0:
                _project_row_levels(indptr, indices, data, i, T, n_clusters, n_levels, u)
            else:
                _project_row(indptr, indices, data, i, T, False, u, v)
            for q in range(width):
                U[i, q] = u[q]
    return U


@njit(parallel=True, fastmath=True, cache=True)
def csr_column_sums(indptr, indices, data, S, with_sq, n_cols, n_parts):
    """Per-part ``X^T S`` (and ``(X*X)^T S``) by scattering the rows of CSR ``X``.

    The column half-step needs ``u_j = x_{:,j}^T S`` for every column.  Reading
    ``X`` by rows and scattering into a small (d x g) accumulator streams ``S``
    in order; gathering rows of ``S`` through a transposed copy jumps around a
    large array instead.  Each part (one per thread) owns its accumulator.
    """
    gp = S.shape[1]
    U = np.zeros((n_parts, n_cols, gp))
    V = np.zeros((n_parts, n_cols if with_sq else 1, gp))
    for c in prange(n_parts):
        lo, hi = _chunk_rows(indptr, c, n_parts)
        Uc = U[c]
        Vc = V[c]
        for i in range(lo, hi):
            start = indptr[i]
            stop = indptr[i + 1]
            for k in range(0, gp, 4):
                # S[i, k:k+4] in registers: the scatter target cannot alias them
                s0 = S[i, k]
                s1 = S[i, k + 1]
                s2 = S[i, k + 2]
                s3 = S[i, k + 3]
                for p in range(start, stop):
                    j = indices[p]
                    x = np.float64(data[p])
                    Uc[j, k] += x * s0
                    Uc[j, k + 1] += x * s1
                    Uc[j, k + 2] += x * s2
                    Uc[j, k + 3] += x * s3
                    if with_sq:
                        xx = x * x
                        Vc[j, k] += xx * s0
                        Vc[j, k + 1] += xx * s1
                        Vc[j, k + 2] += xx * s2
                        Vc[j, k + 3] += xx * s3
    return U, V


@njit(parallel=True, fastmath=True, cache=True)
def csr_column_sums_one_hot(indptr, indices, data, labels, g, n_cols, n_parts):
    """Per-part ``X^T S`` for a one-hot ``S`` given by its row ``labels``: (n_parts, d, g).

    :func:`csr_column_sums` without the multiplications by ``S``: each stored
    value is added once, into its column's entry for its row's cluster, in
    the same order (the same sums).
    """
    U = np.zeros((n_parts, n_cols, g))
    for c in prange(n_parts):
        lo, hi = _chunk_rows(indptr, c, n_parts)
        Uc = U[c]
        for i in range(lo, hi):
            k = labels[i]
            for p in range(indptr[i], indptr[i + 1]):
                Uc[indices[p], k] += np.float64(data[p])
    return U


@njit(parallel=True, fastmath=True, cache=True)
def csr_column_level_sums(indptr, indices, data, S, g, n_levels, n_cols, n_parts):
    """Per-part one-hot ``X^T S``: ``U[j, (h-1) g + k] = sum_i 1[x_ij = h] S[i, k]``, by scattering rows."""
    U = np.zeros((n_parts, n_cols, (n_levels - 1) * g))
    for c in prange(n_parts):
        lo, hi = _chunk_rows(indptr, c, n_parts)
        Uc = U[c]
        for i in range(lo, hi):
            for p in range(indptr[i], indptr[i + 1]):
                h = np.int64(data[p])
                if h > 0:
                    j = indices[p]
                    base = (h - 1) * g
                    for k in range(g):
                        Uc[j, base + k] += S[i, k]
    return U


@njit(parallel=True, fastmath=True, cache=True)
def finish_rows(U, V, has_B, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed, S, n_chunks):
    """The rest of a half-step once ``U`` (and ``V``) are known for every row.

    Used after :func:`csr_column_sums`, where ``U`` is only (d x g).
    """
    n = U.shape[0]
    m = A.shape[1]
    g = S.shape[1]
    SXT = np.zeros((n_chunks, g, m))
    SX2T = np.zeros((n_chunks, g, m))
    log_norm = np.zeros(n_chunks)
    for c in prange(n_chunks):
        L = np.empty(g)
        sxt = SXT[c]
        sx2t = SX2T[c]
        acc = 0.0
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            acc += finish_row(i, U[i], V[i] if has_B else U[i], has_B, A, B, w, z, r, has_z, mode,
                              uniforms, fixed, has_fixed, S, L, sxt, sx2t)
        log_norm[c] = acc
    return SXT, SX2T, log_norm
