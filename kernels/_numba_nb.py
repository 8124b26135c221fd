"""Numba pass for the negative-binomial size terms (see ``nb_size_terms`` in :mod:`.contract`).

For each stored non-zero ``x_ij`` with ``z = theta_j s_i``: ``F = lgamma(x + z) -
lgamma(z)`` and its first two derivatives in ``z``, summed per column after
the chain rule (``s_i``, ``s_i**2``). Integer counts up to ``EXACT_MAX`` (most
UMI counts) use the exact finite sums ``sum_{v<x} log(z + v)`` (as the log of
one product), ``1/(z+v)``, ``-1/(z+v)**2``; larger or non-integer values use ``lgamma`` and the
asymptotic series of digamma and trigamma after upward recurrence.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._numba_csr import _chunk_rows

EXACT_MAX = 8
# The asymptotic series are used from this argument on (relative error < 1e-13).
_SERIES_FROM = 10.0


@njit(fastmath=True, cache=True)
def _digamma(x):
    acc = 0.0
    while x < _SERIES_FROM:
        acc -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    return acc + math.log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))))


@njit(fastmath=True, cache=True)
def _trigamma(x):
    acc = 0.0
    while x < _SERIES_FROM:
        acc += 1.0 / (x * x)
        x += 1.0
    f = 1.0 / (x * x)
    return acc + 1.0 / x + 0.5 * f + f / x * (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f / 30)))


@njit(fastmath=True, cache=True, inline="always")
def _size_term(x, z, out3):
    """``out3 = (F, dF/dz, d2F/dz2)`` for ``F(x; z) = lgamma(x + z) - lgamma(z)``, ``x > 0``, ``z > 0``."""
    if x <= EXACT_MAX and x == math.floor(x):
        prod = 1.0  # one logarithm of the product: z (z+1) ... (z+x-1) stays far from overflow for x <= 8
        f1 = f2 = 0.0
        for v in range(int(x)):
            t = z + v
            prod *= t
            inv = 1.0 / t
            f1 += inv
            f2 -= inv * inv
        f = math.log(prod)
    else:
        f = math.lgamma(x + z) - math.lgamma(z)
        f1 = _digamma(x + z) - _digamma(z)
        f2 = _trigamma(x + z) - _trigamma(z)
    out3[0] = f
    out3[1] = f1
    out3[2] = f2


@njit(parallel=True, fastmath=True, cache=True)
def csr_size_terms(indptr, indices, data, s, theta, n_parts):
    """Per-part ``(3, d)`` sums over the stored values of CSR ``X``."""
    d = theta.shape[0]
    out = np.zeros((n_parts, 3, d))
    for c in prange(n_parts):
        lo, hi = _chunk_rows(indptr, c, n_parts)
        acc = out[c]
        t3 = np.empty(3)
        for i in range(lo, hi):
            si = s[i]
            for p in range(indptr[i], indptr[i + 1]):
                x = np.float64(data[p])
                if x != 0.0:
                    j = indices[p]
                    _size_term(x, theta[j] * si, t3)
                    acc[0, j] += t3[0]
                    acc[1, j] += si * t3[1]
                    acc[2, j] += si * si * t3[2]
    return out


@njit(parallel=True, fastmath=True, cache=True)
def dense_size_terms(X, s, theta, n_parts):
    """Per-part ``(3, d)`` sums over the non-zero entries of dense ``X``."""
    n, d = X.shape
    out = np.zeros((n_parts, 3, d))
    for c in prange(n_parts):
        acc = out[c]
        t3 = np.empty(3)
        for i in range(c * n // n_parts, (c + 1) * n // n_parts):
            si = s[i]
            for j in range(d):
                x = np.float64(X[i, j])
                if x != 0.0:
                    _size_term(x, theta[j] * si, t3)
                    acc[0, j] += t3[0]
                    acc[1, j] += si * t3[1]
                    acc[2, j] += si * si * t3[2]
    return out
