"""Fused Numba half-step over the rows of a dense C-contiguous ``X``.

Each row is read once: ``u = x_i T`` (and ``v = (x_i*x_i) T``) is formed in
registers four column clusters at a time (``T`` zero-padded to a multiple of 4), then :func:`finish_row` turns it into
the posterior and the partial sums.  ``T`` arrives transposed (``Tt``, m x d)
so the inner loop over the row is contiguous and vectorises. With categorical
levels (``n_levels > 0``) ``u`` holds the one-hot projections instead
(:func:`_project_row_levels`).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._numba_posterior import finish_row


@njit(fastmath=True, cache=True, inline="always")
def _project_row(x, Tt, with_sq, u, v):
    """``u = x Tt^T`` and, if ``with_sq``, ``v = (x*x) Tt^T`` (float64 sums).

    ``Tt`` has a multiple of 4 rows (zero-padded by the caller).
    """
    d = x.shape[0]
    for l in range(0, Tt.shape[0], 4):
        a0 = a1 = a2 = a3 = 0.0
        if with_sq:
            b0 = b1 = b2 = b3 = 0.0
            for j in range(d):
                xj = np.float64(x[j])
                xx = xj * xj
                a0 += xj * Tt[l, j]
                a1 += xj * Tt[l + 1, j]
                a2 += xj * Tt[l + 2, j]
                a3 += xj * Tt[l + 3, j]
                b0 += xx * Tt[l, j]
                b1 += xx * Tt[l + 1, j]
                b2 += xx * Tt[l + 2, j]
                b3 += xx * Tt[l + 3, j]
            v[l] = b0
            v[l + 1] = b1
            v[l + 2] = b2
            v[l + 3] = b3
        else:
            for j in range(d):
                xj = np.float64(x[j])
                a0 += xj * Tt[l, j]
                a1 += xj * Tt[l + 1, j]
                a2 += xj * Tt[l + 2, j]
                a3 += xj * Tt[l + 3, j]
        u[l] = a0
        u[l + 1] = a1
        u[l + 2] = a2
        u[l + 3] = a3


@njit(fastmath=True, cache=True, inline="always")
def _project_row_levels(x, T, n_levels, u):
    """``u[(h-1) m + l] = sum_j 1[x_j = h] T[j, l]`` for levels ``h = 1..n_levels-1``.

    ``T`` is (d, m) here (not transposed): one stored level adds one row of T.
    """
    m = T.shape[1]
    for q in range((n_levels - 1) * m):
        u[q] = 0.0
    for j in range(x.shape[0]):
        h = np.int64(x[j])
        if h > 0:
            base = (h - 1) * m
            for l in range(m):
                u[base + l] += T[j, l]


@njit(parallel=True, fastmath=True, cache=True)
def dense_half_step(X, Tt, A, B, has_B, w, z, r, has_z, mode, uniforms, fixed, has_fixed, n_levels, S,
                    n_chunks):
    """Fused half-step; returns per-chunk partial ``SXT``, ``SX2T``, ``log_norm``.

    ``S`` (n, g) is written (or, for ``mode == GIVEN``, read).  Chunk ``c``
    owns rows ``[c*n/n_chunks, (c+1)*n/n_chunks)`` and its own accumulators,
    so threads never write to shared memory. With ``n_levels > 0`` the second
    argument is ``T`` itself (d x m) and ``u`` the one-hot level projections.
    """
    n = X.shape[0]
    m = A.shape[1]  # Tt may carry zero padding rows beyond m; with levels m = (H-1) * clusters
    g = S.shape[1]
    SXT = np.zeros((n_chunks, g, m))
    SX2T = np.zeros((n_chunks, g, m))
    log_norm = np.zeros(n_chunks)
    width = max(Tt.shape[0], m)
    for c in prange(n_chunks):
        u = np.empty(width)
        v = np.zeros(width)
        L = np.empty(g)
        sxt = SXT[c]
        sx2t = SX2T[c]
        acc = 0.0
        if n_levels > 0:  # two loops: the plain one stays as tight as before levels existed
            for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
                _project_row_levels(X[i], Tt, n_levels, u)
                acc += finish_row(i, u, v, has_B, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed,
                                  S, L, sxt, sx2t)
        else:
            for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
                _project_row(X[i], Tt, has_B, u, v)
                acc += finish_row(i, u, v, has_B, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed,
                                  S, L, sxt, sx2t)
        log_norm[c] = acc
    return SXT, SX2T, log_norm


@njit(parallel=True, fastmath=True, cache=True)
def dense_column_sums(X, S, with_sq, n_parts):
    """Per-part ``(X^T S)^T`` (and ``((X*X)^T S)^T``), g x d, from the rows of dense ``X``.

    The column half-step's projections without a transposed copy of ``X``
    (the dense twin of ``csr_column_sums``): each row of ``X`` is read once
    and added, times its posteriors, into a (g x d) accumulator per part.
    Four rows go together, so each accumulator row is loaded once per four
    rows of ``X``, and the loop over the columns is contiguous (it vectorises).
    """
    n, d = X.shape
    g = S.shape[1]
    U = np.zeros((n_parts, g, d))
    V = np.zeros((n_parts, g if with_sq else 1, d))
    for c in prange(n_parts):
        Uc = U[c]
        Vc = V[c]
        lo = c * n // n_parts
        hi = (c + 1) * n // n_parts
        for i in range(lo, hi, 4):
            i1 = min(i + 1, hi - 1)
            i2 = min(i + 2, hi - 1)
            i3 = min(i + 3, hi - 1)
            x0 = X[i]
            x1 = X[i1]
            x2 = X[i2]
            x3 = X[i3]
            for k in range(g):
                # rows past the part's end repeat its last row with weight 0
                s0 = S[i, k]
                s1 = S[i1, k] if i + 1 < hi else 0.0
                s2 = S[i2, k] if i + 2 < hi else 0.0
                s3 = S[i3, k] if i + 3 < hi else 0.0
                if s0 == 0.0 and s1 == 0.0 and s2 == 0.0 and s3 == 0.0:
                    continue  # hard assignments: most posteriors are 0
                u = Uc[k]
                for j in range(d):
                    u[j] += (s0 * np.float64(x0[j]) + s1 * np.float64(x1[j])
                             + s2 * np.float64(x2[j]) + s3 * np.float64(x3[j]))
                if with_sq:
                    v = Vc[k]
                    for j in range(d):
                        a0 = np.float64(x0[j])
                        a1 = np.float64(x1[j])
                        a2 = np.float64(x2[j])
                        a3 = np.float64(x3[j])
                        v[j] += s0 * a0 * a0 + s1 * a1 * a1 + s2 * a2 * a2 + s3 * a3 * a3
    return U, V


@njit(parallel=True, fastmath=True, cache=True)
def dense_column_level_sums(X, S, n_levels, n_parts):
    """Per-part one-hot ``X^T S``: ``U[j, (h-1) g + k] = sum_i 1[x_ij = h] S[i, k]``, from the rows of dense ``X``.

    The dense twin of ``csr_column_level_sums``: level 0 is skipped, as the
    implicit zeros of a sparse ``X`` are.
    """
    n, d = X.shape
    g = S.shape[1]
    U = np.zeros((n_parts, d, (n_levels - 1) * g))
    for c in prange(n_parts):
        Uc = U[c]
        for i in range(c * n // n_parts, (c + 1) * n // n_parts):
            for j in range(d):
                h = np.int64(X[i, j])
                if h > 0:
                    base = (h - 1) * g
                    for k in range(g):
                        Uc[j, base + k] += S[i, k]
    return U


@njit(parallel=True, fastmath=True, cache=True)
def dense_project(X, Tt, n_levels, width, n_chunks):
    """``U = X T`` row by row (or the one-hot level projections), written out: (n, width)."""
    n = X.shape[0]
    U = np.empty((n, width))
    for c in prange(n_chunks):
        u = np.empty(max(Tt.shape[0], width))
        v = np.zeros(1)
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            if n_levels > 0:
                _project_row_levels(X[i], Tt, n_levels, u)
            else:
                _project_row(X[i], Tt, False, u, v)
            for q in range(width):
                U[i, q] = u[q]
    return U
