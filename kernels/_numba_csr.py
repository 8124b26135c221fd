"""Fused Numba half-step over the rows of a CSR ``X``.

Arguments always come in the order ``(indptr, indices, data)``.  Each stored
value is read once (per 4 column clusters); ``u = x_i T`` gathers rows of
``T`` (d x m, small enough to stay in cache) and :func:`finish_row` does the rest.
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


@njit(parallel=True, fastmath=True, cache=True)
def csr_half_step(indptr, indices, data, T, A, B, has_B, w, z, r, has_z, mode, uniforms,
                  S, n_chunks):
    """Fused half-step; returns per-chunk partial ``SXT``, ``SX2T``, ``log_norm``.

    Same contract as ``dense_half_step``.  Chunks split the rows so that each
    holds about the same number of stored values (CSR rows vary in length).
    """
    n = indptr.shape[0] - 1
    m = A.shape[1]  # T may carry zero padding columns beyond m
    g = S.shape[1]
    nnz = indptr[n]
    SXT = np.zeros((n_chunks, g, m))
    SX2T = np.zeros((n_chunks, g, m))
    log_norm = np.zeros(n_chunks)
    for c in prange(n_chunks):
        # chunk c starts at the first row whose first stored value lies at or
        # after its share c/n_chunks of nnz; chunk boundaries tile [0, n)
        if nnz > 0:
            lo = np.searchsorted(indptr[:n], (c * nnz) // n_chunks)
            hi = np.searchsorted(indptr[:n], ((c + 1) * nnz) // n_chunks)
        else:
            lo = c * n // n_chunks
            hi = (c + 1) * n // n_chunks
        if c == n_chunks - 1:
            hi = n
        u = np.empty(T.shape[1])
        v = np.zeros(T.shape[1])
        L = np.empty(g)
        sxt = SXT[c]
        sx2t = SX2T[c]
        acc = 0.0
        for i in range(lo, hi):
            _project_row(indptr, indices, data, i, T, has_B, u, v)
            acc += finish_row(i, u, v, has_B, A, B, w, z, r, has_z, mode, uniforms,
                              S, L, sxt, sx2t)
        log_norm[c] = acc
    return SXT, SX2T, log_norm
